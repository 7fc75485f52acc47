//===- AddLastTokenPrefill.cpp - a prefill that returns the last logits ---===//
//
// Generation needs the logits of the prompt's last token only, yet `prefill`
// returns every token's (scoring needs them): its lm_head over a 512-token
// prompt was a tenth of the prefill's time on CPU. `prefill_last` is a copy
// of `prefill` that takes the last row before the row-wise ops that end it
// (the final norm and the lm_head).
//
//===----------------------------------------------------------------------===//

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

namespace pquant {
#define GEN_PASS_DEF_ADDLASTTOKENPREFILL
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

/// Ops whose result row m depends on input row m only.
bool isRowWise(Operation *op) { return isa<RMSNormOp, FloatLinearOp>(op); }

struct AddLastTokenPrefillPass
    : pquant::impl::AddLastTokenPrefillBase<AddLastTokenPrefillPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    auto prefill = symbols.lookup<func::FuncOp>("prefill");
    if (!prefill || prefill.isExternal())
      return;
    if (symbols.lookup("prefill_last")) {
      prefill.emitOpError("cannot get a 'prefill_last': the module already "
                          "has a symbol of that name");
      return signalPassFailure();
    }
    auto ret = cast<func::ReturnOp>(prefill.getBody().back().getTerminator());
    if (ret.getNumOperands() != 1)
      return;
    // The row-wise ops ending the function, last first.
    SmallVector<Operation *> tail;
    Value rows = ret.getOperand(0);
    while (Operation *op = rows.getDefiningOp()) {
      if (!isRowWise(op) || !rows.hasOneUse())
        break;
      tail.push_back(op);
      rows = op->getOperand(0);
    }
    // Nothing to save (a test module ending in a BitLinear, say): the
    // runtime calls prefill where there is no prefill_last.
    if (tail.empty())
      return;

    IRMapping map;
    auto last = cast<func::FuncOp>(prefill->clone(map));
    last.setSymName("prefill_last");
    symbols.insert(last, std::next(Block::iterator(prefill)));
    Value lastRows = map.lookup(rows);
    auto rowsType = cast<RankedTensorType>(lastRows.getType());
    OpBuilder b(last.getContext());
    b.setInsertionPointAfterValue(lastRows);
    Location loc = lastRows.getLoc();
    Value count = tensor::DimOp::create(b, loc, lastRows, 0);
    Value lastRow = arith::SubIOp::create(
        b, loc, count, arith::ConstantIndexOp::create(b, loc, 1));
    auto rowType = RankedTensorType::get({1, rowsType.getDimSize(1)},
                                         rowsType.getElementType());
    Value row = tensor::ExtractSliceOp::create(
        b, loc, rowType, lastRows, {lastRow, b.getIndexAttr(0)},
        {b.getIndexAttr(1), b.getIndexAttr(rowsType.getDimSize(1))},
        {b.getIndexAttr(1), b.getIndexAttr(1)});
    // Each op of the tail now takes and gives one row.
    for (Operation *op : llvm::reverse(tail)) {
      Operation *copy = map.lookup(op->getResult(0)).getDefiningOp();
      copy->setOperand(0, row);
      auto type = cast<RankedTensorType>(copy->getResult(0).getType());
      copy->getResult(0).setType(
          RankedTensorType::get({1, type.getDimSize(1)}, type.getElementType()));
      row = copy->getResult(0);
    }
    last.setType(FunctionType::get(last.getContext(),
                                   last.getFunctionType().getInputs(),
                                   {row.getType()}));
  }
};

} // namespace
