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
/// Tokens of the row path (a decode step's, a prompt's last ones) whose
/// attention one pass over the key and value rows serves: widening a row to
/// f64 costs as much as its products with one query.
constexpr int64_t kQueryBlock = 4;
/// f64 lanes of a value row that Σ p·v sums in one pass over the rows, so
/// that kQueryBlock accumulators of them stay in registers.
constexpr int64_t kValueChunk = 32;

/// Prompt tokens whose attention the query-lanes path computes together,
/// one per f64 lane of a 512-bit register: scores, softmax and Σ p·v all
/// run down the key rows with no horizontal sums.
constexpr int64_t kQueryLanes = 8;
/// Key rows whose scores against kQueryLanes queries one pass over the head
/// accumulates: kKeyRows accumulators and one register of queries.
constexpr int64_t kKeyRows = 8;
/// Head columns whose Σ p·v one pass over the value rows accumulates.
constexpr int64_t kValueColumns = 16;

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
  // The rows kPrefetchBytes ahead, at least the next block's.
  auto weightType = cast<MemRefType>(w.getType());
  int64_t rowBytes = weightType.getDimSize(1) * weightType.getElementTypeBitWidth() / 8;
  int64_t prefetchRows = std::max<int64_t>(kBlockRows, llvm::divideCeil(kPrefetchBytes, rowBytes));
  auto rowBlock = [&](ImplicitLocOpBuilder &b, ArrayRef<Value> rows) {
    SmallVector<Value> aheadRows;
    for (Value row : rows)
      aheadRows.push_back(arith::MinSIOp::create(
          b, arith::AddIOp::create(b, row, index(b, prefetchRows)), index(b, n - 1)));
    forBlocksThenSingles(b, index(b, 0), tokens, kBlockTokens,
                         [&](ImplicitLocOpBuilder &b, ArrayRef<Value> ms) {
                           floatLinearBlock(b, x, w, y, rows, aheadRows, ms);
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

namespace {
/// What one head's attention reads and writes.
struct AttentionHead {
  Value q, keys, values, y;
  /// This layer's index into the caches, the head and its kv head.
  Value layer, head, kvHead;
  /// The cache row of query 0, and the cache's rows.
  Value start, rowCount;
  int64_t headDim;
  float scale;
};

/// Columns [first, first + width) (all of them if width is 0) of row t of
/// `cache`, the head's kv head, widened to f64.
Value wideCacheRow(ImplicitLocOpBuilder &b, const AttentionHead &a, Value cache,
                   Value t, int64_t first = 0, int64_t width = 0) {
  width = width ? width : a.headDim;
  auto cacheType = cast<MemRefType>(cache.getType());
  Value row = vector::LoadOp::create(
      b, VectorType::get({width}, cacheType.getElementType()), cache,
      ValueRange{a.layer, t, a.kvHead, index(b, first)});
  return arith::ExtFOp::create(b, VectorType::get({width}, b.getF64Type()), row);
}

/// Attention of tokens [0, laneTokens) (a multiple of kQueryLanes) of one
/// head, kQueryLanes tokens at a time on the lanes of f64 vectors. The
/// visible key and value rows are widened to f64 once per call into heap
/// buffers, so that each product of the scores and of Σ p·v is one FMA
/// with a broadcast operand, where the row path sums each key row's folded
/// products across lanes and widens the row again per block of queries.
/// Both are bound by the f64 FMAs; the scores take 40% fewer perf samples
/// this way (a 512-token prefill of the 1.3B model on one thread, its
/// attention 3489 → 3040 samples). Each sum is accumulated in f64 and
/// rounded to f32 once, as the row path and the reference do.
/// `queryColumns` ([Dh, kQueryLanes] f64) holds a block's queries
/// transposed: column d of the head, one token a lane.
void attendOnQueryLanes(ImplicitLocOpBuilder &b, const AttentionHead &a,
                        Value laneTokens, Value queryColumns) {
  Type f32 = b.getF32Type(), f64 = b.getF64Type(), indexType = b.getIndexType();
  const int64_t dh = a.headDim;
  auto lanes = VectorType::get({kQueryLanes}, f32);
  auto wideLanes = VectorType::get({kQueryLanes}, f64);
  auto laneIndices = VectorType::get({kQueryLanes}, indexType);
  auto roundUp = [&](Value v, int64_t multiple) -> Value {
    return arith::MulIOp::create(b, arith::CeilDivUIOp::create(b, v, index(b, multiple)),
                                 index(b, multiple));
  };
  // Rows up to the last token's, padded to whole blocks of kKeyRows with
  // zeros (finite, so that a zero probability times them adds nothing).
  Value visibleRows = arith::MinSIOp::create(
      b, arith::AddIOp::create(b, a.start, laneTokens), a.rowCount);
  Value paddedRows = roundUp(visibleRows, kKeyRows);
  auto heapRows = [&](int64_t width, Type element) -> Value {
    return memref::AllocOp::create(b, MemRefType::get({ShapedType::kDynamic, width}, element),
                                   ValueRange{paddedRows}, b.getI64IntegerAttr(64));
  };
  Value wideKeys = heapRows(dh, f64), wideValues = heapRows(dh, f64);
  // Per row, the block's kQueryLanes scores, then their exp, then their
  // probabilities in f64.
  Value scores = heapRows(kQueryLanes, f32), probabilities = heapRows(kQueryLanes, f64);
  Value zeroRow = splat(b, VectorType::get({dh}, f64), 0.0);
  Value lastRow = arith::SubIOp::create(b, visibleRows, index(b, 1));
  forLoop(b, paddedRows, 1, {}, [&](ImplicitLocOpBuilder &b, Value t, ValueRange) {
    Value inside = arith::CmpIOp::create(b, arith::CmpIPredicate::slt, t, visibleRows);
    Value row = arith::MinSIOp::create(b, t, lastRow);
    for (auto [cache, wide] : {std::pair{a.keys, wideKeys}, {a.values, wideValues}})
      vector::StoreOp::create(
          b, arith::SelectOp::create(b, inside, wideCacheRow(b, a, cache, row), zeroRow), wide,
          ValueRange{t, index(b, 0)});
    return SmallVector<Value>{};
  });

  SmallVector<Attribute> laneValues;
  for (int64_t i = 0; i < kQueryLanes; ++i)
    laneValues.push_back(b.getIndexAttr(i));
  Value iota = arith::ConstantOp::create(b, laneIndices,
                                         DenseElementsAttr::get(laneIndices, laneValues));
  Value rowCountLanes = vector::BroadcastOp::create(b, laneIndices, a.rowCount);
  Value scaleLanes = splat(b, lanes, a.scale);
  Value minusInfinity = splat(b, lanes, -INFINITY), zero = splat(b, lanes, 0.0);
  forLoop(b, laneTokens, kQueryLanes, {}, [&](ImplicitLocOpBuilder &b, Value m0, ValueRange) {
    forLoop(b, index(b, dh), 1, {}, [&](ImplicitLocOpBuilder &b, Value d, ValueRange) {
      for (int64_t i = 0; i < kQueryLanes; ++i) {
        Value value = memref::LoadOp::create(
            b, a.q, ValueRange{arith::AddIOp::create(b, m0, index(b, i)), a.head, d});
        memref::StoreOp::create(b, arith::ExtFOp::create(b, f64, value), queryColumns,
                                ValueRange{d, index(b, i)});
      }
      return SmallVector<Value>{};
    });
    // Token m0 + i sees rows [0, start + m0 + i] of the cache.
    Value firstRow = arith::AddIOp::create(b, a.start, m0);
    Value visible = arith::MinSIOp::create(
        b,
        arith::AddIOp::create(
            b,
            arith::AddIOp::create(b, vector::BroadcastOp::create(b, laneIndices, firstRow),
                                  iota),
            vector::BroadcastOp::create(b, laneIndices, index(b, 1))),
        rowCountLanes);
    auto seenAt = [&](ImplicitLocOpBuilder &b, Value t) -> Value {
      return arith::CmpIOp::create(b, arith::CmpIPredicate::slt,
                                   vector::BroadcastOp::create(b, laneIndices, t), visible);
    };
    Value rows = roundUp(arith::MinSIOp::create(
                             b, arith::AddIOp::create(b, firstRow, index(b, kQueryLanes)),
                             a.rowCount),
                         kKeyRows);
    // Scores, kKeyRows rows at a time; rows a token does not see are -inf.
    Value max = forLoop(
        b, rows, kKeyRows, {minusInfinity},
        [&](ImplicitLocOpBuilder &b, Value t0, ValueRange carried) {
          SmallVector<Value> zeros(kKeyRows, splat(b, wideLanes, 0.0));
          ValueRange sums = forLoop(
              b, index(b, dh), 1, zeros, [&](ImplicitLocOpBuilder &b, Value d, ValueRange acc) {
                Value column = vector::LoadOp::create(b, wideLanes, queryColumns,
                                                      ValueRange{d, index(b, 0)});
                SmallVector<Value> next;
                for (int64_t r = 0; r < kKeyRows; ++r) {
                  Value key = memref::LoadOp::create(
                      b, wideKeys, ValueRange{arith::AddIOp::create(b, t0, index(b, r)), d});
                  next.push_back(math::FmaOp::create(
                      b, column, vector::BroadcastOp::create(b, wideLanes, key), acc[r]));
                }
                return next;
              });
          Value rowMax = carried[0];
          for (int64_t r = 0; r < kKeyRows; ++r) {
            Value t = arith::AddIOp::create(b, t0, index(b, r));
            Value score = arith::SelectOp::create(
                b, seenAt(b, t),
                arith::MulFOp::create(b, arith::TruncFOp::create(b, lanes, sums[r]), scaleLanes),
                minusInfinity);
            vector::StoreOp::create(b, score, scores, ValueRange{t, index(b, 0)});
            rowMax = arith::MaximumFOp::create(b, rowMax, score);
          }
          return SmallVector<Value>{rowMax};
        })[0];
    // exp(x − max) in place, summed in f64; the rows a token does not see
    // weigh 0.
    Value sum = forLoop(
        b, rows, 1, {splat(b, wideLanes, 0.0)},
        [&](ImplicitLocOpBuilder &b, Value t, ValueRange carried) {
          Value score = vector::LoadOp::create(b, lanes, scores, ValueRange{t, index(b, 0)});
          Value e = arith::SelectOp::create(
              b, seenAt(b, t), exactExp(b, arith::SubFOp::create(b, score, max)), zero);
          vector::StoreOp::create(b, e, scores, ValueRange{t, index(b, 0)});
          return SmallVector<Value>{
              arith::AddFOp::create(b, carried[0], arith::ExtFOp::create(b, wideLanes, e))};
        })[0];
    Value total = arith::TruncFOp::create(b, lanes, sum);
    forLoop(b, rows, 1, {}, [&](ImplicitLocOpBuilder &b, Value t, ValueRange) {
      Value e = vector::LoadOp::create(b, lanes, scores, ValueRange{t, index(b, 0)});
      Value p = arith::DivFOp::create(b, e, total);
      vector::StoreOp::create(b, arith::ExtFOp::create(b, wideLanes, p), probabilities,
                              ValueRange{t, index(b, 0)});
      return SmallVector<Value>{};
    });
    // Σ p·v, kValueColumns columns of the head a pass.
    int64_t columns = dh % kValueColumns == 0 ? kValueColumns : dh;
    forLoop(b, index(b, dh), columns, {}, [&](ImplicitLocOpBuilder &b, Value d0, ValueRange) {
      SmallVector<Value> zeros(columns, splat(b, wideLanes, 0.0));
      ValueRange sums = forLoop(
          b, rows, 1, zeros, [&](ImplicitLocOpBuilder &b, Value t, ValueRange acc) {
            Value p = vector::LoadOp::create(b, wideLanes, probabilities,
                                             ValueRange{t, index(b, 0)});
            SmallVector<Value> next;
            for (int64_t j = 0; j < columns; ++j) {
              Value v = memref::LoadOp::create(
                  b, wideValues, ValueRange{t, arith::AddIOp::create(b, d0, index(b, j))});
              next.push_back(math::FmaOp::create(
                  b, p, vector::BroadcastOp::create(b, wideLanes, v), acc[j]));
            }
            return next;
          });
      for (int64_t j = 0; j < columns; ++j) {
        Value out = arith::TruncFOp::create(b, lanes, sums[j]);
        Value d = arith::AddIOp::create(b, d0, index(b, j));
        for (int64_t i = 0; i < kQueryLanes; ++i)
          memref::StoreOp::create(b, vector::ExtractOp::create(b, out, i), a.y,
                                  ValueRange{arith::AddIOp::create(b, m0, index(b, i)), a.head, d});
      }
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
}
} // namespace

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
  // The queries are the last of the new tokens (all of them but in a
  // prefill_last's last layer, which needs the last token's output only).
  Value tokens = memref::DimOp::create(b, q, 0);
  Value newTokens = memref::DimOp::create(b, k, 0);
  Value layerIndex = index(b, layer), rowCount = index(b, rows);

  // New keys and values go to rows start + m; rows past the cache are
  // dropped. On the threads: a prompt's rows are fresh pages, and the kernel
  // clearing them on first write was 9% of a 2-thread 512-token prefill
  // while the second thread waited.
  parallelLoop(b, newTokens, [&](ImplicitLocOpBuilder &b, Value m) {
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

  // Query m is new token newTokens − tokens + m, at this cache row.
  Value queryStart = arith::AddIOp::create(
      b, start, arith::SubIOp::create(b, newTokens, tokens));

  float scale = float(1.0 / std::sqrt(double(headDim)));
  // The reference forms q·k and Σ p·v in f64 and rounds each once to f32.
  // f32 products are exact in f64, so summing them in f64 in any order
  // rounds to the same f32 but for near-ties: the compiled scores and
  // outputs are the reference's, and no rounding difference can flip a
  // quantized activation downstream.
  Type f64 = b.getF64Type();
  auto headLanes = VectorType::get({headDim}, f32);
  auto wideHeadLanes = VectorType::get({headDim}, f64);
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
    AttentionHead head{q,      keys,  values,   y,       layerIndex,
                       h,      kvHead, queryStart, rowCount, headDim, scale};
    // Whole blocks of kQueryLanes prompt tokens on the query lanes, the
    // rest (a decode step's one) by rows below.
    Value laneTokens = arith::MulIOp::create(
        b, arith::DivUIOp::create(b, tokens, index(b, kQueryLanes)), index(b, kQueryLanes));
    Value queryColumns =
        memref::AllocaOp::create(b, MemRefType::get({headDim, kQueryLanes}, f64));
    Value anyLanes = arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, laneTokens, index(b, 0));
    scf::IfOp::create(b, anyLanes, [&](OpBuilder &nested, Location loc) {
      ImplicitLocOpBuilder b(loc, nested);
      attendOnQueryLanes(b, head, laneTokens, queryColumns);
      scf::YieldOp::create(b);
    });
    // The queries of tokens `ms` together: each key and value row is
    // loaded and widened once for all of them. Query m sees rows
    // 0 .. queryStart + m; the block computes scores up to the last token's and
    // leaves the others' extra ones out of their max, softmax and sum.
    auto queryBlock = [&](ImplicitLocOpBuilder &b, ArrayRef<Value> ms) {
      SmallVector<Value> visible, queries;
      for (Value m : ms) {
        visible.push_back(arith::MinSIOp::create(
            b,
            arith::AddIOp::create(b, arith::AddIOp::create(b, queryStart, m),
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
                Value row = wideCacheRow(b, head, keys, arith::AddIOp::create(b, t0, index(b, r)));
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
            Value keyRow = wideCacheRow(b, head, keys, t);
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
              Value valueRow = wideCacheRow(b, head, values, t, d0, chunk);
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
    forBlocksThenSingles(b, laneTokens, tokens, kQueryBlock,
                         [&](ImplicitLocOpBuilder &b, ArrayRef<Value> ms) { queryBlock(b, ms); });
  });
}
