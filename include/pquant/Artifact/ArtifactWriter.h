//===- ArtifactWriter.h - write the .pqw model artifact ---------*- C++ -*-===//
//
// The .pqw file holds what compiled model code needs at run time: the
// weights in the layout the code was compiled for, the model config, the
// target and the producer. include/pquant/Artifact/pqw.fbs is the format.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_ARTIFACT_ARTIFACTWRITER_H
#define PQUANT_ARTIFACT_ARTIFACTWRITER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <string>
#include <vector>

namespace pquant {

class Checkpoint;
struct CPUTarget;
struct GPUCode;
struct TuningTable;

/// The weights table pquant-externalize-weights records on a module: where
/// each tensor sits in the data section and the type the code reads it as.
struct WeightsTable {
  struct Entry {
    std::string name;
    int64_t offset;
    mlir::RankedTensorType type;
    /// Set when the code reads a quantized form of the checkpoint tensor
    /// (`pquant.weight ... quantized int8_rows`): "int8_rows" or
    /// "int8_row_scales".
    std::string quantization;
    int64_t bytes() const;
  };
  int64_t size = 0;
  std::vector<Entry> entries;

  /// Reads the `pquant.weights` attribute of `module`.
  static llvm::Expected<WeightsTable> fromModule(mlir::ModuleOp module);

  /// FNV-1a 64 of the table: names, offsets, types and quantized forms. The
  /// compiled code
  /// exports it and the artifact records it, so a .pqw is only ever used
  /// with the code it was written for.
  uint64_t layoutId() const;
};

struct Producer {
  std::string version, gitCommit, commandLine;
};

/// Writes the artifact for `table` to `path`, converting each checkpoint
/// tensor to the type the code reads (1-bit weights are repacked into their
/// #pquant.packed layout). `progress(done, total)` is called per tensor.
/// A GPU model's artifact also holds its kernels, `gpu`; `target` is then
/// the host the code that launches them runs on. A tuned model's artifact
/// records what was measured and chosen, `tuning`.
llvm::Error writeArtifact(llvm::StringRef path, const Checkpoint &checkpoint,
                          const WeightsTable &table, const CPUTarget &target,
                          const Producer &producer,
                          std::function<void(size_t, size_t)> progress,
                          const GPUCode *gpu = nullptr,
                          const TuningTable *tuning = nullptr);

} // namespace pquant

#endif // PQUANT_ARTIFACT_ARTIFACTWRITER_H
