//===- ModelKernels.cpp - embedding, lm_head, RoPE and attention kernels ----===//

#include "KernelBuilder.h"
#include "Kernels.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace pquant;
using namespace pquant::kernels;

namespace {
constexpr int64_t kLanes = 16;

/// Key rows whose scores one reduction tree computes: with kQueryBlock
/// queries, their folded products must stay in registers (32 zmm).
constexpr int64_t kScoreBlock = 4;
/// f64 lanes a key row's products are folded into: one 512-bit register.
constexpr int64_t kFoldLanes = 8;
static_assert(kScoreBlock <= kFoldLanes, "sumEachPart sums at most W parts");
/// Prompt tokens whose attention one pass over the key and value rows
/// serves: widening a row to f64 costs as much as its products with one
/// query.
constexpr int64_t kQueryBlock = 4;
/// f64 lanes of a value row that Σ p·v sums in one pass over the rows, so
/// that kQueryBlock accumulators of them stay in registers.
constexpr int64_t kValueChunk = 32;

/// `value` (f32 or f16) as f32.
Value toF32(ImplicitLocOpBuilder &b, Value value) {
  if (value.getType().isF32())
    return value;
  return arith::ExtFOp::create(b, b.getF32Type(), value);
}
} // namespace

void pquant::kernels::buildEmbedding(ImplicitLocOpBuilder &b, ValueRange args) {
  // (table, tokens, y), or (table, tokens, scales, y) for an int8 table.
  Value table = args[0], tokens = args[1], y = args.back();
  Value scales = args.size() == 4 ? args[2] : Value();
  auto tableType = cast<MemRefType>(table.getType());
  int64_t vocab = tableType.getDimSize(0), width = tableType.getDimSize(1);
  Type f32 = b.getF32Type();
  Value count = memref::DimOp::create(b, tokens, 0);
  forLoop(b, count, 1, {}, [&](ImplicitLocOpBuilder &b, Value m, ValueRange) {
    Value token = arith::IndexCastOp::create(
        b, b.getIndexType(), memref::LoadOp::create(b, tokens, ValueRange{m}));
    Value row = arith::MinSIOp::create(
        b, arith::MaxSIOp::create(b, token, index(b, 0)), index(b, vocab - 1));
    Value scale =
        scales ? Value(memref::LoadOp::create(b, scales, ValueRange{row}))
               : Value();
    forLoop(b, index(b, width), 1, {},
            [&](ImplicitLocOpBuilder &b, Value d, ValueRange) {
              Value v = memref::LoadOp::create(b, table, ValueRange{row, d});
              Value value =
                  scale ? Value(arith::MulFOp::create(
                              b, arith::SIToFPOp::create(b, f32, v), scale))
                        : toF32(b, v);
              memref::StoreOp::create(b, value, y, ValueRange{m, d});
              return SmallVector<Value>{};
            });
    return SmallVector<Value>{};
  });
}

namespace {
/// Rows and tokens of one register block of the float linear: 4 × 4
/// accumulators take 8 vector loads per 16 FMAs, where one row against one
/// token takes 2 per FMA.
constexpr int64_t kBlockRows = 4, kBlockTokens = 4;

/// y[m, n] = Σ_k x[m, k] · w[n, k] for every row n in `rows` and token m in
/// `tokens`, one accumulator vector per pair; each weight load also
/// prefetches the same columns of the matching row of `aheadRows`.
void floatLinearBlock(ImplicitLocOpBuilder &b, Value x, Value w, Value y,
                      ArrayRef<Value> rows, ArrayRef<Value> aheadRows,
                      ArrayRef<Value> tokens) {
  auto weightType = cast<MemRefType>(w.getType());
  int64_t k = weightType.getDimSize(1);
  bool inBounds = k % kLanes == 0;
  auto lanes = VectorType::get({kLanes}, b.getF32Type());
  auto weightLanes = VectorType::get({kLanes}, weightType.getElementType());
  int64_t count = rows.size() * tokens.size();
  SmallVector<Value> zeros(count, splat(b, lanes, 0.0));
  ValueRange sums = forLoop(
      b, index(b, k), kLanes, zeros,
      [&](ImplicitLocOpBuilder &b, Value col, ValueRange carried) {
        SmallVector<Value> weights, activations;
        for (auto [row, ahead] : llvm::zip(rows, aheadRows)) {
          prefetchToL2(b, w, ValueRange{ahead, col});
          Value c = readVector(b, weightLanes, w, {row, col}, 0.0, inBounds);
          if (!weightType.getElementType().isF32())
            c = arith::ExtFOp::create(b, lanes, c);
          weights.push_back(c);
        }
        for (Value m : tokens)
          activations.push_back(readVector(b, lanes, x, {m, col}, 0.0, inBounds));
        SmallVector<Value> next;
        for (auto [r, c] : llvm::enumerate(weights))
          for (auto [t, a] : llvm::enumerate(activations))
            next.push_back(math::FmaOp::create(
                b, a, c, carried[r * tokens.size() + t]));
        return next;
      });
  for (auto [r, row] : llvm::enumerate(rows))
    for (auto [t, m] : llvm::enumerate(tokens))
      memref::StoreOp::create(
          b,
          vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                      sums[r * tokens.size() + t]),
          y, ValueRange{m, row});
}
} // namespace

void pquant::kernels::buildFloatLinear(ImplicitLocOpBuilder &b,
                                       ValueRange args) {
  Value x = args[0], w = args[1], y = args[2];
  int64_t n = cast<MemRefType>(w.getType()).getDimSize(0);
  Value tokens = memref::DimOp::create(b, x, 0);
  // Blocks of rows on the threads; inside, blocks of tokens, then the
  // remaining tokens one by one. Each weight row is read from memory once
  // per thread and reused by every token while it is in cache (the lm_head
  // is the largest tensor of a model).
  Value blockedTokens = arith::MulIOp::create(
      b, arith::DivUIOp::create(b, tokens, index(b, kBlockTokens)),
      index(b, kBlockTokens));
  // The rows kPrefetchBytes ahead, at least the next block's.
  auto weightType = cast<MemRefType>(w.getType());
  int64_t rowBytes = weightType.getDimSize(1) * weightType.getElementTypeBitWidth() / 8;
  int64_t prefetchRows = std::max<int64_t>(kBlockRows, llvm::divideCeil(kPrefetchBytes, rowBytes));
  auto rowBlock = [&](ImplicitLocOpBuilder &b, ArrayRef<Value> rows) {
    SmallVector<Value> aheadRows;
    for (Value row : rows)
      aheadRows.push_back(arith::MinSIOp::create(
          b, arith::AddIOp::create(b, row, index(b, prefetchRows)), index(b, n - 1)));
    forLoop(b, blockedTokens, kBlockTokens, {},
            [&](ImplicitLocOpBuilder &b, Value m, ValueRange) {
              SmallVector<Value> ms;
              for (int64_t t = 0; t < kBlockTokens; ++t)
                ms.push_back(arith::AddIOp::create(b, m, index(b, t)));
              floatLinearBlock(b, x, w, y, rows, aheadRows, ms);
              return SmallVector<Value>{};
            });
    forLoopFrom(b, blockedTokens, tokens, 1, {},
                [&](ImplicitLocOpBuilder &b, Value m, ValueRange) {
                  floatLinearBlock(b, x, w, y, rows, aheadRows, {m});
                  return SmallVector<Value>{};
                });
  };
  parallelLoop(b, index(b, n / kBlockRows),
               [&](ImplicitLocOpBuilder &b, Value block) {
                 Value first = arith::MulIOp::create(b, block, index(b, kBlockRows));
                 SmallVector<Value> rows;
                 for (int64_t r = 0; r < kBlockRows; ++r)
                   rows.push_back(arith::AddIOp::create(b, first, index(b, r)));
                 rowBlock(b, rows);
               });
  for (int64_t row = n - n % kBlockRows; row < n; ++row)
    rowBlock(b, {index(b, row)});
}

void pquant::kernels::buildRoPE(ImplicitLocOpBuilder &b, ValueRange args,
                                double theta) {
  Value x = args[0], positions = args[1], y = args[2];
  auto type = cast<MemRefType>(x.getType());
  int64_t heads = type.getDimSize(1), headDim = type.getDimSize(2);
  int64_t half = headDim / 2;
  Type f32 = b.getF32Type();
  auto halfLanes = VectorType::get({half}, f32);
  // theta^(−2i/Dh) in double, rounded once, as the reference does.
  SmallVector<Attribute> inverses;
  for (int64_t i = 0; i < half; ++i)
    inverses.push_back(b.getF32FloatAttr(
        float(std::pow(theta, -2.0 * double(i) / double(headDim)))));
  Value inverse = arith::ConstantOp::create(
      b, halfLanes, DenseElementsAttr::get(halfLanes, inverses));
  Value tokens = memref::DimOp::create(b, x, 0);
  parallelLoop(b, tokens, [&](ImplicitLocOpBuilder &b, Value m) {
    Value position = arith::SIToFPOp::create(
        b, f32, memref::LoadOp::create(b, positions, ValueRange{m}));
    // The angles of the token's pairs, and their cos and sin, once for
    // every head.
    Value angle = arith::MulFOp::create(
        b, vector::BroadcastOp::create(b, halfLanes, position), inverse);
    auto [cos, sin] = exactCosSin(b, angle);
    Value cosLanes = cos, sinLanes = sin;
    forLoop(b, index(b, heads), 1, {}, [&](ImplicitLocOpBuilder &b, Value h,
                                           ValueRange) {
      Value first = index(b, 0), second = index(b, half);
      Value a = vector::LoadOp::create(b, halfLanes, x, ValueRange{m, h, first});
      Value c = vector::LoadOp::create(b, halfLanes, x, ValueRange{m, h, second});
      vector::StoreOp::create(
          b,
          arith::SubFOp::create(b, arith::MulFOp::create(b, a, cosLanes),
                                arith::MulFOp::create(b, c, sinLanes)),
          y, ValueRange{m, h, first});
      vector::StoreOp::create(
          b,
          arith::AddFOp::create(b, arith::MulFOp::create(b, c, cosLanes),
                                arith::MulFOp::create(b, a, sinLanes)),
          y, ValueRange{m, h, second});
      return SmallVector<Value>{};
    });
  });
}

void pquant::kernels::buildAttention(ImplicitLocOpBuilder &b, ValueRange args,
                                     int64_t layer) {
  Value q = args[0], k = args[1], v = args[2], keys = args[3],
        values = args[4], start = args[5], y = args[6];
  auto cacheType = cast<MemRefType>(keys.getType());
  int64_t rows = cacheType.getDimSize(1);
  int64_t heads = cast<MemRefType>(q.getType()).getDimSize(1);
  int64_t kvHeads = cacheType.getDimSize(2), headDim = cacheType.getDimSize(3);
  int64_t group = heads / kvHeads;
  Type f32 = b.getF32Type();
  Value tokens = memref::DimOp::create(b, q, 0);
  Value layerIndex = index(b, layer), rowCount = index(b, rows);

  // New keys and values go to rows start + m; rows past the cache are
  // dropped. On the threads: a prompt's rows are fresh pages, and the kernel
  // clearing them on first write was 9% of a 2-thread 512-token prefill
  // while the second thread waited.
  parallelLoop(b, tokens, [&](ImplicitLocOpBuilder &b, Value m) {
    Value row = arith::AddIOp::create(b, start, m);
    Value fits = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, row, rowCount);
    scf::IfOp::create(b, fits, [&](OpBuilder &nested, Location loc) {
      ImplicitLocOpBuilder b(loc, nested);
      forLoop(b, index(b, kvHeads), 1, {}, [&](ImplicitLocOpBuilder &b,
                                              Value h, ValueRange) {
        for (auto [source, cache] : {std::pair{k, keys}, {v, values}}) {
          Value head = vector::LoadOp::create(
              b, VectorType::get({headDim}, f32), source,
              ValueRange{m, h, index(b, 0)});
          if (!cacheType.getElementType().isF32())
            head = arith::TruncFOp::create(
                b, VectorType::get({headDim}, cacheType.getElementType()),
                head);
          vector::StoreOp::create(b, head, cache,
                                  ValueRange{layerIndex, row, h, index(b, 0)});
        }
        return SmallVector<Value>{};
      });
      scf::YieldOp::create(b);
    });
  });

  float scale = float(1.0 / std::sqrt(double(headDim)));
  // The reference forms q·k and Σ p·v in f64 and rounds each once to f32.
  // f32 products are exact in f64, so summing them in f64 in any order
  // rounds to the same f32 but for near-ties: the compiled scores and
  // outputs are the reference's, and no rounding difference can flip a
  // quantized activation downstream.
  Type f64 = b.getF64Type();
  auto headLanes = VectorType::get({headDim}, f32);
  auto wideHeadLanes = VectorType::get({headDim}, f64);
  // Columns [first, first + width) of cache row t of `kvHead`, widened to f64.
  auto cacheRowOf = [&](ImplicitLocOpBuilder &b, Value cache, Value t,
                        Value kvHead, int64_t first = 0,
                        int64_t width = 0) -> Value {
    width = width ? width : headDim;
    Value row = vector::LoadOp::create(
        b, VectorType::get({width}, cacheType.getElementType()), cache,
        ValueRange{layerIndex, t, kvHead, index(b, first)});
    return arith::ExtFOp::create(b, VectorType::get({width}, f64), row);
  };
  // A row's products folded into kFoldLanes lanes by FMAs (whole head
  // vectors when Dh is not a multiple of them).
  int64_t foldLanes = headDim % kFoldLanes == 0 ? kFoldLanes : headDim;
  auto foldedDot = [&](ImplicitLocOpBuilder &b, Value query,
                       Value row) -> Value {
    Value acc;
    for (int64_t d = 0; d < headDim; d += foldLanes) {
      auto slice = [&](Value v) -> Value {
        if (foldLanes == headDim)
          return v;
        return vector::ExtractStridedSliceOp::create(
            b, v, ArrayRef<int64_t>{d}, ArrayRef<int64_t>{foldLanes},
            ArrayRef<int64_t>{1});
      };
      acc = acc ? Value(math::FmaOp::create(b, slice(query), slice(row), acc))
                : Value(arith::MulFOp::create(b, slice(query), slice(row)));
    }
    return acc;
  };
  auto blockLanes = VectorType::get({kScoreBlock}, f32);
  Value scaleLanes = splat(b, blockLanes, scale);
  auto rowOffsets = VectorType::get({kScoreBlock}, b.getIndexType());
  SmallVector<Attribute> offsetValues;
  for (int64_t r = 0; r < kScoreBlock; ++r)
    offsetValues.push_back(b.getIndexAttr(r));
  Value iota = arith::ConstantOp::create(
      b, rowOffsets, DenseElementsAttr::get(rowOffsets, offsetValues));
  // Heads on the threads, each with its score buffers on its stack.
  parallelLoop(b, index(b, heads), [&](ImplicitLocOpBuilder &b, Value h) {
    SmallVector<Value> scoreRows;
    for (int64_t i = 0; i < kQueryBlock; ++i)
      scoreRows.push_back(
          memref::AllocaOp::create(b, MemRefType::get({rows}, f32)));
    Value kvHead = arith::DivUIOp::create(b, h, index(b, group));
    // The queries of tokens `ms` together: each key and value row is
    // loaded and widened once for all of them. Token m sees rows
    // 0 .. start + m; the block computes scores up to the last token's and
    // leaves the others' extra ones out of their max, softmax and sum.
    auto queryBlock = [&](ImplicitLocOpBuilder &b, ArrayRef<Value> ms) {
      SmallVector<Value> visible, queries;
      for (Value m : ms) {
        visible.push_back(arith::MinSIOp::create(
            b,
            arith::AddIOp::create(b, arith::AddIOp::create(b, start, m),
                                  index(b, 1)),
            rowCount));
        queries.push_back(arith::ExtFOp::create(
            b, wideHeadLanes,
            Value(vector::LoadOp::create(b, headLanes, q,
                                         ValueRange{m, h, index(b, 0)}))));
      }
      Value lastVisible = visible.back();
      // kScoreBlock rows at a time, summed by one reduction tree when the
      // rows fold into kFoldLanes lanes.
      Value blocked = index(b, 0);
      SmallVector<Value> maxes(ms.size(), scalar(b, f32, -INFINITY));
      if (foldLanes == kFoldLanes) {
        blocked = arith::MulIOp::create(
            b, arith::DivUIOp::create(b, lastVisible, index(b, kScoreBlock)),
            index(b, kScoreBlock));
        SmallVector<Value> lowest(ms.size(), splat(b, blockLanes, -INFINITY));
        ValueRange blockMaxes = forLoop(
            b, blocked, kScoreBlock, lowest,
            [&](ImplicitLocOpBuilder &b, Value t0, ValueRange carried) {
              // Row by row, so a widened row is dead before the next.
              SmallVector<SmallVector<Value>> folded(queries.size());
              for (int64_t r = 0; r < kScoreBlock; ++r) {
                Value row = cacheRowOf(
                    b, keys, arith::AddIOp::create(b, t0, index(b, r)),
                    kvHead);
                for (auto [i, query] : llvm::enumerate(queries))
                  folded[i].push_back(foldedDot(b, query, row));
              }
              Value rowIndices = arith::AddIOp::create(
                  b, vector::BroadcastOp::create(b, rowOffsets, t0), iota);
              SmallVector<Value> next;
              for (size_t i = 0; i < queries.size(); ++i) {
                Value block = arith::MulFOp::create(
                    b,
                    arith::TruncFOp::create(b, blockLanes,
                                            sumEachPart(b, folded[i])),
                    scaleLanes);
                vector::StoreOp::create(b, block, scoreRows[i],
                                        ValueRange{t0});
                Value seen = arith::CmpIOp::create(
                    b, arith::CmpIPredicate::slt, rowIndices,
                    vector::BroadcastOp::create(b, rowOffsets, visible[i]));
                next.push_back(arith::MaximumFOp::create(
                    b, carried[i],
                    arith::SelectOp::create(
                        b, seen, block, splat(b, blockLanes, -INFINITY))));
              }
              return next;
            });
        for (auto [i, blockMax] : llvm::enumerate(blockMaxes))
          maxes[i] = vector::ReductionOp::create(
              b, vector::CombiningKind::MAXIMUMF, blockMax);
      }
      ValueRange rowMaxes = forLoopFrom(
          b, blocked, lastVisible, 1, maxes,
          [&](ImplicitLocOpBuilder &b, Value t, ValueRange carried) {
            Value keyRow = cacheRowOf(b, keys, t, kvHead);
            SmallVector<Value> next;
            for (auto [i, query] : llvm::enumerate(queries)) {
              Value dot = vector::ReductionOp::create(
                  b, vector::CombiningKind::ADD, foldedDot(b, query, keyRow));
              Value score = arith::MulFOp::create(
                  b, arith::TruncFOp::create(b, f32, dot),
                  scalar(b, f32, scale));
              memref::StoreOp::create(b, score, scoreRows[i], ValueRange{t});
              Value seen = arith::CmpIOp::create(b, arith::CmpIPredicate::slt,
                                                 t, visible[i]);
              next.push_back(arith::SelectOp::create(
                  b, seen, arith::MaximumFOp::create(b, carried[i], score),
                  carried[i]));
            }
            return next;
          });
      // Probabilities; rows a token does not see weigh 0 in the sum below.
      for (size_t i = 0; i < ms.size(); ++i) {
        Value scoresOfToken = scoreRows[i];
        softmaxInPlace(b, scoresOfToken, visible[i], rowMaxes[i]);
        forLoopFrom(b, visible[i], lastVisible, 1, {},
                    [&](ImplicitLocOpBuilder &b, Value t, ValueRange) {
                      memref::StoreOp::create(b, scalar(b, f32, 0.0),
                                              scoresOfToken, ValueRange{t});
                      return SmallVector<Value>{};
                    });
      }
      // One pass over the value rows per chunk of the head.
      int64_t chunk = headDim % kValueChunk == 0 ? kValueChunk : headDim;
      auto wideChunkLanes = VectorType::get({chunk}, f64);
      for (int64_t d0 = 0; d0 < headDim; d0 += chunk) {
        SmallVector<Value> zeros(ms.size(), splat(b, wideChunkLanes, 0.0));
        ValueRange sums = forLoop(
            b, lastVisible, 1, zeros,
            [&](ImplicitLocOpBuilder &b, Value t, ValueRange acc) {
              Value valueRow = cacheRowOf(b, values, t, kvHead, d0, chunk);
              SmallVector<Value> next;
              for (size_t i = 0; i < ms.size(); ++i) {
                Value p = arith::ExtFOp::create(
                    b, f64,
                    Value(memref::LoadOp::create(b, scoreRows[i],
                                                 ValueRange{t})));
                next.push_back(math::FmaOp::create(
                    b, vector::BroadcastOp::create(b, wideChunkLanes, p),
                    valueRow, acc[i]));
              }
              return next;
            });
        for (auto [m, sum] : llvm::zip(ms, sums))
          vector::StoreOp::create(
              b,
              arith::TruncFOp::create(b, VectorType::get({chunk}, f32), sum),
              y, ValueRange{m, h, index(b, d0)});
      }
    };
    Value blockedTokens = arith::MulIOp::create(
        b, arith::DivUIOp::create(b, tokens, index(b, kQueryBlock)),
        index(b, kQueryBlock));
    forLoop(b, blockedTokens, kQueryBlock, {},
            [&](ImplicitLocOpBuilder &b, Value m0, ValueRange) {
              SmallVector<Value> ms;
              for (int64_t i = 0; i < kQueryBlock; ++i)
                ms.push_back(arith::AddIOp::create(b, m0, index(b, i)));
              queryBlock(b, ms);
              return SmallVector<Value>{};
            });
    forLoopFrom(b, blockedTokens, tokens, 1, {},
                [&](ImplicitLocOpBuilder &b, Value m, ValueRange) {
                  queryBlock(b, {m});
                  return SmallVector<Value>{};
                });
  });
}
