//===- KernelBuilder.h - helpers for building kernel bodies -----*- C++ -*-===//
//
// Kernels are func.func ops on memrefs whose bodies are scf loops over
// vector/arith/math ops. This header holds the small helpers every kernel
// body uses; it is private to the PQuantToKernels conversion.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_LIB_CONVERSION_PQUANTTOKERNELS_KERNELBUILDER_H
#define PQUANT_LIB_CONVERSION_PQUANTTOKERNELS_KERNELBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace pquant::kernels {

/// An index constant.
inline mlir::Value index(mlir::ImplicitLocOpBuilder &b, int64_t value) {
  return mlir::arith::ConstantIndexOp::create(b, value);
}

/// A scalar constant of integer or float type `type`.
inline mlir::Value scalar(mlir::ImplicitLocOpBuilder &b, mlir::Type type,
                          double value) {
  if (mlir::isa<mlir::FloatType>(type))
    return mlir::arith::ConstantOp::create(b, type,
                                           b.getFloatAttr(type, value));
  return mlir::arith::ConstantOp::create(
      b, type, b.getIntegerAttr(type, int64_t(value)));
}

/// A vector constant with every lane `value`.
inline mlir::Value splat(mlir::ImplicitLocOpBuilder &b, mlir::VectorType type,
                         double value) {
  mlir::Type element = type.getElementType();
  mlir::Attribute lane = mlir::isa<mlir::FloatType>(element)
                             ? mlir::Attribute(b.getFloatAttr(element, value))
                             : b.getIntegerAttr(element, int64_t(value));
  return mlir::arith::ConstantOp::create(
      b, type, mlir::SplatElementsAttr::get(type, lane));
}

using LoopBody = llvm::function_ref<llvm::SmallVector<mlir::Value>(
    mlir::ImplicitLocOpBuilder &, mlir::Value iv, mlir::ValueRange)>;

/// `for (iv = lower; iv < upper; iv += step)` with loop-carried values;
/// `body` returns the values to yield.
mlir::ValueRange forLoopFrom(mlir::ImplicitLocOpBuilder &b, mlir::Value lower,
                             mlir::Value upper, int64_t step,
                             mlir::ValueRange init, LoopBody body);

/// forLoopFrom starting at 0.
mlir::ValueRange forLoop(mlir::ImplicitLocOpBuilder &b, mlir::Value upper,
                         int64_t step, mlir::ValueRange init, LoopBody body);

using BlockBody = llvm::function_ref<void(mlir::ImplicitLocOpBuilder &,
                                           llvm::ArrayRef<mlir::Value> ivs)>;

/// Iterations [first, last): `block` consecutive ones at a time while whole
/// blocks remain, then the rest one by one. `body` gets the iterations it
/// runs together (`block` of them, or one), so that a kernel can share loads
/// across a block and still cover any count.
void forBlocksThenSingles(mlir::ImplicitLocOpBuilder &b, mlir::Value first,
                          mlir::Value last, int64_t block, BlockBody body);

using ParallelBody =
    llvm::function_ref<void(mlir::ImplicitLocOpBuilder &, mlir::Value iv)>;

/// `for (iv = 0; iv < upper; ++iv)` whose iterations are independent and may
/// run on different threads (pquant-outline-parallel-loops). The body reads
/// what it likes but writes only what no other iteration touches; what it
/// allocates on the stack is private to the iteration.
void parallelLoop(mlir::ImplicitLocOpBuilder &b, mlir::Value upper,
                  ParallelBody body);

/// Reads `type` (1-D) from `buffer` at `indices`, the last index running
/// along the vector; lanes past the buffer's last dimension read `padding`.
/// `inBounds` promises no lane is past it, which saves the mask.
mlir::Value readVector(mlir::ImplicitLocOpBuilder &b, mlir::VectorType type,
                       mlir::Value buffer, mlir::ValueRange indices,
                       double padding, bool inBounds);

/// Prefetches buffer[indices] for reading into L2 (x86 prefetcht1), as the
/// GEMV kernels do for the weights they read kPrefetchBytes later. L2, not
/// L1: decode of the 1.3B model on 1 thread, every weight from memory,
/// 31.3-32.6 → 36.0-36.4 tokens/s for the bit-serial GEMV; the int8
/// linear's, with --lm-head=int8, 50.3-51.3 → 57.1-60.8 (2 threads:
/// 81.3-83.4 → 88.8-92.8).
void prefetchToL2(mlir::ImplicitLocOpBuilder &b, mlir::Value buffer,
                  mlir::ValueRange indices);

/// Writes `value` (1-D) to `buffer` at `indices`; lanes past the buffer's
/// last dimension are dropped unless `inBounds` promises there are none.
void writeVector(mlir::ImplicitLocOpBuilder &b, mlir::Value value,
                 mlir::Value buffer, mlir::ValueRange indices, bool inBounds);

/// Sums of `parts` (P vectors of W lanes each, integer or float, P <= W,
/// both powers of two): lane i of the result (a vector of P lanes) is the
/// sum of the lanes of parts[i]. About 3·P vector operations, where a
/// horizontal reduction of each part would take about 2·log2(W) each.
mlir::Value sumEachPart(mlir::ImplicitLocOpBuilder &b,
                        llvm::SmallVector<mlir::Value> parts);

/// exp(x) of f32s (a scalar or a vector), rounded once from f64
/// (pquant::expF32): vectorized, where math.exp of a vector would call expf
/// lane by lane.
mlir::Value exactExp(mlir::ImplicitLocOpBuilder &b, mlir::Value x);
/// cos(x) and sin(x) of f32s (a scalar or a vector), rounded once from f64
/// (pquant::cosSinF32).
std::pair<mlir::Value, mlir::Value> exactCosSin(mlir::ImplicitLocOpBuilder &b,
                                                mlir::Value x);

/// Turns buffer[0 .. count) (f32 scores whose maximum is `max`) into their
/// softmax in place: exp(x − max), divided by the sum accumulated in f64 and
/// rounded to f32 once, as the reference computes it.
void softmaxInPlace(mlir::ImplicitLocOpBuilder &b, mlir::Value buffer,
                    mlir::Value count, mlir::Value max);

} // namespace pquant::kernels

#endif // PQUANT_LIB_CONVERSION_PQUANTTOKERNELS_KERNELBUILDER_H
