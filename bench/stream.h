// Timing and streaming-read helpers shared by the benchmark programs in
// bench/: the memory bandwidth every benchmark compares with is measured the
// same way everywhere, as the speed of a vectorized sum over a buffer much
// larger than the caches.
#ifndef PQUANT_BENCH_STREAM_H
#define PQUANT_BENCH_STREAM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { STREAM_BYTES = 1 << 30 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *xalloc(size_t bytes) {
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) {
    fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
    exit(2);
  }
  return p;
}

static volatile uint64_t sink;

// Streaming read: a sum the compiler vectorizes (integer adds reassociate).
__attribute__((noinline)) static uint64_t sum_u64(const uint64_t *p, size_t count) {
  uint64_t s = 0;
  for (size_t i = 0; i < count; ++i)
    s += p[i];
  return s;
}

#endif
