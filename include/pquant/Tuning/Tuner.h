//===- Tuner.h - choose BitLinear kernels by timing them --------*- C++ -*-===//
//
// pquant-compile --tune: for every BitLinear shape of a model and each
// regime (decode: one token; prefill: a block of tokens), compile small
// benchmark modules of the candidate kernels with the model's own pipeline,
// time them on this machine and put the fastest on the model's ops as
// #pquant.kernel attributes.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_TUNING_TUNER_H
#define PQUANT_TUNING_TUNER_H

#include "pquant/Tuning/TuningTable.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace pquant {

struct CPUTarget;

struct TuneOptions {
  /// The strategies to try ("bitserial", "unpack_dot", "lookup"); empty: all.
  std::vector<std::string> strategies;
  /// Tokens per call in the prefill regime: a prompt long enough that the
  /// lookup kernel's 32-token blocks and the unpack-dot token groups work as
  /// in long prompts (at 64 tokens unpack-dot won the 1.3B shapes, which
  /// then prefilled 512 tokens 15-20% slower than with lookup).
  int64_t prefillTokens = 256;
  /// A JSON file of earlier measurements: entries for the same machine,
  /// thread count, shape, regime and candidates are reused instead of
  /// measured, and new ones are added. Empty: no cache.
  std::string cachePath;
};

/// Compiles `module` (pquant IR of benchmark functions) with the pipeline
/// the model gets into a shared library at `path`; reports its own errors.
using CompileToShared =
    llvm::function_ref<mlir::LogicalResult(mlir::ModuleOp, llvm::StringRef)>;

/// Times the candidate kernels of every BitLinear shape of `model` on this
/// machine (`target` must be the host) and sets each BitLinear's `kernel`
/// attribute to the fastest for its shape and regime. Decoupled FFNs are
/// decomposed first, so their BitLinears are tuned too. `progress` receives
/// one line per step. Errors are diagnostics on `model`.
mlir::FailureOr<TuningTable>
tuneBitLinears(mlir::ModuleOp model, const CPUTarget &target,
               const TuneOptions &options, CompileToShared compile,
               llvm::function_ref<void(const llvm::Twine &)> progress);

} // namespace pquant

#endif // PQUANT_TUNING_TUNER_H
