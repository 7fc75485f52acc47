//===- KernelBuilder.cpp - helpers for building kernel bodies ---------------===//

#include "KernelBuilder.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;

ValueRange pquant::kernels::forLoop(ImplicitLocOpBuilder &b, Value upper,
                                    int64_t step, ValueRange init,
                                    LoopBody body) {
  return forLoopFrom(b, index(b, 0), upper, step, init, body);
}

ValueRange pquant::kernels::forLoopFrom(ImplicitLocOpBuilder &b, Value lower,
                                        Value upper, int64_t step,
                                        ValueRange init, LoopBody body) {
  auto loop = scf::ForOp::create(
      b, lower, upper, index(b, step), init,
      [&](OpBuilder &nested, Location loc, Value iv, ValueRange carried) {
        ImplicitLocOpBuilder inner(loc, nested);
        SmallVector<Value> yielded = body(inner, iv, carried);
        scf::YieldOp::create(inner, yielded);
      });
  return loop.getResults();
}

void pquant::kernels::parallelLoop(ImplicitLocOpBuilder &b, Value upper,
                                   ParallelBody body) {
  scf::ParallelOp::create(
      b, ValueRange{index(b, 0)}, ValueRange{upper}, ValueRange{index(b, 1)},
      [&](OpBuilder &nested, Location loc, ValueRange ivs) {
        ImplicitLocOpBuilder inner(loc, nested);
        body(inner, ivs[0]);
      });
}

Value pquant::kernels::readVector(ImplicitLocOpBuilder &b, VectorType type,
                                  Value buffer, ValueRange indices,
                                  double padding, bool inBounds) {
  auto memref = cast<MemRefType>(buffer.getType());
  Value pad = scalar(b, memref.getElementType(), padding);
  auto map = AffineMap::getMinorIdentityMap(memref.getRank(), 1,
                                            b.getContext());
  return vector::TransferReadOp::create(b, type, buffer, indices, pad, map,
                                        ArrayRef<bool>{inBounds});
}

void pquant::kernels::writeVector(ImplicitLocOpBuilder &b, Value value,
                                  Value buffer, ValueRange indices,
                                  bool inBounds) {
  auto memref = cast<MemRefType>(buffer.getType());
  auto map = AffineMap::getMinorIdentityMap(memref.getRank(), 1,
                                            b.getContext());
  vector::TransferWriteOp::create(b, value, buffer, indices, map,
                                  ArrayRef<bool>{inBounds});
}

void pquant::kernels::softmaxInPlace(ImplicitLocOpBuilder &b, Value buffer,
                                     Value count, Value max) {
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  Value sum = forLoop(
      b, count, 1, {scalar(b, f64, 0.0)},
      [&](ImplicitLocOpBuilder &b, Value i, ValueRange carried) {
        Value e = math::ExpOp::create(
            b, arith::SubFOp::create(
                   b, memref::LoadOp::create(b, buffer, ValueRange{i}), max));
        memref::StoreOp::create(b, e, buffer, ValueRange{i});
        return SmallVector<Value>{
            arith::AddFOp::create(b, carried[0], arith::ExtFOp::create(b, f64, e))};
      })[0];
  Value total = arith::TruncFOp::create(b, f32, sum);
  forLoop(b, count, 1, {}, [&](ImplicitLocOpBuilder &b, Value i, ValueRange) {
    Value e = memref::LoadOp::create(b, buffer, ValueRange{i});
    memref::StoreOp::create(b, arith::DivFOp::create(b, e, total), buffer,
                            ValueRange{i});
    return SmallVector<Value>{};
  });
}
