//===- DecomposeDecoupled.cpp - split decoupled FFNs into branches ----------===//

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace pquant {
#define GEN_PASS_DEF_DECOMPOSEDECOUPLED
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

/// One linear layer applied to quantized activations `(q, s)`.
using LinearFn = llvm::function_ref<Value(Value q, Value s)>;

/// Builds the per-token quantize of `x`, returning (q, s).
std::pair<Value, Value> buildQuantize(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  auto qType = type.clone(b.getI8Type());
  auto sType = RankedTensorType::get({type.getDimSize(0)}, b.getF32Type());
  auto op = QuantizeOp::create(b, loc, qType, sType, x);
  return {op.getOutput(), op.getScale()};
}

/// `[M, n]` f32, the result type of a linear layer over `q` with n outputs.
RankedTensorType linearResultType(Value q, int64_t n) {
  auto type = cast<RankedTensorType>(q.getType());
  return RankedTensorType::get({type.getDimSize(0), n},
                               Float32Type::get(q.getContext()));
}

/// Output channels of a 1-bit weight, packed or not.
int64_t binaryRows(Type weight) {
  if (PackedLayoutAttr layout = getPackedLayout(weight))
    return layout.getRows();
  return cast<RankedTensorType>(weight).getDimSize(0);
}

/// `down(quantize(silu(gate(q, s)) * up(q, s)))`: the SwiGLU both branches share.
Value buildSwiGLU(OpBuilder &b, Location loc, Value q, Value s, LinearFn gate,
                  LinearFn up, LinearFn down) {
  Value gated = gate(q, s);
  Value hidden = SiluMulOp::create(b, loc, gated.getType(), gated, up(q, s));
  auto [hq, hs] = buildQuantize(b, loc, hidden);
  return down(hq, hs);
}

/// Drops the leading unit expert dimension: `[1, a, b] -> [a, b]`, `[1, a] -> [a]`.
Value dropExpertDim(OpBuilder &b, Location loc, Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<ReassociationIndices> groups = {{0, 1}};
  for (int64_t dim = 2; dim < type.getRank(); ++dim)
    groups.push_back({dim});
  return tensor::CollapseShapeOp::create(b, loc, value, groups);
}

struct DecomposeDecoupledFFN : OpRewritePattern<DecoupledFFNOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DecoupledFFNOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value input = op.getInput();
    Value normed = input;
    if (op.getSubln())
      normed = RMSNormOp::create(rewriter, loc, input.getType(), input,
                                 /*weight=*/Value(), op.getEpsAttr());
    auto [q, s] = buildQuantize(rewriter, loc, normed);

    auto bitLinear = [&](Value weight, Value scale) {
      return [&rewriter, loc, weight, scale](Value q, Value s) -> Value {
        return BitLinearOp::create(
            rewriter, loc, linearResultType(q, binaryRows(weight.getType())),
            q, s, weight, scale);
      };
    };
    auto gate1 = bitLinear(op.getGate1(), op.getGate1Scale());
    auto up1 = bitLinear(op.getUp1(), op.getUp1Scale());
    auto down1 = bitLinear(op.getDown1(), op.getDown1Scale());
    Value binary = buildSwiGLU(rewriter, loc, q, s, gate1, up1, down1);

    SmallVector<Value> experts;
    Value gates;
    if (Value router = op.getRouter()) {
      int64_t topK = op.getTopK();
      auto inputType = cast<RankedTensorType>(input.getType());
      auto routeOp = RouterOp::create(
          rewriter, loc,
          RankedTensorType::get({inputType.getDimSize(0), topK},
                                rewriter.getI32Type()),
          RankedTensorType::get({inputType.getDimSize(0), topK},
                                rewriter.getF32Type()),
          input, router, op.getTopKAttr());
      gates = routeOp.getGates();
      for (int64_t slot = 0; slot < topK; ++slot) {
        auto expertLinear = [&](Value weight, Value scale) {
          return [&rewriter, loc, weight, scale, slot,
                  ids = routeOp.getExperts()](Value q, Value s) -> Value {
            int64_t n = cast<RankedTensorType>(weight.getType()).getDimSize(1);
            return ExpertLinearOp::create(rewriter, loc,
                                          linearResultType(q, n), q, s, weight,
                                          scale, ids,
                                          rewriter.getI64IntegerAttr(slot));
          };
        };
        auto gate8 = expertLinear(op.getGate8(), op.getGate8Scale());
        auto up8 = expertLinear(op.getUp8(), op.getUp8Scale());
        auto down8 = expertLinear(op.getDown8(), op.getDown8Scale());
        experts.push_back(buildSwiGLU(rewriter, loc, q, s, gate8, up8, down8));
      }
    } else {
      auto int8Linear = [&](Value weight, Value scale) {
        Value dense = dropExpertDim(rewriter, loc, weight);
        Value denseScale = dropExpertDim(rewriter, loc, scale);
        return [&rewriter, loc, dense, denseScale](Value q, Value s) -> Value {
          int64_t n = cast<RankedTensorType>(dense.getType()).getDimSize(0);
          return Int8LinearOp::create(rewriter, loc, linearResultType(q, n), q,
                                      s, dense, denseScale);
        };
      };
      auto gate8 = int8Linear(op.getGate8(), op.getGate8Scale());
      auto up8 = int8Linear(op.getUp8(), op.getUp8Scale());
      auto down8 = int8Linear(op.getDown8(), op.getDown8Scale());
      experts.push_back(buildSwiGLU(rewriter, loc, q, s, gate8, up8, down8));
    }

    // Gate weighting needs a router: with one expert its gate is 1.
    UnitAttr gateWeighting =
        gates && op.getGateWeighting() ? rewriter.getUnitAttr() : UnitAttr();
    rewriter.replaceOpWithNewOp<CombineOp>(op, input.getType(), binary,
                                           experts, gates, op.getAlphaAttr(),
                                           op.getBetaAttr(), gateWeighting);
    return success();
  }
};

struct DecomposeDecoupledPass
    : pquant::impl::DecomposeDecoupledBase<DecomposeDecoupledPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateDecomposeDecoupledPatterns(patterns);
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};

} // namespace

void pquant::populateDecomposeDecoupledPatterns(RewritePatternSet &patterns) {
  patterns.add<DecomposeDecoupledFFN>(patterns.getContext());
}
