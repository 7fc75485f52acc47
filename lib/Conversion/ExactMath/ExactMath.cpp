//===- ExactMath.cpp - transcendental functions that round once -----------===//

#include "pquant/Conversion/ExactMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/TypeUtilities.h"

#include <vector>

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

/// a·x + c, which LLVM may fuse into one FMA where the target has it: a
/// Horner step then costs one instruction instead of a dependent multiply
/// and add (the f64 result differs in its last bits, far below the f32
/// rounding that follows).
Value mulAdd(ImplicitLocOpBuilder &b, Value a, Value x, Value c) {
  auto contract = arith::FastMathFlags::contract;
  return arith::AddFOp::create(b, arith::MulFOp::create(b, a, x, contract), c,
                               contract);
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
    p = mulAdd(b, p, r, f64(1.0 / factorial));
  }
  // 2^k is a normal double for |k| <= 289, and scaling by it is exact.
  Value power = arith::BitcastOp::create(
      b, f64Type,
      arith::ShLIOp::create(
          b, arith::AddIOp::create(b, arith::FPToSIOp::create(b, i64Type, k), i64(1023)),
          i64(52)));
  Value result = arith::MulFOp::create(b, p, power);
  return arith::TruncFOp::create(b, x.getType(), result);
}

std::pair<Value, Value> pquant::cosSinF32(ImplicitLocOpBuilder &b, Value x,
                                          FloorBuilder floor) {
  Type f64Type = withElement(x.getType(), b.getF64Type());
  Type i64Type = withElement(x.getType(), b.getI64Type());
  auto f64 = [&](double value) { return constantOf(b, f64Type, value); };
  auto i64 = [&](int64_t value) { return constantOf(b, i64Type, value); };
  Value xd = arith::ExtFOp::create(b, f64Type, x);
  Value k = floor(b, arith::AddFOp::create(
                         b, arith::MulFOp::create(b, xd, f64(6.36619772367581382433e-01)),
                         f64(0.5)));
  // pi/2 = P1 + P2 + P3 (fdlibm's pio2_1, pio2_2, pio2_3: 33 significant bits
  // each for the first two, so k·P1 and k·P2 are exact for |k| < 2^20).
  Value r = xd;
  for (double part : {1.57079632673412561417e+00, 6.07710050630396597660e-11,
                      2.02226624871116645580e-21})
    r = arith::SubFOp::create(b, r, arith::MulFOp::create(b, k, f64(part)));
  Value z = arith::MulFOp::create(b, r, r);
  // Taylor series of sin and cos on |r| <= pi/4 to r^17 and r^18.
  auto series = [&](int first) {
    // Σ_{n = first, first + 2, ...} (−1)^((n − first)/2) z^((n−first)/2) / n!
    std::vector<double> coefficients;
    double factorial = 1;
    for (int n = 1; n <= first; ++n)
      factorial *= n;
    for (int n = first, sign = 1; n <= first + 16; n += 2, sign = -sign) {
      coefficients.push_back(sign / factorial);
      factorial *= double(n + 1) * double(n + 2);
    }
    Value p = f64(coefficients.back());
    for (int i = int(coefficients.size()) - 2; i >= 0; --i)
      p = mulAdd(b, p, z, f64(coefficients[i]));
    return p;
  };
  Value s = arith::MulFOp::create(b, r, series(1));
  Value c = series(0);
  // The quadrant k mod 4 swaps and negates them.
  Value q = arith::FPToSIOp::create(b, i64Type, k);
  auto bit = [&](Value v, int64_t mask) -> Value {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                                 arith::AndIOp::create(b, v, i64(mask)), i64(0));
  };
  Value swap = bit(q, 1);
  Value sv = arith::SelectOp::create(b, swap, c, s);
  Value cv = arith::SelectOp::create(b, swap, s, c);
  Value sinNeg = bit(q, 2);
  Value cosNeg = bit(arith::AddIOp::create(b, q, i64(1)), 2);
  Value sinD = arith::SelectOp::create(b, sinNeg, arith::NegFOp::create(b, sv), sv);
  Value cosD = arith::SelectOp::create(b, cosNeg, arith::NegFOp::create(b, cv), cv);
  return {arith::TruncFOp::create(b, x.getType(), cosD),
          arith::TruncFOp::create(b, x.getType(), sinD)};
}
