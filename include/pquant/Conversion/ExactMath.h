//===- ExactMath.h - transcendental functions that round once ---*- C++ -*-===//
//
// Functions the reference evaluates through numpy, built from arith ops so
// that every target computes the same bits: each is evaluated in f64 and
// rounded to f32 once, which is what a correctly rounded f32 function gives
// but for values within ~1e-17 of a rounding tie. The CPU and GPU lowerings
// both build them; only `floor` differs between targets (the GPU has no
// libdevice to lower math.floor to).
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_CONVERSION_EXACTMATH_H
#define PQUANT_CONVERSION_EXACTMATH_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <utility>

namespace pquant {

/// Rounds f64 values (a scalar or a vector) down to an integer.
using FloorBuilder =
    llvm::function_ref<mlir::Value(mlir::ImplicitLocOpBuilder &, mlir::Value)>;

/// exp(x) of f32 `x` (a scalar or a vector of f32), computed in f64 and
/// rounded once: within half an ulp of the exact value, like a correctly
/// rounded expf. Overflows to inf and underflows to 0 as expf does.
mlir::Value expF32(mlir::ImplicitLocOpBuilder &b, mlir::Value x,
                   FloorBuilder floor);

/// cos(x) and sin(x) of f32 `x` (a scalar or a vector of f32), computed in
/// f64 (Cody-Waite reduction by pi/2 in three parts, exact for |x| < 2^20)
/// and rounded once.
std::pair<mlir::Value, mlir::Value>
cosSinF32(mlir::ImplicitLocOpBuilder &b, mlir::Value x, FloorBuilder floor);

} // namespace pquant

#endif // PQUANT_CONVERSION_EXACTMATH_H
