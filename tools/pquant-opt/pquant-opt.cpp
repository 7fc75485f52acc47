//===- pquant-opt.cpp - pquant optimizer driver -----------------------------===//
//
// mlir-opt with the pquant dialect and passes, so every mlir-opt flag
// (--pass-pipeline, --mlir-print-ir-after-all, --verify-diagnostics,
// --verify-roundtrip, ...) works on pquant IR.
//
//===----------------------------------------------------------------------===//

#include "pquant/Dialect/PQuant/IR/PQuantDialect.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<pquant::PQuantDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect>();
  pquant::registerPQuantPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "pquant optimizer driver\n", registry));
}
