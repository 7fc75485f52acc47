//===- Int8RowWeights.cpp - per-row int8 forms of a float weight ----------===//

#include "Int8RowWeights.h"

using namespace mlir;
using namespace pquant;

WeightOp pquant::floatCheckpointWeight(Operation *user, Value table,
                                       StringRef what) {
  auto reference = table.getDefiningOp<WeightOp>();
  if (reference && !reference.getQuantization())
    return reference;
  InFlightDiagnostic diag = user->emitOpError("cannot take ")
                            << what
                            << ": its weight is not a float pquant.weight "
                               "read from the checkpoint";
  if (Operation *producer = table.getDefiningOp())
    diag.attachNote(producer->getLoc()) << "the weight comes from here";
  return nullptr;
}

Int8RowWeights pquant::createInt8RowWeights(OpBuilder &b, Operation *user,
                                            WeightOp reference) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(user);
  auto weightType = cast<RankedTensorType>(reference.getType());
  auto quantization = [&](WeightQuantization form) {
    return WeightQuantizationAttr::get(b.getContext(), form);
  };
  Value rows = WeightOp::create(
      b, reference.getLoc(),
      RankedTensorType::get(weightType.getShape(), b.getI8Type()),
      reference.getName(), quantization(WeightQuantization::Int8Rows));
  Value scales = WeightOp::create(
      b, reference.getLoc(),
      RankedTensorType::get({weightType.getDimSize(0)}, b.getF32Type()),
      reference.getName(), quantization(WeightQuantization::Int8RowScales));
  return {rows, scales};
}
