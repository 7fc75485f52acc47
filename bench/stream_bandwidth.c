// Prints this machine's streaming read bandwidth on THREADS threads (default
// 1): the best of RUNS passes of a vectorized sum over 1 GiB, the threads
// each summing one contiguous part, in GB/s.
//   clang-22 -O3 -march=native -pthread bench/stream_bandwidth.c -o bw
//   ./bw [RUNS] [THREADS]
#include <pthread.h>
#include <string.h>

#include "stream.h"

enum { MAX_THREADS = 64 };

struct part {
  const uint64_t *words;
  size_t count;
  uint64_t sum;
};

static void *sum_part(void *argument) {
  struct part *part = argument;
  part->sum = sum_u64(part->words, part->count);
  return NULL;
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 10;
  int threads = argc > 2 ? atoi(argv[2]) : 1;
  if (runs < 1 || threads < 1 || threads > MAX_THREADS) {
    fprintf(stderr, "usage: bw [RUNS >= 1] [THREADS in 1..%d]\n", MAX_THREADS);
    return 1;
  }
  uint64_t *buffer = xalloc(STREAM_BYTES);
  memset(buffer, 1, STREAM_BYTES);
  size_t words = STREAM_BYTES / 8;
  struct part parts[MAX_THREADS];
  pthread_t ids[MAX_THREADS];
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    double t = now();
    for (int p = 0; p < threads; ++p) {
      parts[p].words = buffer + words * p / threads;
      parts[p].count = words * (p + 1) / threads - words * p / threads;
      if (p > 0)
        pthread_create(&ids[p], NULL, sum_part, &parts[p]);
    }
    sum_part(&parts[0]);
    uint64_t total = parts[0].sum;
    for (int p = 1; p < threads; ++p) {
      pthread_join(ids[p], NULL);
      total += parts[p].sum;
    }
    sink = total;
    t = now() - t;
    best = t < best ? t : best;
  }
  printf("%.2f\n", STREAM_BYTES / best / 1e9);
  return 0;
}
