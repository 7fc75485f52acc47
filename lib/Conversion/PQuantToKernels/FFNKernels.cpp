//===- FFNKernels.cpp - SwiGLU, norm, routing and combine kernels -----------===//

#include "KernelBuilder.h"
#include "Kernels.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace pquant;
using namespace pquant::kernels;

namespace {
/// f32 lanes per vector step of the elementwise kernels.
constexpr int64_t kLanes = 16;

/// Columns of one task of the SiLU product: its exp calls make a row of a
/// decode step (one token) worth splitting across threads.
constexpr int64_t kSiluColumnsPerTask = 1024;

/// Runs `body(m, col, inBounds)` over the [M, width] rows of `buffer` in
/// vector steps of kLanes columns; the threads take rows, or pieces of
/// `columnsPerTask` columns (a multiple of kLanes) of them.
void forEachChunk(ImplicitLocOpBuilder &b, Value buffer,
                  function_ref<void(ImplicitLocOpBuilder &, Value m, Value col,
                                    bool inBounds)>
                      body,
                  int64_t columnsPerTask = 0) {
  auto type = cast<MemRefType>(buffer.getType());
  int64_t width = type.getDimSize(1);
  bool inBounds = width % kLanes == 0;
  int64_t taskColumns =
      columnsPerTask > 0 && columnsPerTask < width ? columnsPerTask : width;
  int64_t pieces = llvm::divideCeil(width, taskColumns);
  Value tokens = memref::DimOp::create(b, buffer, 0);
  Value tasks = arith::MulIOp::create(b, tokens, index(b, pieces));
  parallelLoop(b, tasks, [&](ImplicitLocOpBuilder &b, Value task) {
    Value m = arith::DivUIOp::create(b, task, index(b, pieces));
    Value first = arith::MulIOp::create(
        b, arith::RemUIOp::create(b, task, index(b, pieces)),
        index(b, taskColumns));
    Value last = arith::MinSIOp::create(
        b, arith::AddIOp::create(b, first, index(b, taskColumns)),
        index(b, width));
    forLoopFrom(b, first, last, kLanes, {},
                [&](ImplicitLocOpBuilder &b, Value col, ValueRange) {
                  body(b, m, col, inBounds);
                  return SmallVector<Value>{};
                });
  });
}

VectorType lanesOf(ImplicitLocOpBuilder &b) {
  return VectorType::get({kLanes}, b.getF32Type());
}
} // namespace

void pquant::kernels::buildSiluMul(ImplicitLocOpBuilder &b, ValueRange args) {
  Value gate = args[0], up = args[1], y = args[2];
  forEachChunk(b, gate, [&](ImplicitLocOpBuilder &b, Value m, Value col,
                            bool inBounds) {
    VectorType lanes = lanesOf(b);
    Value g = readVector(b, lanes, gate, {m, col}, 0.0, inBounds);
    Value u = readVector(b, lanes, up, {m, col}, 0.0, inBounds);
    // g / (1 + exp(−g)): exp overflows to inf for g < −88, giving −0.
    Value denominator = arith::AddFOp::create(
        b, splat(b, lanes, 1.0),
        exactExp(b, arith::NegFOp::create(b, g)));
    Value silu = arith::DivFOp::create(b, g, denominator);
    writeVector(b, arith::MulFOp::create(b, silu, u), y, {m, col}, inBounds);
  }, kSiluColumnsPerTask);
}

void pquant::kernels::buildRMSNorm(ImplicitLocOpBuilder &b, ValueRange args,
                                   bool hasWeight, float eps) {
  Value x = args[0], weight = hasWeight ? args[1] : Value(), y = args.back();
  int64_t width = cast<MemRefType>(x.getType()).getDimSize(1);
  bool inBounds = width % kLanes == 0;
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  VectorType lanes = lanesOf(b);
  auto wideLanes = VectorType::get({kLanes}, f64);
  Value tokens = memref::DimOp::create(b, x, 0);
  parallelLoop(b, tokens, [&](ImplicitLocOpBuilder &b, Value m) {
    Value squares = forLoop(
        b, index(b, width), kLanes, {splat(b, wideLanes, 0.0)},
        [&](ImplicitLocOpBuilder &b, Value col, ValueRange carried) {
          Value v = arith::ExtFOp::create(
              b, wideLanes, readVector(b, lanes, x, {m, col}, 0.0, inBounds));
          return SmallVector<Value>{
              arith::AddFOp::create(b, carried[0], arith::MulFOp::create(b, v, v))};
        })[0];
    Value sum = vector::ReductionOp::create(b, vector::CombiningKind::ADD, squares);
    Value meanSquare = arith::TruncFOp::create(
        b, f32, arith::DivFOp::create(b, sum, scalar(b, f64, double(width))));
    Value rms = math::SqrtOp::create(
        b, arith::AddFOp::create(b, meanSquare, scalar(b, f32, eps)));
    Value rmsLanes = vector::BroadcastOp::create(b, lanes, rms);
    forLoop(b, index(b, width), kLanes, {},
            [&](ImplicitLocOpBuilder &b, Value col, ValueRange) {
              Value v = readVector(b, lanes, x, {m, col}, 0.0, inBounds);
              Value normed = arith::DivFOp::create(b, v, rmsLanes);
              if (weight) {
                auto weightType = cast<MemRefType>(weight.getType());
                Value w = readVector(
                    b, VectorType::get({kLanes}, weightType.getElementType()),
                    weight, {col}, 0.0, inBounds);
                if (!weightType.getElementType().isF32())
                  w = arith::ExtFOp::create(b, lanes, w);
                normed = arith::MulFOp::create(b, normed, w);
              }
              writeVector(b, normed, y, {m, col}, inBounds);
              return SmallVector<Value>{};
            });
  });
}

void pquant::kernels::buildRouter(ImplicitLocOpBuilder &b, ValueRange args) {
  Value h = args[0], w = args[1], experts = args[2], gates = args[3];
  int64_t width = cast<MemRefType>(h.getType()).getDimSize(1);
  int64_t numExperts = cast<MemRefType>(w.getType()).getDimSize(0);
  int64_t topK = cast<MemRefType>(experts.getType()).getDimSize(1);
  Type f32 = b.getF32Type(), f64 = b.getF64Type(), i32 = b.getI32Type();
  Value tokens = memref::DimOp::create(b, h, 0);
  Value expertCount = index(b, numExperts);
  parallelLoop(b, tokens, [&](ImplicitLocOpBuilder &b, Value m) {
    Value probs = memref::AllocaOp::create(b, MemRefType::get({numExperts}, f32));
    // Logits accumulated in f64 and rounded once, as the reference's matmul.
    Value max = forLoop(
        b, expertCount, 1, {scalar(b, f32, -INFINITY)},
        [&](ImplicitLocOpBuilder &b, Value e, ValueRange carried) {
          // f32 products are exact in f64, so kLanes partial sums round
          // to the same f32 as one running sum but for near-ties.
          auto wideLanes = VectorType::get({kLanes}, f64);
          bool inBounds = width % kLanes == 0;
          Value partials = forLoop(
              b, index(b, width), kLanes, {splat(b, wideLanes, 0.0)},
              [&](ImplicitLocOpBuilder &b, Value d, ValueRange acc) {
                auto wide = [&](Value buffer, Value row) -> Value {
                  return arith::ExtFOp::create(
                      b, wideLanes,
                      readVector(b, lanesOf(b), buffer, {row, d}, 0.0,
                                 inBounds));
                };
                return SmallVector<Value>{math::FmaOp::create(
                    b, wide(h, m), wide(w, e), acc[0])};
              })[0];
          Value dot = vector::ReductionOp::create(
              b, vector::CombiningKind::ADD, partials);
          Value logit = arith::TruncFOp::create(b, f32, dot);
          memref::StoreOp::create(b, logit, probs, ValueRange{e});
          return SmallVector<Value>{
              arith::MaximumFOp::create(b, carried[0], logit)};
        })[0];
    softmaxInPlace(b, probs, expertCount, max);
    // Slot j takes the most probable expert ordered after slot j − 1's
    // (lower probability, or equal probability and a higher index).
    Value previousIndex = index(b, -1);
    Value previousProb = scalar(b, f32, INFINITY);
    for (int64_t slot = 0; slot < topK; ++slot) {
      ValueRange best = forLoop(
          b, expertCount, 1, {index(b, -1), scalar(b, f32, -1.0)},
          [&](ImplicitLocOpBuilder &b, Value e, ValueRange carried) {
            Value p = memref::LoadOp::create(b, probs, ValueRange{e});
            Value after = arith::OrIOp::create(
                b,
                arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, p,
                                      previousProb),
                arith::AndIOp::create(
                    b,
                    arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, p,
                                          previousProb),
                    arith::CmpIOp::create(b, arith::CmpIPredicate::sgt, e,
                                          previousIndex)));
            Value better = arith::AndIOp::create(
                b, after,
                arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, p,
                                      carried[1]));
            return SmallVector<Value>{
                arith::SelectOp::create(b, better, e, carried[0]),
                arith::SelectOp::create(b, better, p, carried[1])};
          });
      Value column = index(b, slot);
      memref::StoreOp::create(
          b, arith::IndexCastOp::create(b, i32, best[0]), experts,
          ValueRange{m, column});
      memref::StoreOp::create(b, best[1], gates, ValueRange{m, column});
      previousIndex = best[0];
      previousProb = best[1];
    }
  });
}

void pquant::kernels::buildCombine(ImplicitLocOpBuilder &b, ValueRange args,
                                   int64_t numExperts, bool gateWeighting,
                                   float alpha, float beta) {
  Value binary = args[0];
  ValueRange experts = args.slice(1, numExperts);
  Value gates = gateWeighting ? args[1 + numExperts] : Value();
  Value y = args.back();
  forEachChunk(b, binary, [&](ImplicitLocOpBuilder &b, Value m, Value col,
                              bool inBounds) {
    VectorType lanes = lanesOf(b);
    // y8 = Σ_j g_j · y_j, summed from zero in slot order as the reference.
    Value mixed = splat(b, lanes, 0.0);
    for (auto [slot, expert] : llvm::enumerate(experts)) {
      Value term = readVector(b, lanes, expert, {m, col}, 0.0, inBounds);
      if (gates)
        term = arith::MulFOp::create(
            b,
            vector::BroadcastOp::create(
                b, lanes,
                memref::LoadOp::create(b, gates,
                                       ValueRange{m, index(b, slot)})),
            term);
      mixed = arith::AddFOp::create(b, mixed, term);
    }
    Value y1 = readVector(b, lanes, binary, {m, col}, 0.0, inBounds);
    Value result = arith::AddFOp::create(
        b, arith::MulFOp::create(b, splat(b, lanes, alpha), mixed),
        arith::MulFOp::create(b, splat(b, lanes, beta), y1));
    writeVector(b, result, y, {m, col}, inBounds);
  });
}
