//===- KernelBuilder.cpp - helpers for building kernel bodies ---------------===//

#include "KernelBuilder.h"

#include "pquant/Conversion/ExactMath.h"

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

void pquant::kernels::forBlocksThenSingles(ImplicitLocOpBuilder &b, Value first,
                                           Value last, int64_t block, BlockBody body) {
  Value wholeBlocks = arith::DivUIOp::create(b, arith::SubIOp::create(b, last, first),
                                             index(b, block));
  Value blocked = arith::AddIOp::create(
      b, first, arith::MulIOp::create(b, wholeBlocks, index(b, block)));
  forLoopFrom(b, first, blocked, block, {}, [&](ImplicitLocOpBuilder &b, Value i, ValueRange) {
    SmallVector<Value> ivs;
    for (int64_t t = 0; t < block; ++t)
      ivs.push_back(arith::AddIOp::create(b, i, index(b, t)));
    body(b, ivs);
    return SmallVector<Value>{};
  });
  forLoopFrom(b, blocked, last, 1, {}, [&](ImplicitLocOpBuilder &b, Value i, ValueRange) {
    body(b, {i});
    return SmallVector<Value>{};
  });
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

void pquant::kernels::prefetchToL2(ImplicitLocOpBuilder &b, Value buffer,
                                   ValueRange indices) {
  memref::PrefetchOp::create(b, buffer, indices, /*isWrite=*/false,
                             /*localityHint=*/2, /*isDataCache=*/true);
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

Value pquant::kernels::sumEachPart(ImplicitLocOpBuilder &b,
                                   SmallVector<Value> parts) {
  // A vector holds groups of partial sums, group-major. Each step halves the
  // partials of every group, adding the first half of each group to the
  // second, and takes its groups from two vectors while there are two.
  auto type = cast<VectorType>(parts[0].getType());
  assert(llvm::isPowerOf2_64(parts.size()) &&
         llvm::isPowerOf2_64(type.getNumElements()) &&
         int64_t(parts.size()) <= type.getNumElements() &&
         "sumEachPart needs P <= W, both powers of two");
  bool isFloat = isa<FloatType>(type.getElementType());
  int64_t groups = 1, partials = type.getNumElements();
  auto halves = [&](Value x, Value y, int64_t groupsOfX) -> Value {
    SmallVector<int64_t> first, second;
    int64_t yOffset = cast<VectorType>(x.getType()).getNumElements();
    for (int64_t source = 0; source < (x == y ? 1 : 2); ++source)
      for (int64_t g = 0; g < groupsOfX; ++g)
        for (int64_t c = 0; c < partials / 2; ++c) {
          int64_t lane = source * yOffset + g * partials + c;
          first.push_back(lane);
          second.push_back(lane + partials / 2);
        }
    Value low = vector::ShuffleOp::create(b, x, y, first);
    Value high = vector::ShuffleOp::create(b, x, y, second);
    if (isFloat)
      return arith::AddFOp::create(b, low, high);
    return arith::AddIOp::create(b, low, high);
  };
  while (parts.size() > 1) {
    SmallVector<Value> next;
    for (size_t i = 0; i < parts.size(); i += 2)
      next.push_back(halves(parts[i], parts[i + 1], groups));
    parts = std::move(next);
    groups *= 2;
    partials /= 2;
  }
  Value sums = parts[0];
  for (; partials > 1; partials /= 2)
    sums = halves(sums, sums, groups);
  return sums;
}

namespace {
Value floorOf(ImplicitLocOpBuilder &b, Value x) {
  return math::FloorOp::create(b, x);
}
} // namespace

Value pquant::kernels::exactExp(ImplicitLocOpBuilder &b, Value x) {
  return expF32(b, x, floorOf);
}

std::pair<Value, Value> pquant::kernels::exactCosSin(ImplicitLocOpBuilder &b,
                                                     Value x) {
  return cosSinF32(b, x, floorOf);
}

void pquant::kernels::softmaxInPlace(ImplicitLocOpBuilder &b, Value buffer,
                                     Value count, Value max) {
  // 16 scores at a time, then the rest one by one; the f64 sums of the
  // lanes meet at the end (the reference's pairwise sum has yet another
  // order: f64 sums of f32 values round to the same f32 but near ties).
  constexpr int64_t kSoftmaxLanes = 16;
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  auto lanes = VectorType::get({kSoftmaxLanes}, f32);
  auto wideLanes = VectorType::get({kSoftmaxLanes}, f64);
  Value whole = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, count, index(b, kSoftmaxLanes)),
      index(b, kSoftmaxLanes));
  Value maxLanes = vector::BroadcastOp::create(b, lanes, max);
  Value laneSums = forLoop(
      b, whole, kSoftmaxLanes, {splat(b, wideLanes, 0.0)},
      [&](ImplicitLocOpBuilder &b, Value i, ValueRange carried) {
        Value e = exactExp(b, arith::SubFOp::create(
                             b, vector::LoadOp::create(b, lanes, buffer, i),
                             maxLanes));
        vector::StoreOp::create(b, e, buffer, i);
        return SmallVector<Value>{arith::AddFOp::create(
            b, carried[0], arith::ExtFOp::create(b, wideLanes, e))};
      })[0];
  Value sum = forLoopFrom(
      b, whole, count, 1,
      {vector::ReductionOp::create(b, vector::CombiningKind::ADD, laneSums)},
      [&](ImplicitLocOpBuilder &b, Value i, ValueRange carried) {
        Value e = exactExp(b, arith::SubFOp::create(
                             b, memref::LoadOp::create(b, buffer, i), max));
        memref::StoreOp::create(b, e, buffer, i);
        return SmallVector<Value>{
            arith::AddFOp::create(b, carried[0], arith::ExtFOp::create(b, f64, e))};
      })[0];
  Value total = arith::TruncFOp::create(b, f32, sum);
  Value totalLanes = vector::BroadcastOp::create(b, lanes, total);
  forLoop(b, whole, kSoftmaxLanes, {},
          [&](ImplicitLocOpBuilder &b, Value i, ValueRange) {
            Value e = vector::LoadOp::create(b, lanes, buffer, i);
            vector::StoreOp::create(b, arith::DivFOp::create(b, e, totalLanes),
                                    buffer, i);
            return SmallVector<Value>{};
          });
  forLoopFrom(b, whole, count, 1, {},
              [&](ImplicitLocOpBuilder &b, Value i, ValueRange) {
                Value e = memref::LoadOp::create(b, buffer, i);
                memref::StoreOp::create(b, arith::DivFOp::create(b, e, total),
                                        buffer, i);
                return SmallVector<Value>{};
              });
}
