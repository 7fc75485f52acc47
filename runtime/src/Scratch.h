//===- Scratch.h - the compiled entry points' scratch buffer ----*- C++ -*-===//
//
// pquant-plan-scratch places an entry point's short-lived buffers in one
// buffer the entry point asks for at its start
// (_mlir_ciface_pquant_scratch, ModelABI.h). A pq_model owns one, sized
// when it is opened, and makes it this thread's while it runs an entry
// point, so a step allocates nothing.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_RUNTIME_SCRATCH_H
#define PQUANT_RUNTIME_SCRATCH_H

namespace pq {

/// The scratch the entry points get on this thread: `data`, at least
/// pquant_scratch_bytes and 64-byte aligned, or nullptr for none.
void setCurrentScratch(void *data);

} // namespace pq

#endif // PQUANT_RUNTIME_SCRATCH_H
