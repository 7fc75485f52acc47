//===- ExactMath.cpp - transcendental functions that round once -----------===//

#include "pquant/Conversion/ExactMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;

namespace {
/// `type` with element type `element` (a vector keeps its shape).
Type withElement(Type type, Type element) {
  if (auto vector = dyn_cast<VectorType>(type))
    return vector.clone(element);
  return element;
}

/// A constant of `type` (scalar or vector) with every lane `value`.
Value constantOf(ImplicitLocOpBuilder &b, Type type, double value) {
  Type element = getElementTypeOrSelf(type);
  TypedAttr lane = isa<FloatType>(element)
                       ? TypedAttr(b.getFloatAttr(element, value))
                       : b.getIntegerAttr(element, int64_t(value));
  if (auto vector = dyn_cast<VectorType>(type))
    return arith::ConstantOp::create(b, vector,
                                     SplatElementsAttr::get(vector, lane));
  return arith::ConstantOp::create(b, type, lane);
}
} // namespace

Value pquant::expF32(ImplicitLocOpBuilder &b, Value x, FloorBuilder floor) {
  Type f64Type = withElement(x.getType(), b.getF64Type());
  Type i64Type = withElement(x.getType(), b.getI64Type());
  auto f64 = [&](double value) { return constantOf(b, f64Type, value); };
  auto i64 = [&](int64_t value) { return constantOf(b, i64Type, value); };
  Value xd = arith::ExtFOp::create(b, f64Type, x);
  // Beyond ±200 the f32 result is 0 or inf; the clamp keeps 2^k normal.
  xd = arith::MinimumFOp::create(
      b, arith::MaximumFOp::create(b, xd, f64(-200.0)), f64(200.0));
  // x = k·ln2 + r, |r| <= ln2/2; ln2_hi has 32 trailing zero bits, so
  // k·ln2_hi is exact (fdlibm's split).
  Value k = floor(b, arith::AddFOp::create(
                         b, arith::MulFOp::create(b, xd, f64(1.4426950408889634)),
                         f64(0.5)));
  Value r = arith::SubFOp::create(
      b,
      arith::SubFOp::create(
          b, xd, arith::MulFOp::create(b, k, f64(6.93147180369123816490e-01))),
      arith::MulFOp::create(b, k, f64(1.90821492927058770002e-10)));
  // Taylor series to r^13/13!: the remainder is below 1e-17 relative.
  Value p = f64(1.0 / 6227020800.0); // 1/13!
  double factorial = 6227020800.0;
  for (int n = 12; n >= 0; --n) {
    factorial /= (n + 1);
    p = arith::AddFOp::create(b, arith::MulFOp::create(b, p, r),
                              f64(1.0 / factorial));
  }
  // 2^k in two halves, each a normal double for |k| <= 289.
  Value ki = arith::FPToSIOp::create(b, i64Type, k);
  Value half = arith::ShRSIOp::create(b, ki, i64(1));
  Value rest = arith::SubIOp::create(b, ki, half);
  auto power = [&](Value e) -> Value {
    return arith::BitcastOp::create(
        b, f64Type,
        arith::ShLIOp::create(b, arith::AddIOp::create(b, e, i64(1023)),
                              i64(52)));
  };
  Value result = arith::MulFOp::create(
      b, arith::MulFOp::create(b, p, power(half)), power(rest));
  return arith::TruncFOp::create(b, x.getType(), result);
}
