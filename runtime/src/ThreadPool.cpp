//===- ThreadPool.cpp - The threads the compiled kernels run on -----------===//
//
// pquant-outline-parallel-loops turns each parallel loop of a kernel into a
// call of pquant_parallel_for(task, context, iterations). One process-wide
// pool serves it: the calling thread and (threads - 1) workers claim ranges
// of iterations until none is left, each claim a share of what remains
// (large first, small at the end, so the threads finish together). A worker
// that the system has not scheduled yet simply finds nothing to claim, so a
// busy machine slows a loop down instead of stalling it.
//
// A decode step makes a few hundred such calls of some tens of microseconds
// each, so waking a worker through the kernel every time would cost as much
// as the work: workers spin on the job state for a while after each job and
// only then sleep on a condition variable. Nothing on this path allocates.
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
/// A claim takes 1/(kClaimShare · threads) of the iterations left, and at
/// least 1/(kMinClaimShare · threads) of all: the last claims are small
/// enough for the threads to finish within a few iterations of each other,
/// the first large enough that claiming costs little.
constexpr int64_t kClaimShare = 2, kMinClaimShare = 16;
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

/// The job state is one word: the job's generation in the high half, the
/// next iteration to claim in the low half. kClosed there means the job is
/// being set up (nothing can be claimed).
constexpr uint64_t kClosed = 0xffffffffu;
inline uint32_t generationOf(uint64_t state) { return uint32_t(state >> 32); }
inline uint32_t nextOf(uint64_t state) { return uint32_t(state); }
inline uint64_t stateOf(uint32_t generation, uint64_t next) {
  return uint64_t(generation) << 32 | next;
}

struct Pool {
  /// Held by the thread running a job: one job at a time. A second caller
  /// (another model on another thread) runs its loop on its own thread.
  pthread_mutex_t running = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_t sleep = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
  std::atomic<uint64_t> state{stateOf(0, kClosed)};
  std::atomic<int64_t> completed{0}; // iterations of the current job run
  std::atomic<int> sleepers{0};
  bool stop = false;

  // The current job: written while the state is closed. The task and its
  // context are read only after claiming a range of it; the sizes are read
  // to compute a claim, possibly while the next job is being set up (the
  // claim then fails), so they are atomic.
  void (*task)(void *, int64_t, int64_t) = nullptr;
  void *context = nullptr;
  std::atomic<int64_t> iterations{0}, minClaim{1}, claimDivisor{1};

  int threads = 0; // 0: not started
  pthread_t workers[kMaxThreads];
};

Pool pool;

/// Claims and runs ranges of job `generation` until none is left.
void runClaims(uint32_t generation) {
  uint64_t state = pool.state.load(std::memory_order_acquire);
  for (;;) {
    if (generationOf(state) != generation || nextOf(state) == kClosed)
      return;
    // The fields read here may belong to a newer job; the exchange below
    // then fails, since the state has changed, and nothing runs.
    int64_t begin = nextOf(state),
            left = pool.iterations.load(std::memory_order_relaxed) - begin;
    if (left <= 0)
      return;
    int64_t count = left / pool.claimDivisor.load(std::memory_order_relaxed);
    int64_t least = pool.minClaim.load(std::memory_order_relaxed);
    if (count < least)
      count = least;
    if (count > left)
      count = left;
    if (!pool.state.compare_exchange_weak(state, state + uint64_t(count),
                                          std::memory_order_acq_rel))
      continue;
    pool.task(pool.context, begin, begin + count);
    pool.completed.fetch_add(count, std::memory_order_acq_rel);
    state = pool.state.load(std::memory_order_acquire);
  }
}

/// Whether `state` is an open job newer than generation `seen`.
bool newJob(uint64_t state, uint32_t seen) {
  return generationOf(state) != seen && nextOf(state) != kClosed;
}

/// `start` is the generation when the worker was created: a worker that
/// starts running only after the next job (or the stop request) was
/// published must still see it as new.
void *worker(void *start) {
  uint32_t seen = uint32_t(reinterpret_cast<uintptr_t>(start));
  for (;;) {
    uint64_t state = pool.state.load(std::memory_order_acquire);
    for (int spin = 0; !newJob(state, seen) && spin < kSpinsBeforeSleep;
         ++spin) {
      cpuRelax();
      state = pool.state.load(std::memory_order_acquire);
    }
    if (!newJob(state, seen)) {
      pthread_mutex_lock(&pool.sleep);
      pool.sleepers.fetch_add(1);
      while (!newJob(state = pool.state.load(), seen))
        pthread_cond_wait(&pool.wake, &pool.sleep);
      pool.sleepers.fetch_sub(1);
      pthread_mutex_unlock(&pool.sleep);
    }
    seen = generationOf(state);
    if (pool.stop)
      return nullptr;
    runClaims(seen);
  }
}

/// Opens a new job (its fields already written) to every worker; returns
/// its generation.
uint32_t publish() {
  uint32_t generation = generationOf(pool.state.load()) + 1;
  pool.state.store(stateOf(generation, 0));
  if (pool.sleepers.load() > 0) {
    pthread_mutex_lock(&pool.sleep);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.sleep);
  }
  return generation;
}

/// Closes the state so the job fields can be rewritten.
void closeJob() {
  pool.state.store(stateOf(generationOf(pool.state.load()), kClosed));
}

void stopWorkers() {
  if (pool.threads > 1) {
    closeJob();
    pool.stop = true;
    pool.iterations = 0;
    publish();
    for (int i = 1; i < pool.threads; ++i)
      pthread_join(pool.workers[i], nullptr);
    pool.stop = false;
  }
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
  void *start =
      reinterpret_cast<void *>(uintptr_t(generationOf(pool.state.load())));
  for (int i = 1; i < threads; ++i) {
    if (pthread_create(&pool.workers[i], nullptr, worker, start) != 0)
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
  // The next iteration must fit below kClosed in the state word.
  if (pool.threads == 1 || iterations == 1 || iterations >= int64_t(kClosed)) {
    pthread_mutex_unlock(&pool.running);
    task(context, 0, iterations);
    return;
  }
  closeJob();
  pool.task = task;
  pool.context = context;
  pool.iterations = iterations;
  pool.claimDivisor = kClaimShare * pool.threads;
  int64_t least = iterations / (kMinClaimShare * pool.threads);
  pool.minClaim = least < 1 ? 1 : least;
  pool.completed.store(0, std::memory_order_relaxed);
  runClaims(publish());
  // A worker may still run a range it claimed. After a short spin, give the
  // core away rather than burn the time slice, in case the system has
  // taken the worker's core for something else.
  for (int spin = 0;
       pool.completed.load(std::memory_order_acquire) != iterations; ++spin)
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
