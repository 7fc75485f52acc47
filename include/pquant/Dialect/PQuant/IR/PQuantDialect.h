//===- PQuantDialect.h - pquant dialect -------------------------*- C++ -*-===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTDIALECT_H
#define PQUANT_DIALECT_PQUANT_IR_PQUANTDIALECT_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "pquant/Dialect/PQuant/IR/PQuantDialect.h.inc"

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTDIALECT_H
