//===- AddLastTokenPrefill.cpp - a prefill that returns the last logits ---===//
//
// Generation needs the logits of the prompt's last token only, yet `prefill`
// returns every token's (scoring needs them): its lm_head over a 512-token
// prompt was a tenth of the prefill's time on CPU. `prefill_last` is a copy
// of `prefill` in which every op that only the last row's logits need runs
// on the last row: the final norm and the lm_head, and the last layer from
// its attention on (the attention still writes every new token's key and
// value into the cache, and its one query is the last token's).
//
//===----------------------------------------------------------------------===//

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
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

/// The operands whose row m (dimension 0) is all that row m of the op's
/// results depends on; none for an op that is not row-wise. The attention's
/// query is such an operand (its queries are the last new tokens); its keys
/// and values are not.
SmallVector<unsigned> rowOperands(Operation *op) {
  if (isa<RMSNormOp, FloatLinearOp, DecoupledFFNOp, QuantizeOp, AttentionOp>(op))
    return {0};
  if (isa<BitLinearOp, RoPEOp>(op))
    return {0, 1};
  if (auto add = dyn_cast<arith::AddFOp>(op))
    return isa<RankedTensorType>(add.getType()) ? SmallVector<unsigned>{0, 1}
                                                : SmallVector<unsigned>{};
  // A reshape that keeps dimension 0 as it is.
  auto reassociation = [](auto reshape) {
    auto groups = reshape.getReassociationIndices();
    return !groups.empty() && groups.front() == ReassociationIndices{0};
  };
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op))
    return reassociation(expand) ? SmallVector<unsigned>{0} : SmallVector<unsigned>{};
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op))
    return reassociation(collapse) ? SmallVector<unsigned>{0} : SmallVector<unsigned>{};
  return {};
}

/// `type` with one row.
RankedTensorType oneRow(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(tensor.getShape());
  shape[0] = 1;
  return tensor.clone(shape);
}

/// The ops of `function` that only its returned rows' last one needs: each
/// of their results has uses, and all of them are the return or row
/// operands of ops of the set. In program order.
SmallVector<Operation *> lastRowOps(func::FuncOp function) {
  llvm::SmallPtrSet<Operation *, 32> set;
  auto lastRowOnly = [&](Value value) {
    return !value.use_empty() &&
           llvm::all_of(value.getUses(), [&](OpOperand &use) {
             Operation *user = use.getOwner();
             return isa<func::ReturnOp>(user) ||
                    (set.contains(user) &&
                     llvm::is_contained(rowOperands(user), use.getOperandNumber()));
           });
  };
  SmallVector<Operation *> ops;
  for (Operation &op : llvm::reverse(function.getBody().front().without_terminator())) {
    if (rowOperands(&op).empty() || op.getNumResults() == 0 ||
        !llvm::all_of(op.getResults(), lastRowOnly))
      continue;
    set.insert(&op);
    ops.push_back(&op);
  }
  return llvm::to_vector(llvm::reverse(ops));
}

/// The last row of `rows`, sliced once, right after its definition.
Value lastRowOf(OpBuilder &b, Value rows, DenseMap<Value, Value> &slices) {
  auto [it, inserted] = slices.try_emplace(rows);
  if (!inserted)
    return it->second;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfterValue(rows);
  Location loc = rows.getLoc();
  auto type = cast<RankedTensorType>(rows.getType());
  Value count = tensor::DimOp::create(b, loc, rows, 0);
  Value last = arith::SubIOp::create(b, loc, count,
                                     arith::ConstantIndexOp::create(b, loc, 1));
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes{b.getIndexAttr(1)};
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  offsets[0] = last;
  for (int64_t i = 1; i < type.getRank(); ++i)
    sizes.push_back(type.isDynamicDim(i)
                        ? OpFoldResult(tensor::DimOp::create(b, loc, rows, i).getResult())
                        : OpFoldResult(b.getIndexAttr(type.getDimSize(i))));
  it->second = tensor::ExtractSliceOp::create(b, loc, oneRow(type), rows, offsets,
                                              sizes, strides);
  return it->second;
}

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
    // A prefill that ends in the final norm or the lm_head returns logits.
    // Other modules (a test ending in a BitLinear, say) have nothing to
    // save: the runtime calls prefill where there is no prefill_last.
    auto ret = cast<func::ReturnOp>(prefill.getBody().back().getTerminator());
    if (ret.getNumOperands() != 1 ||
        !isa_and_present<RMSNormOp, FloatLinearOp>(ret.getOperand(0).getDefiningOp()) ||
        !ret.getOperand(0).hasOneUse())
      return;

    IRMapping map;
    auto last = cast<func::FuncOp>(prefill->clone(map));
    last.setSymName("prefill_last");
    symbols.insert(last, std::next(Block::iterator(prefill)));
    OpBuilder b(last.getContext());
    DenseMap<Value, Value> slices;
    // The results of the ops rewritten so far, one row each.
    llvm::SmallPtrSet<Value, 32> oneRowValues;
    for (Operation *op : lastRowOps(last)) {
      // Operands from ops before it in the set are one row already; the
      // others are sliced.
      for (unsigned i : rowOperands(op))
        if (!oneRowValues.contains(op->getOperand(i)))
          op->setOperand(i, lastRowOf(b, op->getOperand(i), slices));
      if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
        // The static row count replaces the dynamic output size.
        b.setInsertionPoint(op);
        auto reshaped = tensor::ExpandShapeOp::create(
            b, op->getLoc(), oneRow(expand.getType()), expand.getSrc(),
            expand.getReassociationIndices());
        expand.replaceAllUsesWith(reshaped.getResult());
        expand.erase();
        oneRowValues.insert(reshaped.getResult());
        continue;
      }
      for (Value result : op->getResults()) {
        result.setType(oneRow(result.getType()));
        oneRowValues.insert(result);
      }
    }
    auto returned = cast<func::ReturnOp>(last.getBody().back().getTerminator());
    last.setType(FunctionType::get(last.getContext(),
                                   last.getFunctionType().getInputs(),
                                   returned.getOperandTypes()));
  }
};

} // namespace
