//===- ModelKernels.cpp - norms, RoPE, attention, routing GPU kernels -------===//

#include "GPUBuilder.h"
#include "Kernels.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>

using namespace mlir;
using namespace pquant;
using namespace pquant::gpu;
using arith::CmpIPredicate;
using mlir::gpu::Dimension;

namespace {

Value lt(ImplicitLocOpBuilder &b, Value a, Value c) {
  return cmp(b, CmpIPredicate::slt, a, c);
}
Value mul(ImplicitLocOpBuilder &b, Value a, Value c) {
  return arith::MulIOp::create(b, a, c);
}
Value add(ImplicitLocOpBuilder &b, Value a, Value c) {
  return arith::AddIOp::create(b, a, c);
}

/// RoPE's rotation of the pair (a, c) of f32 `source` at element `at` (i64)
/// and `half` elements after it: (a·cos − c·sin, c·cos + a·sin), each an f32
/// operation as the reference performs it.
std::pair<Value, Value> rotatedPairAt(ImplicitLocOpBuilder &b, Value source,
                                      Value at, int64_t half, Value cos,
                                      Value sin) {
  Type f32Type = b.getF32Type();
  Value a = load(b, f32Type, source, at, 4);
  Value c = load(b, f32Type, source, add(b, at, i64(b, half)), 4);
  Value first = arith::SubFOp::create(b, arith::MulFOp::create(b, a, cos),
                                      arith::MulFOp::create(b, c, sin));
  Value second = arith::AddFOp::create(b, arith::MulFOp::create(b, c, cos),
                                       arith::MulFOp::create(b, a, sin));
  return {first, second};
}

/// One block per token (grid x = M).
LaunchShape perToken(int64_t block = kRowThreads) {
  LaunchShape shape;
  shape.tokensPerBlockX = 1;
  shape.block = block;
  return shape;
}

/// `body(col)` for col = threadIdx.x, + block, ... < width, unrolled where
/// short (see columnLoop).
void forColumns(ImplicitLocOpBuilder &b, int64_t width,
                llvm::function_ref<void(ImplicitLocOpBuilder &, Value)> body,
                int64_t block = kRowThreads) {
  columnLoop(b, threadIdx(b), width, block, {},
             [&](ImplicitLocOpBuilder &b, Value col, Value valid, ValueRange) {
               ifThen(b, valid, [&](ImplicitLocOpBuilder &b) { body(b, col); });
               return SmallVector<Value>{};
             });
}

/// A read-only table of f32 constants in the kernel's gpu.module.
Value constantTable(ImplicitLocOpBuilder &b, StringRef name,
                    ArrayRef<float> values) {
  auto module = b.getInsertionBlock()
                    ->getParentOp()
                    ->getParentOfType<mlir::gpu::GPUModuleOp>();
  SymbolTable symbols(module);
  auto type = LLVM::LLVMArrayType::get(b.getF32Type(), values.size());
  auto global = symbols.lookup<LLVM::GlobalOp>(name);
  if (!global) {
    OpBuilder top(module.getBodyRegion());
    top.setInsertionPointToStart(module.getBody());
    auto data = DenseElementsAttr::get(
        RankedTensorType::get({int64_t(values.size())}, b.getF32Type()), values);
    global = LLVM::GlobalOp::create(top, b.getLoc(), type, /*isConstant=*/true,
                                    LLVM::Linkage::Internal, name, data,
                                    /*alignment=*/16, /*addrSpace=*/kGlobal);
    symbols.insert(global);
  }
  return LLVM::AddressOfOp::create(b, global);
}

Value toF32(ImplicitLocOpBuilder &b, Value v) {
  return v.getType().isF32() ? v : Value(arith::ExtFOp::create(b, b.getF32Type(), v));
}

} // namespace

LaunchShape pquant::gpu::buildEmbedding(ImplicitLocOpBuilder &b, ValueRange args,
                                        int64_t vocab, int64_t width, bool f16) {
  Value table = args[0], tokens = args[1], y = args[2];
  Value m = toI64(b, blockIdx(b, Dimension::x));
  Value token = load(b, b.getI32Type(), tokens, m, 4);
  token = arith::MinSIOp::create(b, arith::MaxSIOp::create(b, token, i32(b, 0)),
                                 i32(b, vocab - 1));
  Value source = mul(b, toI64(b, token), i64(b, width));
  Value target = mul(b, m, i64(b, width));
  Type element = f16 ? Type(b.getF16Type()) : Type(b.getF32Type());
  forColumns(b, width, [&](ImplicitLocOpBuilder &b, Value d) {
    Value v = load(b, element, table, add(b, source, toI64(b, d)), f16 ? 2 : 4, true);
    store(b, toF32(b, v), y, add(b, target, toI64(b, d)), 4);
  });
  return perToken();
}

LaunchShape pquant::gpu::buildRMSNorm(ImplicitLocOpBuilder &b, ValueRange args,
                                      int64_t width, bool hasWeight,
                                      bool f16Weight, float eps) {
  Value x = args[0], weight = hasWeight ? args[1] : Value();
  Value y = args[hasWeight ? 2 : 1];
  Type f32Type = b.getF32Type(), f64Type = b.getF64Type();
  Value row = mul(b, toI64(b, blockIdx(b, Dimension::x)), i64(b, width));
  Value red = sharedMemory(b, "rms_norm_red", kRowThreads / kWarp * 8);
  Value squares = columnLoop(
      b, threadIdx(b), width, kRowThreads, {f64(b, 0.0)},
      [&](ImplicitLocOpBuilder &b, Value d, Value valid, ValueRange acc) {
        Value safe = select(b, valid, d, i32(b, 0));
        Value v = arith::ExtFOp::create(
            b, f64Type, load(b, f32Type, x, add(b, row, toI64(b, safe)), 4));
        v = select(b, valid, v, f64(b, 0.0));
        return SmallVector<Value>{
            arith::AddFOp::create(b, acc[0], arith::MulFOp::create(b, v, v))};
      })[0];
  Value sum = blockReduce(b, Combine::AddF, squares, red, kRowThreads);
  Value meanSquare = arith::TruncFOp::create(
      b, f32Type, arith::DivFOp::create(b, sum, f64(b, double(width))));
  Value rms = sqrtF32(
      b, arith::AddFOp::create(b, meanSquare, f32(b, eps)));
  forColumns(b, width, [&](ImplicitLocOpBuilder &b, Value d) {
    Value index = add(b, row, toI64(b, d));
    Value normed = arith::DivFOp::create(b, load(b, f32Type, x, index, 4), rms);
    if (weight) {
      Type element = f16Weight ? Type(b.getF16Type()) : f32Type;
      normed = arith::MulFOp::create(
          b, normed, toF32(b, load(b, element, weight, d, f16Weight ? 2 : 4, true)));
    }
    store(b, normed, y, index, 4);
  });
  return perToken();
}

LaunchShape pquant::gpu::buildPositions(ImplicitLocOpBuilder &b, ValueRange args) {
  Value start = args[0], positions = args[1];
  Value count = toI32(b, args[2]);
  Value first = toI32(b, load(b, b.getI64Type(), start, i32(b, 0), 8));
  forLoop(b, threadIdx(b), count, i32(b, kRowThreads), {},
          [&](ImplicitLocOpBuilder &b, Value m, ValueRange) {
            store(b, add(b, first, m), positions, m, 4);
            return SmallVector<Value>{};
          });
  LaunchShape shape;
  shape.block = kRowThreads;
  return shape;
}

LaunchShape pquant::gpu::buildRoPE(ImplicitLocOpBuilder &b, ValueRange args,
                                   StringRef name, int64_t heads,
                                   int64_t headDim, double theta) {
  Value x = args[0], positions = args[1], y = args[2];
  const int64_t half = headDim / 2;
  // theta^(−2i/Dh) in double, rounded once, as the reference does.
  SmallVector<float> inverse;
  for (int64_t i = 0; i < half; ++i)
    inverse.push_back(float(std::pow(theta, -2.0 * double(i) / double(headDim))));
  Value table = constantTable(b, (name + "_inv_freq").str(), inverse);
  Type f32Type = b.getF32Type();
  Value m = toI64(b, blockIdx(b, Dimension::x));
  Value position = arith::SIToFPOp::create(
      b, f32Type, load(b, b.getI32Type(), positions, m, 4));
  Value row = mul(b, m, i64(b, heads * headDim));
  forColumns(b, heads * half, [&](ImplicitLocOpBuilder &b, Value pair) {
    Value h = arith::DivUIOp::create(b, pair, i32(b, half));
    Value i = arith::RemUIOp::create(b, pair, i32(b, half));
    Value angle = arith::MulFOp::create(b, position, load(b, f32Type, table, i, 4));
    auto [cos, sin] = cosSinF32(b, angle);
    Value first = add(b, row, toI64(b, add(b, mul(b, h, i32(b, headDim)), i)));
    Value second = add(b, first, i64(b, half));
    auto [rotatedA, rotatedC] = rotatedPairAt(b, x, first, half, cos, sin);
    store(b, rotatedA, y, first, 4);
    store(b, rotatedC, y, second, 4);
  });
  return perToken();
}

LaunchShape pquant::gpu::buildCacheWrite(ImplicitLocOpBuilder &b, ValueRange args,
                                         const AttentionConfig &config) {
  Value k = args[0], v = args[1], keys = args[2], values = args[3],
        start = args[4];
  const int64_t rowWidth = config.kvHeads * config.headDim;
  Value m = toI64(b, blockIdx(b, Dimension::x));
  Value row = add(b, load(b, b.getI64Type(), start, i32(b, 0), 8), m);
  ifThen(b, lt(b, row, i64(b, config.rows)), [&](ImplicitLocOpBuilder &b) {
    Value target = mul(b, add(b, i64(b, config.layer * config.rows), row),
                       i64(b, rowWidth));
    Value source = mul(b, m, i64(b, rowWidth));
    forColumns(b, rowWidth, [&](ImplicitLocOpBuilder &b, Value d) {
      Value offset = toI64(b, d);
      for (auto [from, to] : {std::pair{k, keys}, {v, values}})
        store(b, load(b, b.getF32Type(), from, add(b, source, offset), 4), to,
              add(b, target, offset), 4);
    });
  });
  return perToken();
}

LaunchShape pquant::gpu::buildRoPECacheWrite(ImplicitLocOpBuilder &b,
                                             ValueRange args, StringRef name,
                                             const AttentionConfig &config,
                                             double theta) {
  Value q = args[0], k = args[1], v = args[2], positions = args[3], keys = args[4],
        values = args[5], start = args[6], out = args[7];
  const int64_t heads = config.heads, kvHeads = config.kvHeads,
                headDim = config.headDim, half = headDim / 2;
  SmallVector<float> inverse;
  for (int64_t i = 0; i < half; ++i)
    inverse.push_back(float(std::pow(theta, -2.0 * double(i) / double(headDim))));
  Value table = constantTable(b, (name + "_inv_freq").str(), inverse);
  Type f32Type = b.getF32Type();
  Value m = toI64(b, blockIdx(b, Dimension::x));
  Value position = arith::SIToFPOp::create(
      b, f32Type, load(b, b.getI32Type(), positions, m, 4));
  Value row = add(b, load(b, b.getI64Type(), start, i32(b, 0), 8), m);
  Value rowFits = lt(b, row, i64(b, config.rows));
  Value cacheRow = mul(b, add(b, i64(b, config.layer * config.rows),
                              select(b, rowFits, row, i64(b, 0))),
                       i64(b, kvHeads * headDim));
  // Pairs of the H query heads, then of the Hkv key heads.
  forColumns(b, (heads + kvHeads) * half, [&](ImplicitLocOpBuilder &b, Value pair) {
    Value h = arith::DivUIOp::create(b, pair, i32(b, half));
    Value i = arith::RemUIOp::create(b, pair, i32(b, half));
    Value angle = arith::MulFOp::create(b, position, load(b, f32Type, table, i, 4));
    auto [cos, sin] = cosSinF32(b, angle);
    Value isQuery = lt(b, h, i32(b, heads));
    Value kvHead = arith::SubIOp::create(b, h, i32(b, heads));
    Value headIndex = select(b, isQuery, h, kvHead);
    Value width = select(b, isQuery, i64(b, heads * headDim), i64(b, kvHeads * headDim));
    Value source = select(b, isQuery, q, k);
    Value first = add(b, mul(b, m, width),
                      toI64(b, add(b, mul(b, headIndex, i32(b, headDim)), i)));
    Value x, z;
    std::tie(x, z) = rotatedPairAt(b, source, first, half, cos, sin);
    ifThen(b, isQuery, [&](ImplicitLocOpBuilder &b) {
      store(b, x, out, first, 4);
      store(b, z, out, add(b, first, i64(b, half)), 4);
    });
    ifThen(b, arith::AndIOp::create(b, rowFits, arith::XOrIOp::create(
                                                    b, isQuery, arith::ConstantIntOp::create(b, b.getI1Type(), 1))),
           [&](ImplicitLocOpBuilder &b) {
             Value target = add(b, cacheRow,
                                toI64(b, add(b, mul(b, kvHead, i32(b, headDim)), i)));
             store(b, x, keys, target, 4);
             store(b, z, keys, add(b, target, i64(b, half)), 4);
           });
  });
  ifThen(b, rowFits, [&](ImplicitLocOpBuilder &b) {
    forColumns(b, kvHeads * headDim, [&](ImplicitLocOpBuilder &b, Value d) {
      store(b, load(b, f32Type, v, add(b, mul(b, m, i64(b, kvHeads * headDim)), toI64(b, d)), 4),
            values, add(b, cacheRow, toI64(b, d)), 4);
    });
  });
  return perToken();
}

LaunchShape pquant::gpu::buildAttention(ImplicitLocOpBuilder &b, ValueRange args,
                                        StringRef name,
                                        const AttentionConfig &config,
                                        std::optional<double> ropeTheta) {
  // With RoPE: (q, k, v, positions, keys, values, start, y; M), else (q,
  // keys, values, start, y; M).
  Value q = args[0], k, v, positions;
  if (ropeTheta) {
    k = args[1];
    v = args[2];
    positions = args[3];
    args = args.drop_front(3);
  }
  Value keys = args[1], values = args[2], start = args[3], y = args[4];
  constexpr int64_t threads = 256;
  const int64_t headDim = config.headDim, rows = config.rows;
  const int64_t group = config.heads / config.kvHeads;
  Type f32Type = b.getF32Type(), f64Type = b.getF64Type();
  // Threads split the value sum over rows in `parts` interleaved parts of
  // headDim threads each.
  const int64_t parts = headDim <= threads && threads % headDim == 0
                            ? threads / headDim
                            : 1;
  Value queryRow = sharedMemory(b, (name + "_q").str(), headDim * 4);
  Value scores = sharedMemory(b, (name + "_scores").str(), rows * 4);
  Value red = sharedMemory(b, (name + "_red").str(), 8 * 8);
  Value partSums = sharedMemory(b, (name + "_parts").str(), parts * headDim * 4);

  Value tid = threadIdx(b);
  Value h = blockIdx(b, Dimension::x);
  Value m = blockIdx(b, Dimension::y);
  Value kvHead = arith::DivUIOp::create(b, h, i32(b, group));
  Value position = add(b, load(b, b.getI64Type(), start, i32(b, 0), 8), toI64(b, m));
  Value visible = toI32(
      b, arith::MinSIOp::create(b, add(b, position, i64(b, 1)), i64(b, rows)));
  Value qBase = mul(b, toI64(b, add(b, mul(b, m, i32(b, config.heads)), h)),
                    i64(b, headDim));
  // Row t of this layer and kv head, in elements.
  auto cacheRow = [&](ImplicitLocOpBuilder &b, Value t) {
    Value r = add(b, toI64(b, t), i64(b, config.layer * rows));
    return mul(b, add(b, mul(b, r, i64(b, config.kvHeads)), toI64(b, kvHead)),
               i64(b, headDim));
  };
  if (ropeTheta && targetChipVersion(b) >= 90) {
    // Decode: the rows of earlier positions, which earlier steps wrote, into
    // L2 before the wait for the kernel before (which wrote q, k and v), so
    // that the scores and the value sum find them there.
    Value earlier = toI32(b, arith::MinSIOp::create(b, position, i64(b, rows)));
    forLoop(b, tid, earlier, i32(b, threads), {},
            [&](ImplicitLocOpBuilder &b, Value t, ValueRange) {
              Value base = cacheRow(b, t);
              for (int64_t d = 0; d < headDim; d += kCacheLineBytes / 4)
                for (Value cache : {keys, values})
                  prefetchL2(b, cache, f32Type, add(b, base, i64(b, d)));
              return SmallVector<Value>{};
            });
    waitForPriorKernels(b);
  }
  if (ropeTheta) {
    // RoPE of the head's query into shared memory, and of the kv head's key
    // into the cache with its value (row `position`), as rope_cache_write
    // does; every block of a kv head's group writes the same values, and
    // reads them after the barrier.
    const int64_t half = headDim / 2;
    SmallVector<float> inverse;
    for (int64_t i = 0; i < half; ++i)
      inverse.push_back(float(std::pow(*ropeTheta, -2.0 * double(i) / double(headDim))));
    Value table = constantTable(b, (name + "_inv_freq").str(), inverse);
    Value angleOf = arith::SIToFPOp::create(
        b, f32Type, load(b, b.getI32Type(), positions, toI64(b, m), 4));
    Value rowFits = lt(b, position, i64(b, rows));
    Value cacheBase = mul(
        b,
        add(b,
            mul(b, add(b, i64(b, config.layer * rows), select(b, rowFits, position, i64(b, 0))),
                i64(b, config.kvHeads)),
            toI64(b, kvHead)),
        i64(b, headDim));
    Value kBase = mul(b, toI64(b, add(b, mul(b, m, i32(b, config.kvHeads)), kvHead)),
                      i64(b, headDim));
    // Items: the query's pairs, the key's pairs, the value's elements.
    forColumns(
        b, 2 * half + headDim,
        [&](ImplicitLocOpBuilder &b, Value item) {
          Value isValue = cmp(b, CmpIPredicate::sge, item, i32(b, 2 * half));
          ifThen(b, isValue, [&](ImplicitLocOpBuilder &b) {
            Value d = arith::SubIOp::create(b, item, i32(b, 2 * half));
            ifThen(b, rowFits, [&](ImplicitLocOpBuilder &b) {
              store(b, load(b, f32Type, v, add(b, kBase, toI64(b, d)), 4), values,
                    add(b, cacheBase, toI64(b, d)), 4);
            });
          });
          ifThen(b, lt(b, item, i32(b, 2 * half)), [&](ImplicitLocOpBuilder &b) {
            Value isQuery = lt(b, item, i32(b, half));
            Value i = arith::RemUIOp::create(b, item, i32(b, half));
            Value angle = arith::MulFOp::create(b, angleOf, load(b, f32Type, table, i, 4));
            auto [cos, sin] = cosSinF32(b, angle);
            Value first = add(b, select(b, isQuery, qBase, kBase), toI64(b, i));
            Value source = select(b, isQuery, q, k);
            Value x, z;
            std::tie(x, z) = rotatedPairAt(b, source, first, half, cos, sin);
            ifThen(b, isQuery, [&](ImplicitLocOpBuilder &b) {
              store(b, x, queryRow, i, 4);
              store(b, z, queryRow, add(b, i, i32(b, half)), 4);
            });
            ifThen(b,
                   arith::AndIOp::create(
                       b, rowFits,
                       arith::XOrIOp::create(b, isQuery,
                                             arith::ConstantIntOp::create(b, b.getI1Type(), 1))),
                   [&](ImplicitLocOpBuilder &b) {
                     Value target = add(b, cacheBase, toI64(b, i));
                     store(b, x, keys, target, 4);
                     store(b, z, keys, add(b, target, i64(b, half)), 4);
                   });
          });
        },
        threads);
  } else {
    forColumns(
        b, headDim,
        [&](ImplicitLocOpBuilder &b, Value d) {
          store(b, load(b, f32Type, q, add(b, qBase, toI64(b, d)), 4), queryRow, d, 4);
        },
        threads);
  }
  mlir::gpu::BarrierOp::create(b);

  float scale = float(1.0 / std::sqrt(double(headDim)));
  auto quadType = VectorType::get({4}, f32Type);
  Value localMax = forLoop(
      b, tid, visible, i32(b, threads), {f32(b, -INFINITY)},
      [&](ImplicitLocOpBuilder &b, Value t, ValueRange carried) {
        Value base = cacheRow(b, t);
        Value dot = f32(b, 0.0);
        if (headDim % 4 == 0) {
          Value quadBase = arith::DivUIOp::create(b, base, i64(b, 4));
          for (int64_t d = 0; d < headDim; d += 4) {
            Value kv = load(b, quadType, keys, add(b, quadBase, i64(b, d / 4)), 16);
            Value qv = load(b, quadType, queryRow, i32(b, d / 4), 16);
            for (int64_t e = 0; e < 4; ++e)
              dot = math::FmaOp::create(
                  b, vector::ExtractOp::create(b, qv, ArrayRef<int64_t>{e}),
                  vector::ExtractOp::create(b, kv, ArrayRef<int64_t>{e}), dot);
          }
        } else {
          for (int64_t d = 0; d < headDim; ++d)
            dot = math::FmaOp::create(
                b, load(b, f32Type, queryRow, i32(b, d), 4),
                load(b, f32Type, keys, add(b, base, i64(b, d)), 4), dot);
        }
        Value score = arith::MulFOp::create(b, dot, f32(b, scale));
        store(b, score, scores, t, 4);
        return SmallVector<Value>{arith::MaximumFOp::create(b, carried[0], score)};
      })[0];
  Value max = blockReduce(b, Combine::MaxF, localMax, red, threads);
  // Softmax as the reference: exp(x − max) divided by the f64 sum rounded once.
  Value localSum = forLoop(
      b, tid, visible, i32(b, threads), {f64(b, 0.0)},
      [&](ImplicitLocOpBuilder &b, Value t, ValueRange carried) {
        Value e = expF32(b, arith::SubFOp::create(b, load(b, f32Type, scores, t, 4), max));
        store(b, e, scores, t, 4);
        return SmallVector<Value>{
            arith::AddFOp::create(b, carried[0], arith::ExtFOp::create(b, f64Type, e))};
      })[0];
  Value total = arith::TruncFOp::create(
      b, f32Type, blockReduce(b, Combine::AddF, localSum, red, threads));
  forLoop(b, tid, visible, i32(b, threads), {},
          [&](ImplicitLocOpBuilder &b, Value t, ValueRange) {
            store(b, arith::DivFOp::create(b, load(b, f32Type, scores, t, 4), total),
                  scores, t, 4);
            return SmallVector<Value>{};
          });
  mlir::gpu::BarrierOp::create(b);

  if (parts > 1 || headDim == threads) {
    Value part = arith::DivUIOp::create(b, tid, i32(b, headDim));
    Value d = arith::RemUIOp::create(b, tid, i32(b, headDim));
    // Four rows at a time into four sums, so their loads overlap.
    constexpr int64_t unroll = 4;
    SmallVector<Value> zeros(unroll, f32(b, 0.0));
    ValueRange sums = forLoop(
        b, part, visible, i32(b, parts * unroll), zeros,
        [&](ImplicitLocOpBuilder &b, Value t0, ValueRange carried) {
          SmallVector<Value> next;
          for (int64_t u = 0; u < unroll; ++u) {
            Value t = add(b, t0, i32(b, u * parts));
            Value valid = lt(b, t, visible);
            Value safe = select(b, valid, t, i32(b, 0));
            Value v = load(b, f32Type, values, add(b, cacheRow(b, safe), toI64(b, d)), 4);
            Value p = select(b, valid, load(b, f32Type, scores, safe, 4), f32(b, 0.0));
            next.push_back(math::FmaOp::create(b, p, v, carried[u]));
          }
          return next;
        });
    Value acc = arith::AddFOp::create(b, arith::AddFOp::create(b, sums[0], sums[1]),
                                      arith::AddFOp::create(b, sums[2], sums[3]));
    store(b, acc, partSums, tid, 4);
    mlir::gpu::BarrierOp::create(b);
    ifThen(b, lt(b, tid, i32(b, headDim)), [&](ImplicitLocOpBuilder &b) {
      Value sum = load(b, f32Type, partSums, tid, 4);
      for (int64_t p = 1; p < parts; ++p)
        sum = arith::AddFOp::create(
            b, sum, load(b, f32Type, partSums, add(b, tid, i32(b, p * headDim)), 4));
      store(b, sum, y, add(b, qBase, toI64(b, tid)), 4);
    });
  } else {
    forColumns(
        b, headDim,
        [&](ImplicitLocOpBuilder &b, Value d) {
          Value acc = forLoop(
              b, i32(b, 0), visible, i32(b, 1), {f32(b, 0.0)},
              [&](ImplicitLocOpBuilder &b, Value t, ValueRange carried) {
                Value v = load(b, f32Type, values,
                               add(b, cacheRow(b, t), toI64(b, d)), 4);
                return SmallVector<Value>{math::FmaOp::create(
                    b, load(b, f32Type, scores, t, 4), v, carried[0])};
              })[0];
          store(b, acc, y, add(b, qBase, toI64(b, d)), 4);
        },
        threads);
  }
  LaunchShape shape;
  shape.gridX = config.heads;
  shape.tokensPerBlockY = 1;
  shape.block = threads;
  return shape;
}

LaunchShape pquant::gpu::buildAdd(ImplicitLocOpBuilder &b, ValueRange args,
                                  int64_t width) {
  Value a = args[0], c = args[1], y = args[2];
  Value row = mul(b, toI64(b, blockIdx(b, Dimension::x)), i64(b, width));
  Type f32Type = b.getF32Type();
  forColumns(b, width, [&](ImplicitLocOpBuilder &b, Value d) {
    Value index = add(b, row, toI64(b, d));
    store(b,
          arith::AddFOp::create(b, load(b, f32Type, a, index, 4),
                                load(b, f32Type, c, index, 4)),
          y, index, 4);
  });
  return perToken();
}

LaunchShape pquant::gpu::buildSiluMul(ImplicitLocOpBuilder &b, ValueRange args,
                                      int64_t width) {
  Value gate = args[0], up = args[1], y = args[2];
  Value row = mul(b, toI64(b, blockIdx(b, Dimension::x)), i64(b, width));
  Type f32Type = b.getF32Type();
  forColumns(b, width, [&](ImplicitLocOpBuilder &b, Value d) {
    Value index = add(b, row, toI64(b, d));
    store(b, siluMul(b, load(b, f32Type, gate, index, 4), load(b, f32Type, up, index, 4)),
          y, index, 4);
  });
  return perToken();
}

static void routerTopK(ImplicitLocOpBuilder &b, Value logit, Value m, int64_t experts,
                       int64_t topK, Value ids, Value gates);

LaunchShape pquant::gpu::buildNormRouter(ImplicitLocOpBuilder &b, ValueRange args,
                                         StringRef name, int64_t width, bool hasWeight,
                                         bool f16Weight, float eps, int64_t experts,
                                         int64_t topK) {
  Value x = args[0], weight = hasWeight ? args[1] : Value();
  unsigned next = hasWeight ? 2 : 1;
  Value h = args[next], w = args[next + 1], ids = args[next + 2], gates = args[next + 3];
  const int64_t threads = kRowThreads, warps = threads / kWarp;
  Type f32Type = b.getF32Type(), f64Type = b.getF64Type();
  Value tid = threadIdx(b);
  Value lane = arith::AndIOp::create(b, tid, i32(b, 31));
  Value warp = arith::ShRUIOp::create(b, tid, i32(b, 5));
  // The thread's columns tid + j · threads.
  SmallVector<Value> cols, valids;
  int64_t columnsPerThread = llvm::divideCeil(width, threads);
  for (int64_t j = 0; j < columnsPerThread; ++j) {
    Value col = add(b, tid, i32(b, j * threads));
    Value valid = (j + 1) * threads <= width ? Value(arith::ConstantIntOp::create(b, b.getI1Type(), 1))
                                             : lt(b, col, i32(b, width));
    cols.push_back(select(b, valid, col, i32(b, 0)));
    valids.push_back(valid);
  }
  // Constants first, before the wait: the router's and the norm's weights.
  SmallVector<SmallVector<Value>> routerWeights(experts);
  SmallVector<Value> normWeights;
  for (Value col : cols) {
    for (int64_t e = 0; e < experts; ++e)
      routerWeights[e].push_back(arith::ExtFOp::create(
          b, f64Type, load(b, f32Type, w, add(b, i64(b, e * width), toI64(b, col)), 4, true)));
    if (weight)
      normWeights.push_back(toF32(b, load(b, f16Weight ? Type(b.getF16Type()) : f32Type, weight,
                                          col, f16Weight ? 2 : 4, true)));
  }
  waitForPriorKernels(b);
  Value m = blockIdx(b, Dimension::x);
  Value row = mul(b, toI64(b, m), i64(b, width));
  // The norm, as buildRMSNorm: mean of squares in f64.
  SmallVector<Value> values;
  Value squares = f64(b, 0.0);
  for (auto [col, valid] : llvm::zip(cols, valids)) {
    Value v = load(b, f32Type, x, add(b, row, toI64(b, col)), 4);
    values.push_back(v);
    Value wide = select(b, valid, arith::ExtFOp::create(b, f64Type, v), f64(b, 0.0));
    squares = arith::AddFOp::create(b, squares, arith::MulFOp::create(b, wide, wide));
  }
  Value sum = blockReduceOnce(b, {{Combine::AddF, squares}},
                              {sharedMemory(b, (name + "_squares").str(), warps * 8)}, threads)[0];
  Value meanSquare = arith::TruncFOp::create(
      b, f32Type, arith::DivFOp::create(b, sum, f64(b, double(width))));
  Value rms = sqrtF32(b, arith::AddFOp::create(b, meanSquare, f32(b, eps)));
  // h, and the router's logits from it in f64: per thread, per warp, then
  // lane e of warp 0 sums expert e's.
  SmallVector<Value> dots(experts, f64(b, 0.0));
  for (auto [j, column] : llvm::enumerate(cols)) {
    Value col = column; // lambdas cannot capture structured bindings (C++17)
    Value normed = arith::DivFOp::create(b, values[j], rms);
    if (weight)
      normed = arith::MulFOp::create(b, normed, normWeights[j]);
    ifThen(b, valids[j], [&](ImplicitLocOpBuilder &b) {
      store(b, normed, h, add(b, row, toI64(b, col)), 4);
    });
    Value wide = select(b, valids[j], arith::ExtFOp::create(b, f64Type, normed), f64(b, 0.0));
    for (int64_t e = 0; e < experts; ++e)
      dots[e] = arith::AddFOp::create(b, dots[e],
                                      arith::MulFOp::create(b, wide, routerWeights[e][j]));
  }
  Value partials = sharedMemory(b, (name + "_partials").str(), experts * warps * 8);
  for (int64_t e = 0; e < experts; ++e)
    dots[e] = warpReduce(b, Combine::AddF, dots[e]);
  ifThen(b, cmp(b, CmpIPredicate::eq, lane, i32(b, 0)), [&](ImplicitLocOpBuilder &b) {
    for (int64_t e = 0; e < experts; ++e)
      store(b, dots[e], partials, add(b, i32(b, e * warps), warp), 8);
  });
  mlir::gpu::BarrierOp::create(b);
  ifThen(b, cmp(b, CmpIPredicate::eq, warp, i32(b, 0)), [&](ImplicitLocOpBuilder &b) {
    Value expert = select(b, lt(b, lane, i32(b, experts)), lane, i32(b, 0));
    SmallVector<Value> parts;
    for (int64_t v = 0; v < warps; ++v)
      parts.push_back(load(b, f64Type, partials, add(b, mul(b, expert, i32(b, warps)), i32(b, v)), 8));
    while (parts.size() > 1) {
      SmallVector<Value> halves;
      for (size_t i = 0; i + 1 < parts.size(); i += 2)
        halves.push_back(arith::AddFOp::create(b, parts[i], parts[i + 1]));
      if (parts.size() % 2)
        halves.push_back(parts.back());
      parts = std::move(halves);
    }
    routerTopK(b, arith::TruncFOp::create(b, f32Type, parts[0]), m, experts, topK, ids, gates);
  });
  return perToken();
}

LaunchShape pquant::gpu::buildRouter(ImplicitLocOpBuilder &b, ValueRange args,
                                     StringRef name, int64_t width,
                                     int64_t experts, int64_t topK) {
  Value h = args[0], w = args[1], ids = args[2], gates = args[3];
  Type f32Type = b.getF32Type(), f64Type = b.getF64Type();
  Value probs = sharedMemory(b, (name + "_probs").str(), experts * 4);
  Value tid = threadIdx(b);
  Value lane = arith::AndIOp::create(b, tid, i32(b, 31));
  Value warp = arith::ShRUIOp::create(b, tid, i32(b, 5));
  Value m = blockIdx(b, Dimension::x);
  Value row = mul(b, toI64(b, m), i64(b, width));
  // Logits accumulated in f64 and rounded once, one warp per expert.
  forLoop(b, warp, i32(b, experts), i32(b, kRowThreads / kWarp), {},
          [&](ImplicitLocOpBuilder &b, Value e, ValueRange) {
            Value weights = mul(b, toI64(b, e), i64(b, width));
            Value dot = columnLoop(
                b, lane, width, kWarp, {f64(b, 0.0)},
                [&](ImplicitLocOpBuilder &b, Value d, Value valid, ValueRange acc) {
                  Value safe = toI64(b, select(b, valid, d, i32(b, 0)));
                  Value x = arith::ExtFOp::create(
                      b, f64Type, load(b, f32Type, h, add(b, row, safe), 4));
                  Value c = arith::ExtFOp::create(
                      b, f64Type, load(b, f32Type, w, add(b, weights, safe), 4, true));
                  Value product = select(b, valid, arith::MulFOp::create(b, x, c),
                                         f64(b, 0.0));
                  return SmallVector<Value>{arith::AddFOp::create(b, acc[0], product)};
                },
                /*maxUnroll=*/64)[0];
            dot = warpReduce(b, Combine::AddF, dot);
            ifThen(b, cmp(b, CmpIPredicate::eq, lane, i32(b, 0)),
                   [&](ImplicitLocOpBuilder &b) {
                     store(b, arith::TruncFOp::create(b, f32Type, dot), probs, e, 4);
                   });
            return SmallVector<Value>{};
          });
  mlir::gpu::BarrierOp::create(b);
  // Softmax and top-k in warp 0, a lane per expert (up to 32 experts).
  assert(experts <= kWarp && "router kernel: more experts than lanes");
  ifThen(b, cmp(b, CmpIPredicate::eq, warp, i32(b, 0)), [&](ImplicitLocOpBuilder &b) {
    Value valid = lt(b, lane, i32(b, experts));
    Value safe = select(b, valid, lane, i32(b, 0));
    routerTopK(b, load(b, f32Type, probs, safe, 4), m, experts, topK, ids, gates);
  });
  return perToken();
}

/// Softmax of the `experts` logits, one per lane of the calling warp (lane
/// e has expert e's), and the top-k into ids and gates of token m.
static void routerTopK(ImplicitLocOpBuilder &b, Value logit, Value m, int64_t experts,
                       int64_t topK, Value ids, Value gates) {
  Type f32Type = b.getF32Type(), f64Type = b.getF64Type();
  Value lane = arith::AndIOp::create(b, threadIdx(b), i32(b, 31));
  {
    Value valid = lt(b, lane, i32(b, experts));
    logit = select(b, valid, logit, f32(b, -INFINITY));
    Value max = warpReduce(b, Combine::MaxF, logit);
    Value e = select(b, valid, expF32(b, arith::SubFOp::create(b, logit, max)), f32(b, 0.0));
    // exp(x − max) divided by the f64 sum rounded once, as the reference.
    Value total = arith::TruncFOp::create(
        b, f32Type,
        warpReduce(b, Combine::AddF, arith::ExtFOp::create(b, f64Type, e)));
    Value p = arith::DivFOp::create(b, e, total);
    // Slot j takes the most probable expert ordered after slot j − 1's
    // (lower probability, or equal probability and a higher index); among
    // equals the lower index wins.
    Value previousIndex = i32(b, -1);
    Value previousProb = f32(b, INFINITY);
    for (int64_t slot = 0; slot < topK; ++slot) {
      Value after = arith::OrIOp::create(
          b, arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, p, previousProb),
          arith::AndIOp::create(
              b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, p, previousProb),
              cmp(b, CmpIPredicate::sgt, lane, previousIndex)));
      Value candidate = arith::AndIOp::create(b, valid, after);
      Value bestP = select(b, candidate, p, f32(b, -1.0));
      Value bestI = select(b, candidate, lane, i32(b, kWarp));
      for (int64_t offset = kWarp / 2; offset >= 1; offset /= 2) {
        Value otherP = shuffleXor(b, bestP, offset);
        Value otherI = shuffleXor(b, bestI, offset);
        Value better = arith::OrIOp::create(
            b, arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, otherP, bestP),
            arith::AndIOp::create(
                b, arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, otherP, bestP),
                cmp(b, CmpIPredicate::slt, otherI, bestI)));
        bestP = select(b, better, otherP, bestP);
        bestI = select(b, better, otherI, bestI);
      }
      Value index = add(b, mul(b, toI64(b, m), i64(b, topK)), i64(b, slot));
      ifThen(b, cmp(b, CmpIPredicate::eq, lane, i32(b, 0)), [&](ImplicitLocOpBuilder &b) {
        store(b, bestI, ids, index, 4);
        store(b, bestP, gates, index, 4);
      });
      previousIndex = bestI;
      previousProb = bestP;
    }
  }
}

LaunchShape pquant::gpu::buildCombine(ImplicitLocOpBuilder &b, ValueRange args,
                                      int64_t width, int64_t count,
                                      bool gateWeighting, float alpha,
                                      float beta, bool residual) {
  Value binary = args[0];
  ValueRange experts = args.slice(1, count);
  Value gates = gateWeighting ? args[1 + count] : Value();
  Value x = residual ? args[1 + count + (gateWeighting ? 1 : 0)] : Value();
  Value y = args[1 + count + (gateWeighting ? 1 : 0) + (residual ? 1 : 0)];
  Type f32Type = b.getF32Type();
  Value m = toI64(b, blockIdx(b, Dimension::x));
  Value row = mul(b, m, i64(b, width));
  forColumns(b, width, [&](ImplicitLocOpBuilder &b, Value d) {
    Value index = add(b, row, toI64(b, d));
    // y8 = Σ_j g_j · y_j from zero in slot order, as the reference sums.
    Value mixed = f32(b, 0.0);
    for (auto [slot, expert] : llvm::enumerate(experts)) {
      Value term = load(b, f32Type, expert, index, 4);
      if (gates)
        term = arith::MulFOp::create(
            b,
            load(b, f32Type, gates,
                 add(b, mul(b, m, i64(b, count)), i64(b, int64_t(slot))), 4),
            term);
      mixed = arith::AddFOp::create(b, mixed, term);
    }
    Value result = arith::AddFOp::create(
        b, arith::MulFOp::create(b, f32(b, alpha), mixed),
        arith::MulFOp::create(b, f32(b, beta), load(b, f32Type, binary, index, 4)));
    if (x)
      result = arith::AddFOp::create(b, load(b, f32Type, x, index, 4), result);
    store(b, result, y, index, 4);
  });
  return perToken();
}
