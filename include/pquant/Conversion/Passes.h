//===- Passes.h - pquant conversion passes ----------------------*- C++ -*-===//

#ifndef PQUANT_CONVERSION_PASSES_H
#define PQUANT_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace pquant {

#define GEN_PASS_DECL
#include "pquant/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "pquant/Conversion/Passes.h.inc"

} // namespace pquant

#endif // PQUANT_CONVERSION_PASSES_H
