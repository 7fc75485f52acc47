//===- ExternalizeWeights.cpp - weights from the artifact's data section ----===//

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/Support/MathExtras.h"

namespace pquant {
#define GEN_PASS_DEF_EXTERNALIZEWEIGHTS
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

/// Data-section alignment of every tensor: a cache line, and enough for
/// any vector load the kernels make.
constexpr int64_t kAlignment = 64;

struct ExternalizeWeightsPass
    : pquant::impl::ExternalizeWeightsBase<ExternalizeWeightsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    Builder attrs(context);
    // One offset per (name, type, quantization), shared by every entry point.
    using Key = std::tuple<StringAttr, Type, Attribute>;
    llvm::MapVector<Key, int64_t> offsets;
    int64_t size = 0;
    auto offsetOf = [&](WeightOp weight) {
      Key key{weight.getNameAttr(), weight.getType(),
              weight.getQuantizationAttr()};
      auto [it, inserted] = offsets.try_emplace(key, size);
      if (inserted) {
        auto type = cast<RankedTensorType>(weight.getType());
        int64_t bytes =
            type.getNumElements() * type.getElementTypeBitWidth() / 8;
        size = llvm::alignTo(size + bytes, kAlignment);
      }
      return it->second;
    };

    auto blobType = MemRefType::get({ShapedType::kDynamic},
                                    IntegerType::get(context, 8));
    for (auto func : module.getOps<func::FuncOp>()) {
      SmallVector<WeightOp> weights(func.getOps<WeightOp>());
      if (weights.empty())
        continue;
      if (func.isPrivate()) {
        func.emitError("pquant-externalize-weights: weights used in a "
                       "private function; only entry points receive the "
                       "weights buffer");
        return signalPassFailure();
      }
      if (failed(func.insertArgument(0, blobType, {}, func.getLoc())))
        return signalPassFailure();
      Value blob = func.getArgument(0);
      for (WeightOp weight : weights) {
        OpBuilder b(weight);
        Location loc = weight.getLoc();
        auto type = cast<RankedTensorType>(weight.getType());
        auto viewType = MemRefType::get(type.getShape(), type.getElementType());
        Value shift = arith::ConstantIndexOp::create(b, loc, offsetOf(weight));
        Value view = memref::ViewOp::create(b, loc, viewType, blob, shift,
                                            ValueRange{});
        Value asTensor;
        for (OpOperand &use : llvm::make_early_inc_range(weight->getUses())) {
          auto toBuffer = dyn_cast<bufferization::ToBufferOp>(use.getOwner());
          if (toBuffer && toBuffer.getType() == viewType) {
            toBuffer.replaceAllUsesWith(view);
            toBuffer.erase();
            continue;
          }
          if (type.getEncoding()) {
            use.getOwner()->emitOpError(
                "uses a packed weight other than through a kernel; run "
                "pquant-lower-to-kernels first");
            return signalPassFailure();
          }
          if (!asTensor)
            asTensor = bufferization::ToTensorOp::create(
                b, loc, type, view, /*restrict=*/b.getUnitAttr());
          use.set(asTensor);
        }
        weight.erase();
      }
    }
    if (offsets.empty())
      return;

    SmallVector<Attribute> tensors;
    for (auto [key, offset] : offsets) {
      auto [name, type, quantization] = key;
      SmallVector<NamedAttribute> entry{
          attrs.getNamedAttr("name", name),
          attrs.getNamedAttr("offset", attrs.getI64IntegerAttr(offset)),
          attrs.getNamedAttr("type", TypeAttr::get(type)),
      };
      if (auto form = dyn_cast_or_null<WeightQuantizationAttr>(quantization))
        entry.push_back(attrs.getNamedAttr(
            "quantization",
            attrs.getStringAttr(stringifyWeightQuantization(form.getValue()))));
      tensors.push_back(attrs.getDictionaryAttr(entry));
    }
    module->setAttr("pquant.weights",
                    attrs.getDictionaryAttr({
                        attrs.getNamedAttr("size", attrs.getI64IntegerAttr(size)),
                        attrs.getNamedAttr("tensors", attrs.getArrayAttr(tensors)),
                    }));
  }
};

} // namespace
