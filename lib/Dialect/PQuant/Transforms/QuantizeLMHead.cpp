//===- QuantizeLMHead.cpp - an int8 lm_head --------------------------------===//

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"
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
      auto reference = linear.getWeight().getDefiningOp<WeightOp>();
      if (!reference || reference.getQuantization()) {
        InFlightDiagnostic diag = linear.emitOpError(
            "cannot take an int8 lm_head: its weight is not a float "
            "pquant.weight read from the checkpoint");
        if (Operation *producer = linear.getWeight().getDefiningOp())
          diag.attachNote(producer->getLoc()) << "the weight comes from here";
        return signalPassFailure();
      }
      auto weightType = cast<RankedTensorType>(reference.getType());
      auto inputType = cast<RankedTensorType>(linear.getInput().getType());
      int64_t rows = weightType.getDimSize(0);
      OpBuilder b(linear);
      Location loc = linear.getLoc();
      auto quantization = [&](WeightQuantization form) {
        return WeightQuantizationAttr::get(b.getContext(), form);
      };
      Value weight = WeightOp::create(
          b, reference.getLoc(),
          RankedTensorType::get(weightType.getShape(), b.getI8Type()),
          reference.getName(), quantization(WeightQuantization::Int8Rows));
      Value scales = WeightOp::create(
          b, reference.getLoc(), RankedTensorType::get({rows}, b.getF32Type()),
          reference.getName(), quantization(WeightQuantization::Int8RowScales));
      auto quantize = QuantizeOp::create(
          b, loc,
          RankedTensorType::get(inputType.getShape(), b.getI8Type()),
          RankedTensorType::get({inputType.getDimSize(0)}, b.getF32Type()),
          linear.getInput());
      Value logits = Int8LinearOp::create(
          b, loc, linear.getType(), quantize.getOutput(), quantize.getScale(),
          weight, scales);
      linear.replaceAllUsesWith(logits);
      linear.erase();
      if (reference->use_empty())
        reference.erase();
    }
  }
};

} // namespace
