//===- TuningTable.h - what pquant-compile --tune measured ------*- C++ -*-===//
//
// The result of tuning a model's BitLinear kernels on this machine: for
// each shape and regime, every candidate kernel with its median time, and
// the one chosen. The tuner fills it, the artifact writer records it in the
// .pqw (table Tuning of pqw.fbs), the tuning cache stores it.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_TUNING_TUNINGTABLE_H
#define PQUANT_TUNING_TUNINGTABLE_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pquant {

/// One kernel the tuner timed.
struct TuningCandidate {
  std::string strategy;              ///< "bitserial", "unpack_dot" or "lookup"
  std::optional<int64_t> chunkWords; ///< unpack_dot's column chunk
  double medianSeconds = 0;          ///< median time of one call
};

/// The candidates of one BitLinear shape in one regime.
struct TuningEntry {
  int64_t rows = 0, cols = 0; ///< N and K
  std::string regime;         ///< "decode" (one token) or "prefill"
  int64_t tokens = 0;         ///< tokens per timed call
  std::vector<TuningCandidate> candidates;
  size_t chosen = 0; ///< index of the fastest candidate
};

struct TuningTable {
  std::string cpu, features; ///< the machine's LLVM CPU name and features
  int threads = 1;           ///< threads the kernels ran on while timed
  std::vector<TuningEntry> entries;
};

} // namespace pquant

#endif // PQUANT_TUNING_TUNINGTABLE_H
