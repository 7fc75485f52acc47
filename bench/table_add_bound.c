// How many 512-bit "load a table entry, add it" steps one core does per
// cycle: the step the lookup GEMM repeats (a `vpaddw` of a 64-byte table
// entry covers 4 columns x 32 tokens). Prints, per cycle of a clock measured
// with a chain of dependent scalar adds:
//   * fixed L1 addresses, 4 independent accumulators and 1 (a chain);
//   * entries picked by indices loaded from memory (as a weight nibble picks
//     them), 4 accumulators, tables of 4, 16 and 32 KB (the GEMM's tables
//     for 2 words of columns are 32 KB);
//   * the other way round, tables in registers: `vpermw` picks, for 32 rows
//     (i16 lanes) at once, the entry its index lane names from a 32-entry
//     table (one token's sums of two 4-column groups), then `vpaddw`: 4 x 4
//     (row lanes, token) accumulators, indices and tables kept in registers,
//     so nothing but the two instructions. The same 128 products a step; the
//     bound a register-table GEMM could reach before it loads or prepares
//     anything.
//   clang-22 -O2 -march=native bench/table_add_bound.c -o table_add_bound
//   ./table_add_bound
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef __AVX512BW__
#error "needs AVX-512 BW (compile with -march=native on such a CPU)"
#endif

enum { STEPS = 1 << 28, INDICES = 4096, TABLE_BYTES = 32 * 1024 };

static _Alignas(64) char table[TABLE_BYTES];
static uint32_t indices[INDICES];

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Cycles per second: 4 dependent adds per iteration, one per cycle (of a
// register: Golden Cove and later fold adds of an immediate at rename).
static double clock_hz(void) {
  long count = 1L << 30, x = 0, one = 1;
  double start = seconds();
  __asm__ volatile("1: add %2, %0\n add %2, %0\n add %2, %0\n add %2, %0\n"
                   "sub $4, %1\n jnz 1b"
                   : "+r"(x), "+r"(count)
                   : "r"(one));
  return (1L << 30) / (seconds() - start);
}

static int sink;

static void keep(__m512i a) { sink += _mm512_reduce_add_epi32(a); }

// Fixed addresses 64 bytes apart, 4 independent accumulators or 1 chain
// (assembly, so the compiler cannot fold the repeated loads).
#define STEP(acc, offset)                                                      \
  "vpaddw " #offset "(%[base]), %[" acc "], %[" acc "]\n"
static double fixed_steps(int chains) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  double start = seconds();
  for (long i = 0; i < STEPS; i += 8) {
    if (chains == 4)
      __asm__(STEP("a0", 0) STEP("a1", 64) STEP("a2", 128) STEP("a3", 192)
                  STEP("a0", 256) STEP("a1", 320) STEP("a2", 384)
                      STEP("a3", 448)
              : [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3)
              : [base] "r"(table)
              : "memory");
    else
      __asm__(STEP("a0", 0) STEP("a0", 64) STEP("a0", 128) STEP("a0", 192)
                  STEP("a0", 256) STEP("a0", 320) STEP("a0", 384)
                      STEP("a0", 448)
              : [a0] "+v"(a0)
              : [base] "r"(table)
              : "memory");
  }
  double elapsed = seconds() - start;
  keep(_mm512_add_epi16(_mm512_add_epi16(a0, a1), _mm512_add_epi16(a2, a3)));
  return STEPS / elapsed;
}

// Entries picked by loaded indices in a table of `bytes`, 4 accumulators.
static double indexed_steps(int bytes) {
  srand(1);
  for (int i = 0; i < INDICES; ++i)
    indices[i] = (uint32_t)(rand() % (bytes / 64)) * 64;
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  double start = seconds();
  for (long i = 0; i < STEPS; i += INDICES) {
    const char *base = table;
    __asm__("" : "+r"(base));
    for (int j = 0; j < INDICES; j += 4) {
      a0 = _mm512_add_epi16(a0, _mm512_load_si512(base + indices[j]));
      a1 = _mm512_add_epi16(a1, _mm512_load_si512(base + indices[j + 1]));
      a2 = _mm512_add_epi16(a2, _mm512_load_si512(base + indices[j + 2]));
      a3 = _mm512_add_epi16(a3, _mm512_load_si512(base + indices[j + 3]));
    }
  }
  double elapsed = seconds() - start;
  keep(_mm512_add_epi16(_mm512_add_epi16(a0, a1), _mm512_add_epi16(a2, a3)));
  return STEPS / elapsed;
}

// vpermw + vpaddw steps, 4 row vectors x 4 token tables, all in registers.
static double register_steps(void) {
  __m512i index[4], tables[4], acc[16];
  for (int i = 0; i < 4; ++i) {
    index[i] = _mm512_set1_epi16((short)(5 * i + 1));
    tables[i] = _mm512_set1_epi16((short)(3 * i));
  }
  for (int i = 0; i < 16; ++i)
    acc[i] = _mm512_setzero_si512();
  const long rounds = STEPS / 16;
  double start = seconds();
  for (long n = 0; n < rounds; ++n) {
    // Opaque to the compiler each round, so nothing is hoisted or folded.
    __asm__("" : "+v"(index[0]), "+v"(index[1]), "+v"(index[2]), "+v"(index[3]),
                 "+v"(tables[0]), "+v"(tables[1]), "+v"(tables[2]), "+v"(tables[3]));
    for (int r = 0; r < 4; ++r)
      for (int t = 0; t < 4; ++t)
        acc[4 * r + t] = _mm512_add_epi16(
            acc[4 * r + t], _mm512_permutexvar_epi16(index[r], tables[t]));
  }
  double elapsed = seconds() - start;
  for (int i = 0; i < 16; ++i)
    keep(acc[i]);
  return rounds * 16 / elapsed;
}

int main(void) {
  for (int i = 0; i < TABLE_BYTES; ++i)
    table[i] = (char)i;
  double hz = clock_hz();
  printf("clock: %.2f GHz\n", hz * 1e-9);
  printf("fixed addresses, 4 accumulators: %.2f steps/cycle\n",
         fixed_steps(4) / hz);
  printf("fixed addresses, 1 accumulator:  %.2f steps/cycle\n",
         fixed_steps(1) / hz);
  for (int kb = 4; kb <= 32; kb *= 2)
    if (kb != 8)
      printf("loaded indices, %2d KB table:     %.2f steps/cycle\n", kb,
             indexed_steps(kb * 1024) / hz);
  printf("tables in registers (vpermw):    %.2f steps/cycle\n",
         register_steps() / hz);
  return sink == 42; // keeps the sums alive
}
