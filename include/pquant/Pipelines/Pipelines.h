//===- Pipelines.h - pquant compilation pipelines ---------------*- C++ -*-===//
//
// The pipelines pquant-compile runs, as library functions with typed
// options; pquant-opt registers the same ones, so
//   pquant-opt --pquant-cpu-pipeline="target=aarch64 cpu=neoverse-n1"
// shows exactly what the compiler does.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_PIPELINES_PIPELINES_H
#define PQUANT_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace pquant {

struct CPUTarget;

struct CPUPipelineOptions : mlir::PassPipelineOptions<CPUPipelineOptions> {
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("x86_64, aarch64 or host"),
                             llvm::cl::init("host")};
  Option<std::string> cpu{
      *this, "cpu",
      llvm::cl::desc("LLVM CPU name (znver4, neoverse-n1, ...); empty means "
                     "the host's CPU for target=host, generic otherwise")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("LLVM target features (+avx512vpopcntdq,+dotprod,...)")};
  Option<std::string> strategy{
      *this, "strategy",
      llvm::cl::desc("BitLinear kernel strategy: auto (a cost model per "
                     "target), bitserial, unpack-dot or lookup"),
      llvm::cl::init("auto")};
  Option<std::string> lmHead{
      *this, "lm-head",
      llvm::cl::desc("f32 (the checkpoint's lm_head), or int8: weights "
                     "quantized per row, activations per token"),
      llvm::cl::init("f32")};
  Option<std::string> embedding{
      *this, "embedding",
      llvm::cl::desc("f32 (the checkpoint's table), or int8: rows quantized "
                     "per row"),
      llvm::cl::init("f32")};
};

/// The float tables that run on per-row int8 weights; both off by default.
struct Int8Tables {
  bool lmHead = false;
  bool embedding = false;
};

/// Rows per packed tile for `target`: one vector register of 64-bit words.
int64_t packedTileRows(const CPUTarget &target);

/// Appends the CPU pipeline for an already resolved `target`: decompose,
/// pack weights, lower to kernels, bufferize, lower to the LLVM dialect.
/// `int8Tables` says which float tables become per-row int8.
void buildCPUPipeline(mlir::OpPassManager &pm, const CPUTarget &target,
                      llvm::StringRef strategy, Int8Tables int8Tables = {});

/// Registers `pquant-cpu-pipeline`.
void registerPQuantPipelines();

} // namespace pquant

#endif // PQUANT_PIPELINES_PIPELINES_H
