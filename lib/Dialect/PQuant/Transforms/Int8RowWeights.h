//===- Int8RowWeights.h - per-row int8 forms of a float weight --*- C++ -*-===//
//
// Shared by the passes that move a float table (the lm_head, the embedding)
// to int8 weights quantized per row. Private to PQuantTransforms.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_LIB_DIALECT_PQUANT_TRANSFORMS_INT8ROWWEIGHTS_H
#define PQUANT_LIB_DIALECT_PQUANT_TRANSFORMS_INT8ROWWEIGHTS_H

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"

namespace pquant {

/// The int8 rows and f32 row scales of a float [N, K] checkpoint weight.
struct Int8RowWeights {
  mlir::Value rows;   // tensor<NxKxi8>
  mlir::Value scales; // tensor<Nxf32>
};

/// The float `pquant.weight` that `table` (an operand of `user`) is, or
/// null after reporting why it cannot be quantized (`what` names the table
/// in the message: "an int8 lm_head").
WeightOp floatCheckpointWeight(mlir::Operation *user, mlir::Value table,
                               llvm::StringRef what);

/// Builds, before `user`, the weights `quantized int8_rows` and
/// `int8_row_scales` of `reference`; the artifact writer computes them from
/// the checkpoint tensor.
Int8RowWeights createInt8RowWeights(mlir::OpBuilder &b, mlir::Operation *user,
                                    WeightOp reference);

} // namespace pquant

#endif // PQUANT_LIB_DIALECT_PQUANT_TRANSFORMS_INT8ROWWEIGHTS_H
