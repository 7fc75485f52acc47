//===- KernelBuilder.cpp - helpers for building kernel bodies ---------------===//

#include "KernelBuilder.h"

using namespace mlir;

ValueRange pquant::kernels::forLoop(
    ImplicitLocOpBuilder &b, Value upper, int64_t step, ValueRange init,
    function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, Value, ValueRange)>
        body) {
  auto loop = scf::ForOp::create(
      b, index(b, 0), upper, index(b, step), init,
      [&](OpBuilder &nested, Location loc, Value iv, ValueRange carried) {
        ImplicitLocOpBuilder inner(loc, nested);
        SmallVector<Value> yielded = body(inner, iv, carried);
        scf::YieldOp::create(inner, yielded);
      });
  return loop.getResults();
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
