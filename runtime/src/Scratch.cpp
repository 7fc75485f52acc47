//===- Scratch.cpp - the compiled entry points' scratch buffer ------------===//
//
// Entry points called other than by the runtime (test harnesses call them
// directly) find no current buffers: they get a scratch of this thread's,
// grown as needed and kept for the next call, and a result from malloc,
// which the caller frees.
//
//===----------------------------------------------------------------------===//

#include "Scratch.h"

#include "ModelABI.h"

#include <stdint.h>
#include <stdlib.h>

namespace {
thread_local void *current = nullptr, *currentResult = nullptr;
thread_local int64_t currentResultBytes = 0;
thread_local void *own = nullptr;
thread_local int64_t ownBytes = 0;
} // namespace

void pq::setEntryBuffers(void *scratch, void *result, int64_t resultBytes) {
  current = scratch;
  currentResult = result;
  currentResultBytes = resultBytes;
}

void *pq::allocateEntryBuffer(uint64_t bytes) {
  constexpr uint64_t kAlignment = 64; // pquant-plan-scratch's offsets
  return aligned_alloc(kAlignment, (bytes + kAlignment - 1) / kAlignment * kAlignment);
}

void _mlir_ciface_pquant_scratch(pq::MemRef<uint8_t, 1> *result, int64_t bytes) {
  void *data = current;
  if (!data) {
    if (ownBytes < bytes) {
      free(own);
      own = pq::allocateEntryBuffer(bytes);
      ownBytes = own ? bytes : 0;
    }
    data = own;
  }
  auto *base = static_cast<uint8_t *>(data);
  *result = {base, base, 0, {bytes}, {1}};
}

void _mlir_ciface_pquant_result(pq::MemRef<uint8_t, 1> *result, int64_t bytes) {
  void *data = currentResult && bytes <= currentResultBytes ? currentResult : malloc(bytes);
  auto *base = static_cast<uint8_t *>(data);
  *result = {base, base, 0, {bytes}, {1}};
}
