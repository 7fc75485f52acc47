//===- PQuantAttributes.h - pquant attributes -------------------*- C++ -*-===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTATTRIBUTES_H
#define PQUANT_DIALECT_PQUANT_IR_PQUANTATTRIBUTES_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/TensorEncoding.h"

#include "pquant/Dialect/PQuant/IR/PQuantEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "pquant/Dialect/PQuant/IR/PQuantAttributes.h.inc"

namespace pquant {

/// True for a ranked tensor whose encoding is a #pquant.packed layout.
bool isPackedWeightType(mlir::Type type);

/// The layout of a packed 1-bit weight, or null when `type` is not packed.
PackedLayoutAttr getPackedLayout(mlir::Type type);

} // namespace pquant

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTATTRIBUTES_H
