// Timing harness for bench/bitlinear.py; not meant to be built by hand.
//
// bench/bitlinear.py generates "bitlinear_shapes.h" (the SHAPES table of
// compiled entry points), the inputs file, and links this file with the
// objects pquant-compile wrote:
//
//   clang-22 -O3 -march=native -fopenmp-simd -I WORK bitlinear_harness.c
//            WORK/*.o -o WORK/harness
//   WORK/harness WORK/inputs.bin QUICK
//
// In one process it
//   1. measures the single-core streaming read bandwidth (sum over a 1 GiB
//      buffer, best of runs at the start, between shapes and at the end) and
//      the core clock (a chain of dependent adds);
//   2. for every shape, checks the compiled BitLinear (batch 1 and 64, each
//      -strategy the driver built) and the dense f32 baselines exactly against
//      the numpy accumulators in the inputs file (q is integer, the scales are
//      1, and every partial sum is an integer below 2^24, so f32 results are
//      exact whatever the summation order), and exits with status 1 on any
//      difference;
//   3. times the compiled BitLinear and the dense f32 baselines, hot (calls
//      back to back: weights stay in the caches when they fit) and cold (the
//      caches are flushed by reading a 256 MiB buffer before each call), and
//      the time to stream the packed weight bytes from the caches;
//   4. checks the output of the last timed calls again.
// Results are printed one per line as "key=value" fields for the driver.

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DESCRIPTOR(T, R) struct { T *allocated, *aligned; int64_t offset, sizes[R], strides[R]; }
typedef DESCRIPTOR(void, 1) MemRef1D;
typedef DESCRIPTOR(void, 2) MemRef2D;
typedef void (*BitLinearFn)(MemRef2D *result, MemRef2D *q, MemRef1D *s);

// One pquant-compile -strategy=... build of a shape: `gemv` takes q as
// tensor<1xKxi8> (as the decode entry point does), `gemm` as tensor<?xKxi8>
// (as prefill does) and is called with BATCH tokens.
struct Kernel {
  const char *strategy;
  BitLinearFn gemv, gemm;
};

enum { MAX_STRATEGIES = 8 };

struct Shape {
  int64_t n, k;
  int strategies;
  struct Kernel kernels[MAX_STRATEGIES];
};

// Generated: static const struct Shape SHAPES[NUM_SHAPES]; #define BATCH.
#include "bitlinear_shapes.h"

enum { FLUSH_BYTES = 256 << 20 };

// now(), xalloc(), sink, sum_u64() and STREAM_BYTES, shared with
// stream_bandwidth.c.
#include "stream.h"

static uint64_t *flush_buffer;

static void flush_caches(void) { sink = sum_u64(flush_buffer, FLUSH_BYTES / 8); }

// ---------------------------------------------------------------------------
// Dense f32 baselines (W row-major [N][K], x row-major [M][K], y [M][N]).

// GEMV: one dot product per output row, vectorized by the compiler (the simd
// reduction pragma allows it to reassociate the sum, as -ffast-math would).
__attribute__((noinline)) static void dense_gemv(const float *restrict w, const float *restrict x,
                                                 float *restrict y, int64_t n, int64_t k) {
  for (int64_t r = 0; r < n; ++r) {
    const float *row = w + r * k;
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < k; ++i)
      acc += row[i] * x[i];
    y[r] = acc;
  }
}

// GEMM: K is cut into blocks of KC so the 64 activation rows of a block stay
// in L2; within a block, a 4 tokens x 4 rows register tile of 16 vectorized
// dot products (8 loads per 16 FMAs) walks the block.
enum { KC = 1024 };

__attribute__((noinline)) static void dense_gemm(const float *restrict w, const float *restrict x,
                                                 float *restrict y, int64_t m, int64_t n, int64_t k) {
  memset(y, 0, sizeof(float) * m * n);
  for (int64_t k0 = 0; k0 < k; k0 += KC) {
    int64_t kb = k - k0 < KC ? k - k0 : KC;
    int64_t r0 = 0;
    for (; r0 + 4 <= n; r0 += 4) {
      const float *w0 = w + (r0 + 0) * k + k0, *w1 = w + (r0 + 1) * k + k0;
      const float *w2 = w + (r0 + 2) * k + k0, *w3 = w + (r0 + 3) * k + k0;
      int64_t t0 = 0;
      for (; t0 + 4 <= m; t0 += 4) {
        const float *x0 = x + (t0 + 0) * k + k0, *x1 = x + (t0 + 1) * k + k0;
        const float *x2 = x + (t0 + 2) * k + k0, *x3 = x + (t0 + 3) * k + k0;
        float a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
        float a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
#pragma omp simd reduction(+ : a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33)
        for (int64_t i = 0; i < kb; ++i) {
          float v0 = w0[i], v1 = w1[i], v2 = w2[i], v3 = w3[i];
          float u0 = x0[i], u1 = x1[i], u2 = x2[i], u3 = x3[i];
          a00 += u0 * v0; a01 += u0 * v1; a02 += u0 * v2; a03 += u0 * v3;
          a10 += u1 * v0; a11 += u1 * v1; a12 += u1 * v2; a13 += u1 * v3;
          a20 += u2 * v0; a21 += u2 * v1; a22 += u2 * v2; a23 += u2 * v3;
          a30 += u3 * v0; a31 += u3 * v1; a32 += u3 * v2; a33 += u3 * v3;
        }
        float *y0 = y + (t0 + 0) * n + r0, *y1 = y + (t0 + 1) * n + r0;
        float *y2 = y + (t0 + 2) * n + r0, *y3 = y + (t0 + 3) * n + r0;
        y0[0] += a00; y0[1] += a01; y0[2] += a02; y0[3] += a03;
        y1[0] += a10; y1[1] += a11; y1[2] += a12; y1[3] += a13;
        y2[0] += a20; y2[1] += a21; y2[2] += a22; y2[3] += a23;
        y3[0] += a30; y3[1] += a31; y3[2] += a32; y3[3] += a33;
      }
      for (; t0 < m; ++t0) // leftover tokens
        for (int64_t r = r0; r < r0 + 4; ++r) {
          float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
          for (int64_t i = 0; i < kb; ++i)
            acc += x[t0 * k + k0 + i] * w[r * k + k0 + i];
          y[t0 * n + r] += acc;
        }
    }
    for (; r0 < n; ++r0) // leftover rows
      for (int64_t t = 0; t < m; ++t) {
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t i = 0; i < kb; ++i)
          acc += x[t * k + k0 + i] * w[r0 * k + k0 + i];
        y[t * n + r0] += acc;
      }
  }
}

// ---------------------------------------------------------------------------
// Timing.

struct Timing {
  double min_s, median_s;
  int reps;
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

enum { MAX_REPS = 4000 };

// Streaming read bandwidth: seconds per pass over the 1 GiB buffer.
static double bw_samples[64];
static int bw_count;

static void measure_bandwidth(const uint64_t *buffer, int runs) {
  for (int i = 0; i < runs && bw_count < 64; ++i) {
    double t = now();
    sink = sum_u64(buffer, STREAM_BYTES / 8);
    bw_samples[bw_count++] = now() - t;
  }
}

// Core clock: a chain of dependent integer adds retires one per cycle. The
// addend is a register: Intel's Golden Cove and later cores fold adds of an
// immediate at rename, several a cycle (this measured 15.8 GHz on one).
#define ADD4 "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
static double measure_clock_ghz(void) {
  const long iters = 10 * 1000 * 1000;
  const uint64_t one = 1;
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    uint64_t x = 0;
    double t = now();
    for (long i = 0; i < iters; ++i)
      __asm__ volatile(ADD4 ADD4 ADD4 ADD4 : "+r"(x) : "r"(one));
    t = now() - t;
    sink = x;
    best = t < best ? t : best;
  }
  return iters * 16.0 / best / 1e9;
}

// Calls run(ctx) `warmup` times, then repeats timed calls until `budget_s`
// seconds have gone by (at least min_reps, at most MAX_REPS). Cold runs flush
// the caches before every call (untimed).
static struct Timing time_calls(void (*run)(void *), void *ctx, int cold, double budget_s,
                                int min_reps) {
  static double samples[MAX_REPS];
  for (int i = 0; i < 2; ++i)
    run(ctx);
  int reps = 0;
  double start = now();
  while (reps < MAX_REPS && (reps < min_reps || now() - start < budget_s)) {
    if (cold)
      flush_caches();
    double t = now();
    run(ctx);
    samples[reps++] = now() - t;
  }
  qsort(samples, reps, sizeof(double), cmp_double);
  struct Timing r = {samples[0], samples[reps / 2], reps};
  return r;
}

struct Call {
  const struct Shape *shape;
  int64_t m;
  // BitLinear
  BitLinearFn fn;
  MemRef2D q;
  MemRef1D s;
  MemRef2D result;
  int have_result;
  // dense
  const float *w, *x;
  float *y;
  // stream
  const uint64_t *bytes;
  size_t words;
};

static void run_bitlinear(void *p) {
  struct Call *c = p;
  if (c->have_result)
    free(c->result.allocated); // the caller frees each result; keep the last for checking
  c->fn(&c->result, &c->q, &c->s);
  c->have_result = 1;
}

static void run_dense(void *p) {
  struct Call *c = p;
  if (c->m == 1)
    dense_gemv(c->w, c->x, c->y, c->shape->n, c->shape->k);
  else
    dense_gemm(c->w, c->x, c->y, c->m, c->shape->n, c->shape->k);
}

static void run_stream(void *p) {
  struct Call *c = p;
  sink = sum_u64(c->bytes, c->words);
}

static void check(const char *what, const struct Shape *sh, int64_t m, const float *got,
                  const float *expected) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < m * sh->n; ++i)
    if (got[i] != expected[i] && bad++ == 0)
      first = i;
  if (bad) {
    fprintf(stderr,
            "WRONG RESULT: %s %lldx%lld batch %lld: %lld of %lld outputs differ; first at "
            "[%lld, %lld]: got %.1f, expected %.1f\n",
            what, (long long)sh->n, (long long)sh->k, (long long)m, (long long)bad,
            (long long)(m * sh->n), (long long)(first / sh->n), (long long)(first % sh->n),
            got[first], expected[first]);
    exit(1);
  }
}

static void report(const char *kernel, const char *strategy, const char *mode,
                   const struct Shape *sh, int64_t m, struct Timing t) {
  printf("result kernel=%s strategy=%s mode=%s n=%lld k=%lld m=%lld min_us=%.3f median_us=%.3f "
         "reps=%d\n",
         kernel, strategy, mode, (long long)sh->n, (long long)sh->k, (long long)m, t.min_s * 1e6,
         t.median_s * 1e6, t.reps);
  fflush(stdout);
}

// ---------------------------------------------------------------------------

static unsigned char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  rewind(f);
  unsigned char *data = xalloc(*size);
  if (fread(data, 1, *size, f) != *size) {
    fprintf(stderr, "%s: short read\n", path);
    exit(2);
  }
  fclose(f);
  return data;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s INPUTS QUICK(0|1)\n", argv[0]);
    return 2;
  }
  int quick = atoi(argv[2]);
  double budget = quick ? 0.05 : 0.5; // seconds of timed calls per measurement
  int cold_reps = quick ? 5 : 25;

  // Inputs, per shape in SHAPES order: packed weights [N][ceil(K/8)] (u8,
  // checkpoint packing), q [BATCH][K] (i8), the expected accumulators
  // [BATCH][N] (f32); each section padded to 64 bytes.
  size_t size;
  unsigned char *inputs = read_file(argv[1], &size), *cursor = inputs;
#define TAKE(var, type, count)                                                                     \
  type *var = (type *)cursor;                                                                      \
  cursor += ((size_t)(count) * sizeof(type) + 63) / 64 * 64

  // 1. Memory bandwidth (more samples are taken between shapes and at the
  // end: the memory system is shared, so the best of all is reported) and
  // the core clock.
  uint64_t *big = xalloc(STREAM_BYTES);
  memset(big, 1, STREAM_BYTES);
  flush_buffer = big; // the first FLUSH_BYTES of it
  measure_bandwidth(big, quick ? 2 : 5);
  printf("clock ghz=%.3f\n", measure_clock_ghz());
  fflush(stdout);

  float *ones = xalloc(sizeof(float) * BATCH);
  for (int i = 0; i < BATCH; ++i)
    ones[i] = 1.0f;

  for (int si = 0; si < NUM_SHAPES; ++si) {
    const struct Shape *sh = &SHAPES[si];
    int64_t n = sh->n, k = sh->k, kb = (k + 7) / 8;
    TAKE(packed, unsigned char, n * kb);
    TAKE(q, int8_t, BATCH * k);
    TAKE(expected, float, BATCH * n);
    if ((size_t)(cursor - inputs) > size) {
      fprintf(stderr, "inputs file too short\n");
      return 2;
    }

    // Dense f32 copies of the same +-1 weights and of q.
    float *w = xalloc(sizeof(float) * n * k), *x = xalloc(sizeof(float) * BATCH * k);
    float *y = xalloc(sizeof(float) * BATCH * n);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < k; ++i)
        w[r * k + i] = (packed[r * kb + i / 8] >> (i % 8)) & 1 ? 1.0f : -1.0f;
    for (int64_t i = 0; i < BATCH * k; ++i)
      x[i] = q[i];

    int64_t batches[2] = {1, BATCH};
    for (int bi = 0; bi < 2; ++bi) {
      int64_t m = batches[bi];
      struct Call c = {.shape = sh, .m = m};
      c.q = (MemRef2D){q, q, 0, {m, k}, {k, 1}};
      c.s = (MemRef1D){ones, ones, 0, {m}, {1}};
      c.w = w, c.x = x, c.y = y;
      c.bytes = (const uint64_t *)packed;
      c.words = (size_t)n * kb / 8;
      char what[128];

      // 2. Correctness before timing.
      for (int i = 0; i < sh->strategies; ++i) {
        c.fn = m == 1 ? sh->kernels[i].gemv : sh->kernels[i].gemm;
        run_bitlinear(&c);
        snprintf(what, sizeof what, "pquant bitlinear -strategy=%s", sh->kernels[i].strategy);
        check(what, sh, m, c.result.aligned, expected);
        free(c.result.allocated);
        c.have_result = 0;
      }
      run_dense(&c);
      check("dense f32", sh, m, y, expected);

      // 3. Timing, then 4. correctness of the last timed call.
      for (int i = 0; i < sh->strategies; ++i) {
        const char *strategy = sh->kernels[i].strategy;
        c.fn = m == 1 ? sh->kernels[i].gemv : sh->kernels[i].gemm;
        report("bitlinear", strategy, "hot", sh, m, time_calls(run_bitlinear, &c, 0, budget, 5));
        report("bitlinear", strategy, "cold", sh, m,
               time_calls(run_bitlinear, &c, 1, budget, m == 1 ? cold_reps : 5));
        snprintf(what, sizeof what, "pquant bitlinear -strategy=%s (timed)", strategy);
        check(what, sh, m, c.result.aligned, expected);
        free(c.result.allocated);
        c.have_result = 0;
      }
      report("dense", "-", "hot", sh, m, time_calls(run_dense, &c, 0, budget, m == 1 ? 5 : 3));
      report("dense", "-", "cold", sh, m, time_calls(run_dense, &c, 1, budget, m == 1 ? cold_reps : 3));
      check("dense f32 (timed)", sh, m, y, expected);
      if (m == 1)
        report("stream", "-", "hot", sh, m, time_calls(run_stream, &c, 0, budget / 4, 20));
    }
    free(w);
    free(x);
    free(y);
    measure_bandwidth(big, quick ? 1 : 2);
  }
  measure_bandwidth(big, quick ? 2 : 5);
  qsort(bw_samples, bw_count, sizeof(double), cmp_double);
  printf("bandwidth bytes=%d samples=%d best_gbps=%.2f median_gbps=%.2f worst_gbps=%.2f\n", STREAM_BYTES,
         bw_count, STREAM_BYTES / bw_samples[0] / 1e9, STREAM_BYTES / bw_samples[bw_count / 2] / 1e9,
         STREAM_BYTES / bw_samples[bw_count - 1] / 1e9);
  printf("done\n");
  return 0;
}
