//===- GPUTarget.h - NVIDIA GPU targets and their PTX -----------*- C++ -*-===//
//
// -target=sm_80|sm_90: pquant-gpu-pipeline leaves host code in the LLVM
// dialect and a gpu.binary with the kernels' PTX. The PTX and the kernel
// names go to the .pqw of a model, or into the object itself for anything
// else (single layers, tests); the host code exports an id of both so the
// runtime only ever launches the kernels it was compiled with.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_TARGET_GPUTARGET_H
#define PQUANT_TARGET_GPUTARGET_H

#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llvm {
class Module;
} // namespace llvm

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace pquant {

/// The kernels of a GPU compilation.
struct GPUCode {
  std::string chip; ///< sm_80, sm_90
  std::string ptx;
  std::vector<std::string> kernels; ///< in the order the host code numbers them

  /// FNV-1a 64 over the PTX and each name, each with its terminating NUL.
  uint64_t id() const;
};

/// Whether `target` names a GPU (sm_80, sm_90).
bool isGPUTarget(llvm::StringRef target);

/// Takes the PTX out of the gpu.binary pquant-gpu-pipeline left in `module`,
/// with the kernel list (`pquant.gpu.kernels`), and removes both, so the
/// module holds host code only.
llvm::Expected<GPUCode> takeGPUCode(mlir::ModuleOp module);

/// Defines in the host code's LLVM module what the runtime checks:
/// `pquant_gpu_kernels_id` (u64) and `pquant_gpu_kernel_count` (i32); with
/// `embed`, also the code itself: `pquant_gpu_ptx` (a C string),
/// `pquant_gpu_kernel_names` (C strings) and `pquant_gpu_chip`.
void addGPUCodeGlobals(llvm::Module &module, const GPUCode &code, bool embed);

} // namespace pquant

#endif // PQUANT_TARGET_GPUTARGET_H
