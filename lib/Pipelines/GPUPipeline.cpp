//===- GPUPipeline.cpp - pquant-gpu-pipeline --------------------------------===//

#include "pquant/Pipelines/GPUPipeline.h"

#include "pquant/Conversion/Passes.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace pquant;

void pquant::buildGPUPipeline(OpPassManager &pm, StringRef chip) {
  pm.addPass(createDecomposeDecoupled());
  pm.addPass(createCSEPass());
  // The layout of the GPU BitLinear kernels: 32-bit words, tiles of 8 rows
  // by 4 words (16 bytes a row), so a warp loads 512 contiguous bytes.
  PackWeightsOptions pack;
  pack.word = 32;
  pack.tileRows = 8;
  pack.tileWords = 4;
  pm.addPass(createPackWeights(pack));
  LowerToGPUOptions lower;
  lower.chip = chip.str();
  // A decode step is launch-bound: one kernel for all of it.
  lower.persistentEntries = {"decode"};
  pm.addPass(createLowerToGPU(lower));

  // Kernels: math to LLVM intrinsics first (NVPTX has them all; nothing
  // becomes a libdevice call), then the gpu dialect to NVVM, then PTX.
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createSCFToControlFlowPass());
  kernels.addPass(createConvertMathToLLVMPass());
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = "isa"; // PTX
  pm.addPass(createGpuModuleToBinaryPass(binary));

  // Host code.
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void pquant::registerGPUPipeline() {
  PassPipelineRegistration<GPUPipelineOptions>(
      "pquant-gpu-pipeline",
      "Compile pquant IR for an NVIDIA GPU: decompose, pack weights for the "
      "GPU kernels, generate kernels and host code, serialize the kernels to "
      "PTX, lower the host code to LLVM",
      [](OpPassManager &pm, const GPUPipelineOptions &options) {
        buildGPUPipeline(pm, options.chip);
      });
}
