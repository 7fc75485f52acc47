// Prints this machine's single-core streaming read bandwidth: the best of
// RUNS passes of a vectorized sum over 1 GiB, in GB/s.
//   clang-22 -O3 -march=native bench/stream_bandwidth.c -o bw && ./bw [RUNS]
#include <string.h>

#include "stream.h"

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 10;
  uint64_t *buffer = xalloc(STREAM_BYTES);
  memset(buffer, 1, STREAM_BYTES);
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    double t = now();
    sink = sum_u64(buffer, STREAM_BYTES / 8);
    t = now() - t;
    best = t < best ? t : best;
  }
  printf("%.2f\n", STREAM_BYTES / best / 1e9);
  return 0;
}
