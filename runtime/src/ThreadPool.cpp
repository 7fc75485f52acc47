//===- ThreadPool.cpp - The threads the compiled kernels run on -----------===//
//
// pquant-outline-parallel-loops turns each parallel loop of a kernel into a
// call of pquant_parallel_for(task, context, iterations). One process-wide
// pool serves it: the calling thread and (threads - 1) workers each run one
// contiguous range of the iterations.
//
// A decode step makes a few hundred such calls of some tens of microseconds
// each, so waking a worker through the kernel every time would cost as much
// as the work: workers spin on a generation counter for a while after each
// job and only then sleep on a condition variable. Nothing on this path
// allocates.
//
//===----------------------------------------------------------------------===//

#include "Error.h"

#include "pquant/runtime.h"

#include <atomic>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

extern "C" {
/// Called by compiled code; runs task(context, begin, end) over ranges
/// that together cover [0, iterations) exactly once.
__attribute__((visibility("default"))) void
pquant_parallel_for(void (*task)(void *, int64_t, int64_t), void *context,
                    int64_t iterations);
}

namespace {

constexpr int kMaxThreads = 256;
/// Spin iterations before a worker sleeps: about 100 µs.
constexpr int kSpinsBeforeSleep = 20000;
/// Spin iterations of a caller waiting for the workers before it yields.
constexpr int kSpinsBeforeYield = 2000;

inline void cpuRelax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

struct Pool {
  /// Held by the thread running a job: one job at a time. A second caller
  /// (another model on another thread) runs its loop on its own thread.
  pthread_mutex_t running = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_t sleep = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> sleepers{0};
  std::atomic<int> pending{0};
  bool stop = false;

  // The current job; written before `generation` is bumped.
  void (*task)(void *, int64_t, int64_t) = nullptr;
  void *context = nullptr;
  int64_t iterations = 0;
  int parts = 0;

  int threads = 0; // 0: not started
  uint64_t startGeneration = 0; // what new workers have already seen
  pthread_t workers[kMaxThreads];
  int workerIndex[kMaxThreads];
};

Pool pool;

void runPart(int part) {
  if (part >= pool.parts)
    return;
  int64_t begin = pool.iterations * part / pool.parts;
  int64_t end = pool.iterations * (part + 1) / pool.parts;
  pool.task(pool.context, begin, end);
}

void *worker(void *argument) {
  const int part = *static_cast<int *>(argument);
  uint64_t seen = pool.startGeneration;
  for (;;) {
    uint64_t now = pool.generation.load(std::memory_order_acquire);
    for (int spin = 0; now == seen && spin < kSpinsBeforeSleep; ++spin) {
      cpuRelax();
      now = pool.generation.load(std::memory_order_acquire);
    }
    if (now == seen) {
      pthread_mutex_lock(&pool.sleep);
      pool.sleepers.fetch_add(1);
      while ((now = pool.generation.load()) == seen)
        pthread_cond_wait(&pool.wake, &pool.sleep);
      pool.sleepers.fetch_sub(1);
      pthread_mutex_unlock(&pool.sleep);
    }
    seen = now;
    if (pool.stop)
      return nullptr;
    runPart(part);
    pool.pending.fetch_sub(1, std::memory_order_acq_rel);
  }
}

/// Publishes the job in `pool` (or the stop request) to every worker.
void publish() {
  pool.generation.fetch_add(1);
  if (pool.sleepers.load() > 0) {
    pthread_mutex_lock(&pool.sleep);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.sleep);
  }
}

void stopWorkers() {
  if (pool.threads <= 1) {
    pool.threads = 0;
    return;
  }
  pool.stop = true;
  publish();
  for (int i = 1; i < pool.threads; ++i)
    pthread_join(pool.workers[i], nullptr);
  pool.stop = false;
  pool.threads = 0;
}

/// $PQUANT_THREADS if it is a count in [1, kMaxThreads], else one thread
/// per online CPU.
int defaultThreads() {
  if (const char *text = getenv("PQUANT_THREADS")) {
    char *end;
    long count = strtol(text, &end, 10);
    if (*text && !*end && count >= 1 && count <= kMaxThreads)
      return int(count);
  }
  long count = sysconf(_SC_NPROCESSORS_ONLN);
  return count < 1 ? 1 : count > kMaxThreads ? kMaxThreads : int(count);
}

/// Starts `threads` - 1 workers; with `running` held. Returns how many
/// threads the pool has: fewer if the system refused to create some.
int startWorkers(int threads) {
  pool.threads = 1;
  pool.startGeneration = pool.generation.load();
  for (int i = 1; i < threads; ++i) {
    pool.workerIndex[i] = i;
    if (pthread_create(&pool.workers[i], nullptr, worker,
                       &pool.workerIndex[i]) != 0)
      break;
    pool.threads = i + 1;
  }
  return pool.threads;
}

} // namespace

void pquant_parallel_for(void (*task)(void *, int64_t, int64_t), void *context,
                         int64_t iterations) {
  if (iterations <= 0)
    return;
  if (pthread_mutex_trylock(&pool.running) != 0) {
    task(context, 0, iterations);
    return;
  }
  if (pool.threads == 0)
    startWorkers(defaultThreads());
  int parts = iterations < pool.threads ? int(iterations) : pool.threads;
  if (parts <= 1) {
    pthread_mutex_unlock(&pool.running);
    task(context, 0, iterations);
    return;
  }
  pool.task = task;
  pool.context = context;
  pool.iterations = iterations;
  pool.parts = parts;
  pool.pending.store(pool.threads - 1, std::memory_order_relaxed);
  publish();
  runPart(0);
  // A worker whose core is taken by another process finishes late: after a
  // short spin, give the core away rather than burn the time slice.
  for (int spin = 0; pool.pending.load(std::memory_order_acquire) != 0; ++spin)
    if (spin < kSpinsBeforeYield)
      cpuRelax();
    else
      sched_yield();
  pthread_mutex_unlock(&pool.running);
}

pq_status pq_set_threads(int threads) {
  if (threads < 0 || threads > kMaxThreads)
    return pq::fail(PQ_ERROR_ARGUMENT,
                    "threads: %d is not in [0, %d] (0 means the default)",
                    threads, kMaxThreads);
  int wanted = threads == 0 ? defaultThreads() : threads;
  pthread_mutex_lock(&pool.running);
  if (pool.threads != wanted) {
    stopWorkers();
    startWorkers(wanted);
  }
  int started = pool.threads;
  pthread_mutex_unlock(&pool.running);
  if (started != wanted)
    return pq::fail(PQ_ERROR_MEMORY,
                    "threads: could only start %d of %d threads", started,
                    wanted);
  return PQ_OK;
}

int pq_threads(void) {
  pthread_mutex_lock(&pool.running);
  if (pool.threads == 0)
    startWorkers(defaultThreads());
  int threads = pool.threads;
  pthread_mutex_unlock(&pool.running);
  return threads;
}
