//===- PackWeights.cpp - repack 1-bit weights into a target layout ----------===//

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/DenseMap.h"

#include <cstddef>

namespace pquant {
#define GEN_PASS_DEF_PACKWEIGHTS
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

/// The logical ±1 matrix of a constant 1-bit weight, one byte per bit
/// (1 = +1), or failure when the data is not readable.
FailureOr<std::vector<uint8_t>> readBits(Attribute data, RankedTensorType type,
                                         int64_t rows, int64_t cols) {
  PackedLayoutAttr layout = getPackedLayout(type);
  if (!layout) { // unpacked tensor<NxKxi1>
    auto dense = dyn_cast<DenseElementsAttr>(data);
    if (!dense)
      return failure();
    std::vector<uint8_t> bits(rows * cols);
    llvm::copy(dense.getValues<bool>(), bits.begin());
    return bits;
  }
  if (auto dense = dyn_cast<DenseElementsAttr>(data))
    return unpackBits(dense.getRawData(), layout);
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(data))
    if (AsmResourceBlob *blob = resource.getRawHandle().getBlob())
      return unpackBits(blob->getData(), layout);
  return failure();
}

struct PackWeightsPass : pquant::impl::PackWeightsBase<PackWeightsPass> {
  using PackWeightsBase::PackWeightsBase;

  void runOnOperation() override {
    std::optional<BitOrder> order = symbolizeBitOrder(bitOrder);
    if (!order) {
      getOperation()->emitError("pquant-pack-weights: unknown bit-order '")
          << bitOrder << "', expected 'lsb_first' or 'msb_first'";
      return signalPassFailure();
    }
    // One repacked value per (weight, layout), however many ops use it.
    DenseMap<std::pair<Value, Attribute>, Value> packed;
    WalkResult result = getOperation()->walk([&](BitLinearOp op) {
      auto type = cast<RankedTensorType>(op.getWeight().getType());
      int64_t rows = op.getResult().getType().getDimSize(1);
      int64_t cols = op.getInput().getType().getDimSize(1);
      auto emitError = [&] { return op.emitOpError("cannot pack its weight: "); };
      PackedLayoutAttr layout = PackedLayoutAttr::getChecked(
          function_ref<InFlightDiagnostic()>(emitError), &getContext(), rows,
          cols, word.getValue(), tileRows.getValue(), tileWords.getValue(),
          *order);
      if (!layout)
        return WalkResult::interrupt();
      if (getPackedLayout(type) == layout)
        return WalkResult::advance();
      Value &replacement = packed[{op.getWeight(), layout}];
      if (!replacement)
        replacement = repack(op, layout);
      if (!replacement)
        return WalkResult::interrupt();
      op.getWeightMutable().assign(replacement);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    // The original producers are dead once every user was repacked.
    for (auto &[key, replacement] : packed)
      if (Operation *original = key.first.getDefiningOp())
        if (original->use_empty())
          original->erase();
  }

  /// The weight of `op` in `layout`, or null after reporting why not.
  Value repack(BitLinearOp op, PackedLayoutAttr layout) {
    Value weight = op.getWeight();
    auto storage = RankedTensorType::get(layout.getStorageShape(),
                                         layout.getWordType(), layout);
    OpBuilder b(op);
    if (auto reference = weight.getDefiningOp<WeightOp>()) {
      b.setInsertionPointAfter(reference);
      return WeightOp::create(b, reference.getLoc(), storage,
                              reference.getName());
    }
    if (auto constant = weight.getDefiningOp<arith::ConstantOp>()) {
      FailureOr<std::vector<uint8_t>> bits =
          readBits(constant.getValue(), cast<RankedTensorType>(weight.getType()),
                   layout.getRows(), layout.getCols());
      if (failed(bits)) {
        op.emitOpError("cannot read the bits of its constant weight")
                .attachNote(constant.getLoc())
            << "the constant is here";
        return {};
      }
      std::vector<char> raw = packBits(*bits, layout);
      auto data = DenseResourceElementsAttr::get(
          storage, "packed_weight",
          HeapAsmResourceBlob::allocateAndCopyWithAlign(
              raw, alignof(std::max_align_t)));
      b.setInsertionPointAfter(constant);
      return arith::ConstantOp::create(b, constant.getLoc(), storage, data);
    }
    InFlightDiagnostic diag =
        op.emitOpError("cannot pack a 1-bit weight that is neither a constant "
                       "nor a pquant.weight");
    if (Operation *producer = weight.getDefiningOp())
      diag.attachNote(producer->getLoc()) << "the weight comes from here";
    else
      diag.attachNote() << "the weight is a block argument; pass it already "
                           "packed, or as a pquant.weight";
    return {};
  }
};

} // namespace
