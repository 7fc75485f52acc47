//===- Scratch.h - the compiled entry points' scratch buffer ----*- C++ -*-===//
//
// pquant-plan-scratch places an entry point's short-lived buffers in one
// buffer the entry point asks for at its start
// (_mlir_ciface_pquant_scratch, ModelABI.h), and a result of static shape
// (one token's logits) in another (_mlir_ciface_pquant_result). A pq_model
// owns both, sized when it is opened, and makes them this thread's while it
// runs an entry point, so a decode step allocates nothing.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_RUNTIME_SCRATCH_H
#define PQUANT_RUNTIME_SCRATCH_H

#include <stdint.h>

namespace pq {

/// The buffers the entry points get on this thread: `scratch`, at least
/// pquant_scratch_bytes and 64-byte aligned, and `result`, `resultBytes`
/// long, for a result of static shape; nullptr for none.
void setEntryBuffers(void *scratch, void *result, int64_t resultBytes);

/// `bytes` (rounded up) from aligned_alloc, aligned as pquant-plan-scratch
/// places buffers; nullptr if out of memory. Freed with free().
void *allocateEntryBuffer(uint64_t bytes);

} // namespace pq

#endif // PQUANT_RUNTIME_SCRATCH_H
