//===- LowerDot4.cpp - pquant.dot4 to the target's dot product --------------===//

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace pquant {
#define GEN_PASS_DEF_LOWERDOT4
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

/// acc + Σ groups of four of ext(lhs) · ext(rhs), in plain 1-D vector ops:
/// the products, then lanes j, j + 4, j + 8, ... gathered and added for each
/// position j of a group.
Value expandDot4(OpBuilder &b, Dot4Op op) {
  Location loc = op.getLoc();
  int64_t lanes = op.getAcc().getType().getNumElements();
  auto wide = VectorType::get({4 * lanes}, b.getI32Type());
  Value lhs = op.getUnsignedLhs()
                  ? Value(arith::ExtUIOp::create(b, loc, wide, op.getLhs()))
                  : Value(arith::ExtSIOp::create(b, loc, wide, op.getLhs()));
  Value rhs = arith::ExtSIOp::create(b, loc, wide, op.getRhs());
  Value products = arith::MulIOp::create(b, loc, lhs, rhs);
  Value sum = op.getAcc();
  for (int64_t position = 0; position < 4; ++position) {
    SmallVector<int64_t> gather;
    for (int64_t lane = 0; lane < lanes; ++lane)
      gather.push_back(4 * lane + position);
    Value part =
        vector::ShuffleOp::create(b, loc, products, products, gather);
    sum = arith::AddIOp::create(b, loc, sum, part);
  }
  return sum;
}

struct LowerDot4Pass : pquant::impl::LowerDot4Base<LowerDot4Pass> {
  using LowerDot4Base::LowerDot4Base;

  void runOnOperation() override {
    if (instruction != "generic" && instruction != "vnni" &&
        instruction != "sdot") {
      getOperation()->emitError("pquant-lower-dot4: unknown instruction '")
          << instruction << "', expected 'generic', 'vnni' or 'sdot'";
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());
    getOperation()->walk([&](Dot4Op op) {
      rewriter.setInsertionPoint(op);
      int64_t lanes = op.getAcc().getType().getNumElements();
      StringRef intrinsic;
      if (instruction == "vnni" && lanes == 16 && op.getUnsignedLhs())
        intrinsic = "llvm.x86.avx512.vpdpbusd.512";
      else if (instruction == "sdot" && lanes == 4 && !op.getUnsignedLhs())
        intrinsic = "llvm.aarch64.neon.sdot.v4i32.v16i8";
      Value result =
          intrinsic.empty()
              ? expandDot4(rewriter, op)
              : LLVM::CallIntrinsicOp::create(
                    rewriter, op.getLoc(), op.getType(),
                    rewriter.getStringAttr(intrinsic),
                    ValueRange{op.getAcc(), op.getLhs(), op.getRhs()})
                    .getResult(0);
      rewriter.replaceOp(op, result);
    });
  }
};

} // namespace
