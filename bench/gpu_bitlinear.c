/* BitLinear GEMV (batch 1) on the GPU: effective bandwidth of the kernels
 * pquant generates, against the device-to-device copy bandwidth measured in
 * the same run.
 *
 * For each shape N x K: the packed weights (N x K bits in pquant's GPU
 * layout) are replicated into enough copies to overflow the L2 cache and
 * the compiled layer runs once per copy, from a CUDA graph. The layer is two
 * kernels, one that lays out the int8 activations for BitLinear (in a model
 * the quantize kernel does it) and the GEMV; the GEMV's time is that of a
 * graph of the GEMVs alone, back to back (the layout kernel's launches
 * dropped, pq_gpu_skip_kernel), and effective bandwidth = (weight bytes +
 * activations + outputs) / GEMV time. Also the GEMVs with one copy (weights
 * resident in L2) and the whole layer. Before timing, one layer's outputs are
 * checked exactly against a plain C computation, and the GEMVs' outputs after
 * timing against those.
 *
 * Built by bench/gpu_bitlinear.py; run it on the GPU machine.
 */

#include "CudaSession.h"
#include "gpu_bitlinear_shapes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != PQ_OK) {                                                     \
      fprintf(stderr, "gpu_bitlinear: %s: %s\n", #call, pq_last_error());     \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

typedef void (*Gemv)(void *, int64_t, const uint64_t *);
struct Shape {
  int64_t n, k;
  Gemv gemv;
};

static uint64_t state = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

static double copyBandwidth(pq_gpu *gpu) {
  const size_t bytes = (size_t)1 << 30;
  uint64_t a, b;
  CHECK(pq_gpu_alloc(gpu, bytes, &a));
  CHECK(pq_gpu_alloc(gpu, bytes, &b));
  for (int i = 0; i < 3; ++i)
    CHECK(pq_gpu_copy(gpu, b, a, bytes));
  const int reps = 20;
  CHECK(pq_gpu_record(gpu, 0));
  for (int i = 0; i < reps; ++i)
    CHECK(pq_gpu_copy(gpu, i % 2 ? a : b, i % 2 ? b : a, bytes));
  CHECK(pq_gpu_record(gpu, 1));
  float ms;
  CHECK(pq_gpu_elapsed(gpu, 0, 1, &ms));
  pq_gpu_free(gpu, a);
  pq_gpu_free(gpu, b);
  return 2.0 * bytes * reps / (ms * 1e-3); /* read + write */
}

int main(void) {
  pq_gpu *gpu;
  CHECK(pq_gpu_open(pquant_gpu_ptx, pquant_gpu_chip, pquant_gpu_kernel_names,
                    pquant_gpu_kernel_count, &gpu));
  printf("device: %s\n", pq_gpu_name(gpu));
  double copy = copyBandwidth(gpu);
  printf("device-to-device copy: %.0f GB/s (bytes read + written)\n", copy / 1e9);
  printf("%-12s %10s %10s %10s %8s %12s %12s\n", "N x K", "bytes", "GEMV us", "GB/s",
         "of copy", "L2-hot us", "layer us");
  const struct Shape shapes[] = {PQ_BENCH_SHAPES};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
    const int64_t n = shapes[s].n, k = shapes[s].k;
    const int64_t groups = ((k + 31) / 32 + 3) / 4, tiles = (n + 7) / 8;
    const size_t wordsCount = (size_t)tiles * groups * 32;
    const size_t weightBytes = wordsCount * 4;
    uint32_t *words = malloc(weightBytes);
    int8_t *q = malloc(k);
    for (size_t i = 0; i < wordsCount; ++i)
      words[i] = (uint32_t)next();
    /* padding bits past K and rows past N are clear */
    for (int64_t t = 0; t < tiles; ++t)
      for (int64_t g = 0; g < groups; ++g)
        for (int r = 0; r < 8; ++r)
          for (int w = 0; w < 4; ++w) {
            int64_t col = (g * 4 + w) * 32, row = t * 8 + r;
            uint32_t *word = &words[((t * groups + g) * 8 + r) * 4 + w];
            if (row >= n || col >= k)
              *word = 0;
            else if (k - col < 32)
              *word &= (1u << (k - col)) - 1;
          }
    for (int64_t i = 0; i < k; ++i)
      q[i] = (int8_t)((int)(next() % 255) - 127);
    const float xs = 0.0078125f, ws = 0.5f;
    const int copies = (int)(512e6 / weightBytes) + 2;
    uint64_t *w = malloc(sizeof(uint64_t) * copies);
    uint64_t dq, ds, dws, dy;
    CHECK(pq_gpu_alloc(gpu, k, &dq));
    CHECK(pq_gpu_upload(gpu, dq, q, k));
    CHECK(pq_gpu_alloc(gpu, 4, &ds));
    CHECK(pq_gpu_upload(gpu, ds, &xs, 4));
    CHECK(pq_gpu_alloc(gpu, 4, &dws));
    CHECK(pq_gpu_upload(gpu, dws, &ws, 4));
    CHECK(pq_gpu_alloc(gpu, 4 * n, &dy));
    for (int c = 0; c < copies; ++c) {
      CHECK(pq_gpu_alloc(gpu, weightBytes, &w[c]));
      CHECK(pq_gpu_upload(gpu, w[c], words, weightBytes));
    }
    /* Exact check of one GEMV. */
    uint64_t buffers[5] = {dq, ds, w[0], dws, dy};
    shapes[s].gemv(pq_gpu_context(gpu), 1, buffers);
    float *y = malloc(4 * n);
    CHECK(pq_gpu_download(gpu, y, dy, 4 * n));
    int64_t wrong = 0;
    for (int64_t row = 0; row < n; ++row) {
      int64_t acc = 0;
      for (int64_t col = 0; col < k; ++col) {
        int64_t g = col / 128, wi = (col % 128) / 32;
        uint32_t word = words[(((row / 8) * groups + g) * 8 + row % 8) * 4 + wi];
        acc += ((word >> (col % 32)) & 1) ? q[col] : -q[col];
      }
      float want = (float)acc * ws * xs;
      wrong += y[row] != want;
    }
    if (wrong) {
      fprintf(stderr, "gpu_bitlinear: %lld x %lld: %lld of %lld outputs WRONG\n",
              (long long)n, (long long)k, (long long)wrong, (long long)n);
      return 1;
    }
    double bytes = (double)weightBytes + k + 4.0 * n + 8;
    /* The GEMV alone: the activations stay laid out by the check above and
     * the kernel that lays them out is dropped from the captures. */
    char prepareName[64];
    snprintf(prepareName, sizeof prepareName, "bitlinear_prepare_%lld", (long long)k);
    /* Seconds per call of: the GEMV with weights cold, with weights in L2,
     * the layer (layout + GEMV) with weights cold; graphs replayed 20 times. */
    double perCall[3];
    for (int variant = 0; variant < 3; ++variant) {
      int hot = variant == 1, layer = variant == 2;
      CHECK(pq_gpu_skip_kernel(gpu, layer ? NULL : prepareName));
      CHECK(pq_gpu_capture_begin(gpu));
      for (int c = 0; c < copies; ++c) {
        uint64_t b[5] = {dq, ds, w[hot ? 0 : c], dws, dy};
        shapes[s].gemv(pq_gpu_context(gpu), 1, b);
      }
      CHECK(pq_gpu_capture_end(gpu, variant));
      for (int i = 0; i < 3; ++i)
        CHECK(pq_gpu_replay(gpu, variant));
      const int reps = 20;
      CHECK(pq_gpu_record(gpu, 2));
      for (int i = 0; i < reps; ++i)
        CHECK(pq_gpu_replay(gpu, variant));
      CHECK(pq_gpu_record(gpu, 3));
      float ms;
      CHECK(pq_gpu_elapsed(gpu, 2, 3, &ms));
      perCall[variant] = ms * 1e-3 / ((double)reps * copies);
    }
    CHECK(pq_gpu_skip_kernel(gpu, NULL));
    /* The GEMV alone must still compute the same outputs. */
    float *again = malloc(4 * n);
    CHECK(pq_gpu_download(gpu, again, dy, 4 * n));
    if (memcmp(again, y, 4 * n) != 0) {
      fprintf(stderr, "gpu_bitlinear: %lld x %lld: the GEMV alone computed other outputs\n",
              (long long)n, (long long)k);
      return 1;
    }
    free(again);
    char name[32];
    snprintf(name, sizeof name, "%lldx%lld", (long long)n, (long long)k);
    printf("%-12s %10.0f %10.2f %10.0f %7.0f%% %12.2f %12.2f\n", name, bytes, perCall[0] * 1e6,
           bytes / perCall[0] / 1e9, 100.0 * bytes / perCall[0] / copy, perCall[1] * 1e6,
           perCall[2] * 1e6);
    for (int c = 0; c < copies; ++c)
      pq_gpu_free(gpu, w[c]);
    pq_gpu_free(gpu, dq);
    pq_gpu_free(gpu, ds);
    pq_gpu_free(gpu, dws);
    pq_gpu_free(gpu, dy);
    free(w);
    free(words);
    free(q);
    free(y);
  }
  pq_gpu_close(gpu);
  return 0;
}
