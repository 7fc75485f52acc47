//===- QuantizeLMHead.cpp - an int8 lm_head --------------------------------===//

#include "Int8RowWeights.h"

#include "pquant/Dialect/PQuant/Transforms/Passes.h"

namespace pquant {
#define GEN_PASS_DEF_QUANTIZELMHEAD
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

struct QuantizeLMHeadPass
    : pquant::impl::QuantizeLMHeadBase<QuantizeLMHeadPass> {
  void runOnOperation() override {
    SmallVector<FloatLinearOp> linears;
    getOperation()->walk([&](FloatLinearOp op) { linears.push_back(op); });
    for (FloatLinearOp linear : linears) {
      WeightOp reference =
          floatCheckpointWeight(linear, linear.getWeight(), "an int8 lm_head");
      if (!reference)
        return signalPassFailure();
      OpBuilder b(linear);
      Int8RowWeights weight = createInt8RowWeights(b, linear, reference);
      auto inputType = cast<RankedTensorType>(linear.getInput().getType());
      auto quantize = QuantizeOp::create(
          b, linear.getLoc(),
          RankedTensorType::get(inputType.getShape(), b.getI8Type()),
          RankedTensorType::get({inputType.getDimSize(0)}, b.getF32Type()),
          linear.getInput());
      Value logits = Int8LinearOp::create(
          b, linear.getLoc(), linear.getType(), quantize.getOutput(),
          quantize.getScale(), weight.rows, weight.scales);
      linear.replaceAllUsesWith(logits);
      linear.erase();
      if (reference->use_empty())
        reference.erase();
    }
  }
};

} // namespace
