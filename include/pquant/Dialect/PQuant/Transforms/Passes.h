//===- Passes.h - pquant dialect passes -------------------------*- C++ -*-===//

#ifndef PQUANT_DIALECT_PQUANT_TRANSFORMS_PASSES_H
#define PQUANT_DIALECT_PQUANT_TRANSFORMS_PASSES_H

#include "pquant/Dialect/PQuant/IR/PQuantDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
} // namespace mlir

namespace pquant {

#define GEN_PASS_DECL
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"

/// Adds the pattern that rewrites pquant.decoupled_ffn into branch ops.
void populateDecomposeDecoupledPatterns(mlir::RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"

} // namespace pquant

#endif // PQUANT_DIALECT_PQUANT_TRANSFORMS_PASSES_H
