/*===- DataChecksum.h - The checksum of a .pqw data section -----*- C -*-===*
 *
 * `data_checksum` of format version 2: the data section read as 64-bit
 * little-endian words (the last one zero-padded), word i folded into lane
 * i mod 8 by FNV-1a over words, then FNV-1a 64 over the eight lanes' bytes
 * and the section's size in bytes (all little-endian). The eight multiply
 * chains are independent, so verifying runs at memory speed; FNV-1a over
 * single bytes (version 1) is one serial chain, about 1 GB/s.
 *
 * C, header-only: the compiler, the runtime, the fuzzers and tools written
 * in C all include it.
 *
 *===---------------------------------------------------------------------===*/

#ifndef PQUANT_ARTIFACT_DATACHECKSUM_H
#define PQUANT_ARTIFACT_DATACHECKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PQ_CHECKSUM_LANES 8
#define PQ_FNV_BASIS 14695981039346656037ull
#define PQ_FNV_PRIME 1099511628211ull

typedef struct pq_data_checksum {
  uint64_t lanes[PQ_CHECKSUM_LANES];
  uint64_t size;      /* bytes added so far */
  uint8_t partial[8]; /* the bytes of a word not yet complete */
} pq_data_checksum;

static inline void pq_data_checksum_init(pq_data_checksum *c) {
  for (int i = 0; i < PQ_CHECKSUM_LANES; ++i)
    c->lanes[i] = PQ_FNV_BASIS;
  c->size = 0;
}

static inline uint64_t pq_checksum_word(const uint8_t *bytes) {
  uint64_t word;
  memcpy(&word, bytes, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  word = __builtin_bswap64(word);
#endif
  return word;
}

/* Folds word number `index` of the section into its lane. */
static inline void pq_checksum_fold(pq_data_checksum *c, uint64_t index,
                                    uint64_t word) {
  uint64_t *lane = &c->lanes[index % PQ_CHECKSUM_LANES];
  *lane = (*lane ^ word) * PQ_FNV_PRIME;
}

static inline void pq_data_checksum_add(pq_data_checksum *c, const void *data,
                                        size_t size) {
  const uint8_t *bytes = (const uint8_t *)data;
  /* A word begun by an earlier call. */
  while (size && c->size % 8) {
    c->partial[c->size++ % 8] = *bytes++;
    --size;
    if (c->size % 8 == 0)
      pq_checksum_fold(c, c->size / 8 - 1, pq_checksum_word(c->partial));
  }
  /* Whole words up to lane 0, then eight at a time with the lanes in
   * locals, so the compiler keeps the eight chains in registers. */
  for (; size >= 8 && (c->size / 8) % PQ_CHECKSUM_LANES; bytes += 8, size -= 8) {
    pq_checksum_fold(c, c->size / 8, pq_checksum_word(bytes));
    c->size += 8;
  }
  if (size >= 8 * PQ_CHECKSUM_LANES) {
    uint64_t lanes[PQ_CHECKSUM_LANES];
    memcpy(lanes, c->lanes, sizeof lanes);
    for (; size >= 8 * PQ_CHECKSUM_LANES;
         bytes += 8 * PQ_CHECKSUM_LANES, size -= 8 * PQ_CHECKSUM_LANES) {
      for (int i = 0; i < PQ_CHECKSUM_LANES; ++i)
        lanes[i] = (lanes[i] ^ pq_checksum_word(bytes + 8 * i)) * PQ_FNV_PRIME;
      c->size += 8 * PQ_CHECKSUM_LANES;
    }
    memcpy(c->lanes, lanes, sizeof lanes);
  }
  for (; size >= 8; bytes += 8, size -= 8) {
    pq_checksum_fold(c, c->size / 8, pq_checksum_word(bytes));
    c->size += 8;
  }
  while (size--)
    c->partial[c->size++ % 8] = *bytes++;
}

static inline uint64_t pq_data_checksum_finish(const pq_data_checksum *c) {
  pq_data_checksum last = *c;
  if (c->size % 8) {
    uint8_t padded[8] = {0};
    memcpy(padded, c->partial, c->size % 8);
    pq_checksum_fold(&last, c->size / 8, pq_checksum_word(padded));
  }
  uint64_t hash = PQ_FNV_BASIS;
  for (int i = 0; i < PQ_CHECKSUM_LANES; ++i)
    for (int byte = 0; byte < 8; ++byte)
      hash = (hash ^ (uint8_t)(last.lanes[i] >> (8 * byte))) * PQ_FNV_PRIME;
  for (int byte = 0; byte < 8; ++byte)
    hash = (hash ^ (uint8_t)(c->size >> (8 * byte))) * PQ_FNV_PRIME;
  return hash;
}

/* The checksum of `size` bytes at `data`, in one call. */
static inline uint64_t pq_data_checksum_of(const void *data, size_t size) {
  pq_data_checksum c;
  pq_data_checksum_init(&c);
  pq_data_checksum_add(&c, data, size);
  return pq_data_checksum_finish(&c);
}

#endif /* PQUANT_ARTIFACT_DATACHECKSUM_H */
