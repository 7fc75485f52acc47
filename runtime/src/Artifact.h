//===- Artifact.h - Mapping and verifying a .pqw artifact -------*- C++ -*-===//
//
// A .pqw is a FlatBuffer (pquant/Artifact/pqw.fbs) followed by a 64-byte
// aligned data section. Nothing in it is trusted until openArtifact() has
// checked it: the compiled code indexes the data section with offsets baked
// in at compile time, so a file that passes must be safe to hand over.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_RUNTIME_ARTIFACT_H
#define PQUANT_RUNTIME_ARTIFACT_H

#include "pquant/runtime.h"

#include <stddef.h>
#include <stdint.h>

namespace pq {

/// A verified, read-only mapping of a .pqw file.
struct Artifact {
  const uint8_t *file = nullptr; // the mapping
  size_t fileSize = 0;
  const uint8_t *data = nullptr; // the data section, inside the mapping
  uint64_t dataSize = 0;
  pq_config config = {};
};

/// Maps `path` and verifies it for compiled code built for weight layout
/// `layoutId` on this CPU architecture. On failure nothing stays mapped and
/// the message (see pq_last_error) starts with `path`.
/// What the compiled code reads: its weight layout id and data size, and
/// the KV cache shape it indexes (null where the code does not say).
struct CodeLayout {
  uint64_t layoutId;
  uint64_t dataSize;
  const uint64_t *cacheShape = nullptr;
};

/// The KV cache shape a config gives, as compiled code indexes it:
/// [num_layers, max_seq_len, num_kv_heads, head_dim].
inline void kvCacheShape(const pq_config &config, int64_t shape[4]) {
  shape[0] = config.num_layers;
  shape[1] = config.max_seq_len;
  shape[2] = config.num_kv_heads;
  shape[3] = config.head_dim;
}

pq_status openArtifact(const char *path, const CodeLayout &code, Artifact &out);

void closeArtifact(Artifact &artifact);

} // namespace pq

#endif // PQUANT_RUNTIME_ARTIFACT_H
