//===- pquant-opt.cpp - pquant optimizer driver -----------------------------===//
//
// mlir-opt with the pquant dialect, passes and pipelines added to every
// upstream dialect and pass, so every mlir-opt flag (--pass-pipeline,
// --mlir-print-ir-after-all, --verify-diagnostics, --verify-roundtrip, ...)
// works on pquant IR at any stage of its lowering.
//
//===----------------------------------------------------------------------===//

#include "pquant/Conversion/Passes.h"
#include "pquant/Dialect/PQuant/IR/PQuantDialect.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"
#include "pquant/Pipelines/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  registry.insert<pquant::PQuantDialect>();
  mlir::registerAllPasses();
  pquant::registerPQuantPasses();
  pquant::registerPQuantConversionPasses();
  pquant::registerPQuantPipelines();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "pquant optimizer driver\n", registry));
}
