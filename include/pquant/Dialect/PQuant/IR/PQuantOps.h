//===- PQuantOps.h - pquant operations --------------------------*- C++ -*-===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTOPS_H
#define PQUANT_DIALECT_PQUANT_IR_PQUANTOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "pquant/Dialect/PQuant/IR/PQuantAttributes.h"
#include "pquant/Dialect/PQuant/IR/PQuantDialect.h"

#define GET_OP_CLASSES
#include "pquant/Dialect/PQuant/IR/PQuantOps.h.inc"

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTOPS_H
