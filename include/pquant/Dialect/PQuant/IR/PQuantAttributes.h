//===- PQuantAttributes.h - pquant attributes -------------------*- C++ -*-===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTATTRIBUTES_H
#define PQUANT_DIALECT_PQUANT_IR_PQUANTATTRIBUTES_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/TensorEncoding.h"
#include "mlir/Support/LLVM.h"

#include <vector>

#include "pquant/Dialect/PQuant/IR/PQuantEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "pquant/Dialect/PQuant/IR/PQuantAttributes.h.inc"

namespace pquant {

/// True for a ranked tensor whose encoding is a #pquant.packed layout.
bool isPackedWeightType(mlir::Type type);

/// The layout of a packed 1-bit weight, or null when `type` is not packed.
PackedLayoutAttr getPackedLayout(mlir::Type type);

/// The logical rows × cols ±1 matrix held by `raw` (little-endian words in
/// `layout`), one byte per weight, 1 for +1; failure when `raw` has the
/// wrong size.
mlir::FailureOr<std::vector<uint8_t>> unpackBits(llvm::ArrayRef<char> raw,
                                                 PackedLayoutAttr layout);

/// `bits` (one byte per weight, row-major rows × cols, nonzero for +1)
/// packed into `layout`, padding clear.
std::vector<char> packBits(llvm::ArrayRef<uint8_t> bits,
                           PackedLayoutAttr layout);

} // namespace pquant

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTATTRIBUTES_H
