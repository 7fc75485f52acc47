//===- ExportEntryPoints.cpp - C entry points for public functions ----------===//

#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace pquant {
#define GEN_PASS_DEF_EXPORTENTRYPOINTS
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;

namespace {
struct ExportEntryPointsPass
    : pquant::impl::ExportEntryPointsBase<ExportEntryPointsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal())
        func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                      UnitAttr::get(&getContext()));
  }
};
} // namespace
