//===- LowerLookupBytes.cpp - pquant.lookup_bytes to a table lookup -------===//

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace pquant {
#define GEN_PASS_DEF_LOWERLOOKUPBYTES
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

/// The lookups one lane at a time from the table as one 2N-lane vector.
Value expandLookupBytes(OpBuilder &b, LookupBytesOp op) {
  Location loc = op.getLoc();
  VectorType type = op.getType();
  int64_t lanes = type.getNumElements();
  SmallVector<int64_t> both;
  for (int64_t lane = 0; lane < 2 * lanes; ++lane)
    both.push_back(lane);
  Value table =
      vector::ShuffleOp::create(b, loc, op.getLow(), op.getHigh(), both);
  Value mask = arith::ConstantOp::create(
      b, loc, b.getIntegerAttr(b.getI8Type(), 2 * lanes - 1));
  Value result = op.getIndex();
  for (int64_t lane = 0; lane < lanes; ++lane) {
    Value index = arith::AndIOp::create(
        b, loc, vector::ExtractOp::create(b, loc, op.getIndex(), lane), mask);
    // The masked index is below 128: zero extension keeps it.
    Value position = arith::IndexCastUIOp::create(b, loc, b.getIndexType(), index);
    Value entry = vector::ExtractOp::create(b, loc, table, OpFoldResult(position));
    result = vector::InsertOp::create(b, loc, entry, result, lane);
  }
  return result;
}

struct LowerLookupBytesPass
    : pquant::impl::LowerLookupBytesBase<LowerLookupBytesPass> {
  using LowerLookupBytesBase::LowerLookupBytesBase;

  void runOnOperation() override {
    if (instruction != "generic" && instruction != "vbmi") {
      getOperation()->emitError("pquant-lower-lookup-bytes: unknown instruction '")
          << instruction << "', expected 'generic' or 'vbmi'";
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());
    getOperation()->walk([&](LookupBytesOp op) {
      rewriter.setInsertionPoint(op);
      Value result =
          instruction == "vbmi" && op.getType().getNumElements() == 64
              ? LLVM::CallIntrinsicOp::create(
                    rewriter, op.getLoc(), op.getType(),
                    rewriter.getStringAttr("llvm.x86.avx512.vpermi2var.qi.512"),
                    ValueRange{op.getLow(), op.getIndex(), op.getHigh()})
                    .getResult(0)
              : expandLookupBytes(rewriter, op);
      rewriter.replaceOp(op, result);
    });
  }
};

} // namespace
