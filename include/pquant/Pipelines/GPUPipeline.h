//===- GPUPipeline.h - pquant-gpu-pipeline ----------------------*- C++ -*-===//
//
// The GPU pipeline, a library function with typed options that pquant-opt
// (--pquant-gpu-pipeline="chip=sm_90") and pquant-compile (-target=sm_90)
// both run: pquant IR in, a module of host functions in the LLVM dialect and
// a gpu.binary holding the kernels' PTX out.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_PIPELINES_GPUPIPELINE_H
#define PQUANT_PIPELINES_GPUPIPELINE_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace pquant {

struct GPUPipelineOptions : mlir::PassPipelineOptions<GPUPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("NVIDIA architecture: sm_80 or sm_90"),
                           llvm::cl::init("sm_90")};
};

/// Appends the GPU pipeline for `chip`: decompose, pack the 1-bit weights
/// for the GPU kernels, generate kernels and host code
/// (pquant-lower-to-gpu), lower the kernels to NVVM and serialize them to
/// PTX with LLVM's NVPTX back end (no CUDA needed), and lower the host code
/// to the LLVM dialect.
void buildGPUPipeline(mlir::OpPassManager &pm, llvm::StringRef chip);

/// Registers `pquant-gpu-pipeline`.
void registerGPUPipeline();

} // namespace pquant

#endif // PQUANT_PIPELINES_GPUPIPELINE_H
