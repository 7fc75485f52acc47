//===- ModelABI.h - What the compiled model object exports ------*- C++ -*-===//
//
// The entry points pquant-compile emits (MLIR's C interface: memref
// descriptors passed by pointer) and the weight layout they were built for.
// The runtime is linked with exactly one model object that defines these.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_RUNTIME_MODELABI_H
#define PQUANT_RUNTIME_MODELABI_H

#include <stdint.h>

namespace pq {

/// A strided memref descriptor of rank `Rank`, as MLIR lays it out.
template <typename T, int Rank> struct MemRef {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

using WeightsRef = MemRef<const uint8_t, 1>;
using TokensRef = MemRef<const int32_t, 1>;
using CacheRef = MemRef<float, 4>;  // [layer, position, kv head, head dim]
using LogitsRef = MemRef<float, 2>; // [token, vocab]: see _mlir_ciface_pquant_result

} // namespace pq

extern "C" {
/// `tokens` are M >= 1 tokens at positions start .. start + M - 1; the cache
/// rows of those positions are written, the ones before them read.
void _mlir_ciface_prefill(pq::LogitsRef *logits, pq::WeightsRef *weights,
                          pq::TokensRef *tokens, int64_t start,
                          pq::CacheRef *keys, pq::CacheRef *values);
/// As prefill, but the logits are those of the last token only ([1, vocab]).
/// pquant-compile's CPU models define it; the runtime falls back to prefill
/// where it is missing.
void _mlir_ciface_prefill_last(pq::LogitsRef *logits, pq::WeightsRef *weights,
                               pq::TokensRef *tokens, int64_t start,
                               pq::CacheRef *keys, pq::CacheRef *values);
/// As prefill, for exactly one token.
void _mlir_ciface_decode(pq::LogitsRef *logits, pq::WeightsRef *weights,
                         pq::TokensRef *tokens, int64_t start,
                         pq::CacheRef *keys, pq::CacheRef *values);
/// Must equal the .pqw's layout_id.
extern const uint64_t pquant_weights_layout_id;
/// Must equal the .pqw's data_size: the bytes the code reads from weights.
extern const uint64_t pquant_weights_data_size;
/// The KV cache the code indexes, [layers, max_seq_len, kv heads, head dim]:
/// the .pqw's config must size the cache the same. pquant-compile defines it
/// for every model; a test double that reads the sizes from the cache
/// descriptors need not (the runtime references it weakly).
extern const uint64_t pquant_kv_cache_shape[4];
/// The bytes of scratch the entry points take (pquant-plan-scratch), where
/// they take any: the runtime allocates them when it opens the model.
extern const uint64_t pquant_scratch_bytes;
/// Called by the entry points at their start: the model's scratch, which
/// holds their short-lived buffers (`bytes` <= pquant_scratch_bytes). The
/// runtime defines it; it is valid only while the runtime runs an entry
/// point.
__attribute__((visibility("default"))) void
_mlir_ciface_pquant_scratch(pq::MemRef<uint8_t, 1> *result, int64_t bytes);
/// Called by an entry point for a result of static shape (decode's and
/// prefill_last's logits): the runtime's buffer for it, which the runtime
/// does not free; called otherwise (a test harness), malloc'ed memory that
/// the caller frees, as results of dynamic shape are.
__attribute__((visibility("default"))) void
_mlir_ciface_pquant_result(pq::MemRef<uint8_t, 1> *result, int64_t bytes);
}

#endif // PQUANT_RUNTIME_MODELABI_H
