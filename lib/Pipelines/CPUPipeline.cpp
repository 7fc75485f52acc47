//===- CPUPipeline.cpp - pquant-cpu-pipeline --------------------------------===//

#include "pquant/Pipelines/Pipelines.h"
#include "pquant/Pipelines/GPUPipeline.h"

#include "pquant/Conversion/Passes.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"
#include "pquant/Target/CPUTarget.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace pquant;

int64_t pquant::packedTileRows(const CPUTarget &target) {
  return target.vectorBits / 64;
}

void pquant::buildCPUPipeline(OpPassManager &pm, const CPUTarget &target,
                              StringRef strategy, Int8Tables int8Tables) {
  // Before the lm_head is rewritten, so the rewrite covers both prefills.
  pm.addPass(createAddLastTokenPrefill());
  if (int8Tables.lmHead)
    pm.addPass(createQuantizeLMHead());
  if (int8Tables.embedding)
    pm.addPass(createQuantizeEmbedding());
  pm.addPass(createDecomposeDecoupled());
  pm.addPass(createCSEPass());
  PackWeightsOptions pack;
  pack.word = 64;
  pack.tileRows = packedTileRows(target);
  pm.addPass(createPackWeights(pack));
  LowerToKernelsOptions kernels;
  kernels.strategy = strategy.str();
  std::string dot = target.hasVNNI       ? "vnni"
                    : target.hasDotProd ? "sdot"
                                        : "generic";
  kernels.dot = dot;
  kernels.fastPopcount = target.hasVectorPopcount64;
  kernels.byteLookup = target.hasVBMI;
  pm.addPass(createLowerToKernels(kernels));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createExternalizeWeights());
  // What remains on tensors (residual adds, shapes, positions) goes
  // through linalg, which bufferizes.
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());

  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferDeallocationPipelineOptions deallocation;
  bufferization::buildBufferDeallocationPipeline(pm, deallocation);
  pm.addNestedPass<func::FuncOp>(createDeallocAfterLastUse());
  // The entry points the runtime calls (ModelABI.h) take their buffers from
  // the model's scratch: a decode step allocates nothing.
  PlanScratchOptions scratch;
  scratch.functions = {"prefill", "prefill_last", "decode"};
  pm.addPass(createPlanScratch(scratch));

  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  LowerDot4Options dot4;
  dot4.instruction = dot;
  pm.addPass(createLowerDot4(dot4));
  LowerLookupBytesOptions lookupBytes;
  lookupBytes.instruction = target.hasVBMI ? "vbmi" : "generic";
  pm.addPass(createLowerLookupBytes(lookupBytes));
  // Parallel loops become tasks for the runtime's thread pool.
  pm.addPass(createOutlineParallelLoops());

  // Entry points get C wrappers taking memref descriptors by pointer.
  pm.addPass(createExportEntryPoints());
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void pquant::registerPQuantPipelines() {
  // Registered through registerPassPipeline rather than
  // PassPipelineRegistration, whose builder returns void: a bad option
  // here must fail the pass manager (and pquant-opt), not leave it empty.
  registerPassPipeline(
      "pquant-cpu-pipeline",
      "Compile pquant IR for a CPU down to the LLVM dialect: decompose, pack "
      "weights for the target, lower to kernels, bufferize, lower to LLVM",
      [](OpPassManager &pm, StringRef text,
         function_ref<LogicalResult(const Twine &)> errorHandler)
          -> LogicalResult {
        CPUPipelineOptions options;
        if (failed(options.parseFromString(text)))
          return failure();
        llvm::Expected<CPUTarget> target =
            CPUTarget::resolve(options.target, options.cpu, options.features);
        if (!target)
          return errorHandler("pquant-cpu-pipeline: " +
                              llvm::toString(target.takeError()));
        for (auto [name, value] :
             {std::pair{"lm-head", &options.lmHead},
              std::pair{"embedding", &options.embedding}})
          if (*value != "f32" && *value != "int8")
            return errorHandler(Twine("pquant-cpu-pipeline: ") + name +
                                " must be f32 or int8, not '" + *value + "'");
        buildCPUPipeline(pm, *target, options.strategy,
                         {options.lmHead == "int8",
                          options.embedding == "int8"});
        return success();
      },
      [](function_ref<void(const detail::PassOptions &)> optionsHandler) {
        optionsHandler(CPUPipelineOptions());
      });
  registerGPUPipeline();
}
