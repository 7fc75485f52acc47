//===- LinearKernels.cpp - quantize and linear-layer kernels ----------------===//

#include "KernelBuilder.h"
#include "Kernels.h"

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

using namespace mlir;
using namespace pquant;
using namespace pquant::kernels;

namespace {
/// Activation lanes per vector step of the quantize kernel.
constexpr int64_t kQuantLanes = 16;
/// Bits per word of the bit-serial kernel: one word per 64 activations.
constexpr int64_t kPlaneWord = 64;
constexpr int64_t kBitPlanes = 8;
/// Rows of the int8 linear that share each activation load: their
/// accumulators fit one reduction tree of the 4-lane (sdot) accumulators.
constexpr int64_t kInt8RowBlock = 4;
/// Tokens of the int8 linear (of one expert) that share each weight load:
/// kInt8RowBlock × kInt8Tokens accumulators stay in registers.
constexpr int64_t kInt8Tokens = 4;
/// The lookup-table GEMM: tokens per block (the i16 lanes of one 512-bit
/// table entry), weight bits per table index, and the fewest tokens it
/// takes (1.3B model, 2 threads: unpack-dot was as fast or faster up to
/// 48-token prompts, lookup 20% faster at 512).
constexpr int64_t kLookupTokens = 32;
constexpr int64_t kLookupGroupBits = 4;
constexpr int64_t kLookupMinTokens = 64;
/// Columns of a token block that the lookup GEMM transposes at a time.
constexpr int64_t kTransposeColumns = 8;
/// Tiles ahead of the row whose weight words the lookup GEMM prefetches.
constexpr int64_t kLookupPrefetchTiles = 4;

/// The activation bytes of a token group of the unpack-dot GEMM, kept in
/// L2 while every weight tile passes them (the 1.3B model's 512-token
/// prefill read 1-2.8 MB of activations per tile, from L3).
constexpr int64_t kGroupActivationBytes = 256 * 1024;

/// The weight scales of the tile of `rows` rows from `firstRow`: one per
/// row from `ws`, or its single per-tensor scale.
Value tileScale(ImplicitLocOpBuilder &b, Value ws, int64_t rows,
                Value firstRow, bool exactRows) {
  auto lanes = VectorType::get({rows}, b.getF32Type());
  if (cast<MemRefType>(ws.getType()).getDimSize(0) != 1)
    return readVector(b, lanes, ws, {firstRow}, 0.0, exactRows);
  return vector::BroadcastOp::create(
      b, lanes, memref::LoadOp::create(b, ws, ValueRange{index(b, 0)}));
}

/// The end of both BitLinear kernels for one tile and token m:
/// y[m, firstRow ..] = f32(2·ones − Σ_k q[m, k]) · scale · s[m], where `ones`
/// holds Σ_{B=1} q per row and rowSums[m] is Σ_k q[m, k].
void storeBitLinearTile(ImplicitLocOpBuilder &b, Value ones, Value rowSums,
                        Value s, Value scale, Value y, Value m, Value firstRow,
                        bool exactRows) {
  auto lanes = cast<VectorType>(ones.getType());
  Value rowSum = memref::LoadOp::create(b, rowSums, ValueRange{m});
  if (rowSum.getType() != lanes.getElementType())
    rowSum = arith::ExtSIOp::create(b, lanes.getElementType(), rowSum);
  Value acc = arith::SubIOp::create(
      b, arith::ShLIOp::create(b, ones, splat(b, lanes, 1)),
      vector::BroadcastOp::create(b, lanes, rowSum));
  auto floatLanes = VectorType::get(lanes.getShape(), b.getF32Type());
  Value result = arith::MulFOp::create(
      b, arith::MulFOp::create(b, arith::SIToFPOp::create(b, floatLanes, acc),
                               scale),
      vector::BroadcastOp::create(
          b, floatLanes, memref::LoadOp::create(b, s, ValueRange{m})));
  writeVector(b, result, y, {m, firstRow}, exactRows);
}

/// Σ_k q[m, k] (i32) of int8 activations q: [M, K], 64 at a time.
Value activationSum(ImplicitLocOpBuilder &b, Value q, Value m) {
  int64_t k = cast<MemRefType>(q.getType()).getDimSize(1);
  auto bytes = VectorType::get({kPlaneWord}, b.getI8Type());
  auto wide = VectorType::get({kPlaneWord}, b.getI32Type());
  Value sums = forLoop(
      b, index(b, k), kPlaneWord, {splat(b, wide, 0)},
      [&](ImplicitLocOpBuilder &b, Value col, ValueRange carried) {
        Value v = readVector(b, bytes, q, {m, col}, 0, k % kPlaneWord == 0);
        return SmallVector<Value>{arith::AddIOp::create(
            b, carried[0], arith::ExtSIOp::create(b, wide, v))};
      })[0];
  return vector::ReductionOp::create(b, vector::CombiningKind::ADD, sums);
}

/// rowSums[m] = Σ_k q[m, k] for every token, on the threads.
void storeActivationSums(ImplicitLocOpBuilder &b, Value q, Value rowSums) {
  parallelLoop(b, memref::DimOp::create(b, q, 0),
               [&](ImplicitLocOpBuilder &b, Value m) {
    memref::StoreOp::create(b, activationSum(b, q, m), rowSums, ValueRange{m});
  });
}
} // namespace

void pquant::kernels::buildQuantize(ImplicitLocOpBuilder &b, ValueRange args) {
  Value x = args[0], q = args[1], s = args[2];
  int64_t k = cast<MemRefType>(x.getType()).getDimSize(1);
  bool exact = k % kQuantLanes == 0;
  Type f32 = b.getF32Type();
  auto lanes = VectorType::get({kQuantLanes}, f32);
  Value tokens = memref::DimOp::create(b, x, 0);
  Value width = index(b, k);

  parallelLoop(b, tokens, [&](ImplicitLocOpBuilder &b, Value m) {
    Value maxAbs = forLoop(
        b, width, kQuantLanes, {splat(b, lanes, 0.0)},
        [&](ImplicitLocOpBuilder &b, Value col, ValueRange carried) {
          Value v = readVector(b, lanes, x, {m, col}, 0.0, exact);
          return SmallVector<Value>{
              arith::MaximumFOp::create(b, carried[0], math::AbsFOp::create(b, v))};
        })[0];
    Value max = vector::ReductionOp::create(b, vector::CombiningKind::MAXIMUMF,
                                            maxAbs);
    // s = max / 127, or 1 for an all-zero row so q = 0 and q·s stays finite.
    Value zero = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, max,
                                       scalar(b, f32, 0.0));
    Value scale = arith::SelectOp::create(
        b, zero, scalar(b, f32, 1.0),
        arith::DivFOp::create(b, max, scalar(b, f32, 127.0)));
    memref::StoreOp::create(b, scale, s, ValueRange{m});
    Value scaleLanes = vector::BroadcastOp::create(b, lanes, scale);
    forLoop(b, width, kQuantLanes, {},
            [&](ImplicitLocOpBuilder &b, Value col, ValueRange) {
              Value v = readVector(b, lanes, x, {m, col}, 0.0, exact);
              // round_half_away(v / s) = sign · floor(|v / s| + 0.5), each an
              // f32 operation as the reference performs it.
              Value ratio = arith::DivFOp::create(b, v, scaleLanes);
              Value rounded = math::FloorOp::create(
                  b, arith::AddFOp::create(b, math::AbsFOp::create(b, ratio),
                                           splat(b, lanes, 0.5)));
              Value clamped = arith::MinimumFOp::create(b, rounded,
                                                        splat(b, lanes, 127.0));
              Value signedValue = math::CopySignOp::create(b, clamped, ratio);
              Value bytes = arith::FPToSIOp::create(
                  b, VectorType::get({kQuantLanes}, b.getI8Type()), signedValue);
              writeVector(b, bytes, q, {m, col}, exact);
              return SmallVector<Value>{};
            });
  });
}

void pquant::kernels::buildBitSerialLinear(ImplicitLocOpBuilder &b,
                                           ValueRange args,
                                           PackedLayoutAttr layout) {
  Value q = args[0], s = args[1], w = args[2], ws = args[3], y = args[4];
  Value planes = args[5], rowSums = args[6];
  int64_t n = layout.getRows(), k = layout.getCols();
  int64_t rows = layout.getTileRows(), words = layout.getWordsPerRow();
  int64_t tiles = layout.getStorageShape()[0];
  Type i8 = b.getI8Type(), i32 = b.getI32Type(), i64 = b.getI64Type();
  auto activationLanes = VectorType::get({kPlaneWord}, i8);
  auto tileLanes = VectorType::get({rows}, i64);
  Value tokens = memref::DimOp::create(b, q, 0);

  // Bit-plane p of token m, word j holds bit p of q[m, 64j .. 64j + 63];
  // built once per token and reused by every output row.
  bool exactWords = k % kPlaneWord == 0;
  parallelLoop(b, tokens, [&](ImplicitLocOpBuilder &b, Value m) {
    auto sumLanes = VectorType::get({kPlaneWord}, i32);
    Value sums = forLoop(
        b, index(b, words), 1, {splat(b, sumLanes, 0)},
        [&](ImplicitLocOpBuilder &b, Value j, ValueRange carried) {
          Value col = arith::MulIOp::create(b, j, index(b, kPlaneWord));
          Value v = readVector(b, activationLanes, q, {m, col}, 0, exactWords);
          for (int64_t bit = 0; bit < kBitPlanes; ++bit) {
            Value masked = arith::AndIOp::create(
                b, v, splat(b, activationLanes, int8_t(1u << bit)));
            Value set = arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                                              masked,
                                              splat(b, activationLanes, 0));
            // 64 lane predicates are exactly one 64-bit word.
            Value word = vector::BitCastOp::create(
                b, VectorType::get({1}, i64), set);
            memref::StoreOp::create(
                b, vector::ExtractOp::create(b, word, ArrayRef<int64_t>{0}),
                planes, ValueRange{m, index(b, bit), j});
          }
          return SmallVector<Value>{arith::AddIOp::create(
              b, carried[0], arith::ExtSIOp::create(b, sumLanes, v))};
        })[0];
    memref::StoreOp::create(
        b, vector::ReductionOp::create(b, vector::CombiningKind::ADD, sums),
        rowSums, ValueRange{m});
  });

  // [tiles, words, rows, 1] -> [tiles, words, rows]: one vector load reads
  // word j of every row of a tile.
  Value wordTiles = memref::CollapseShapeOp::create(
      b, w, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
  bool exactRows = n % rows == 0;
  // Each word load also prefetches the same word of the tile at least
  // kPrefetchBytes ahead.
  int64_t tileBytes = words * rows * 8;
  int64_t prefetchTiles = llvm::divideCeil(kPrefetchBytes, tileBytes);
  parallelLoop(b, index(b, tiles), [&](ImplicitLocOpBuilder &b, Value tile) {
    Value firstRow = arith::MulIOp::create(b, tile, index(b, rows));
    Value scale = tileScale(b, ws, rows, firstRow, exactRows);
    Value aheadTile = arith::MinSIOp::create(
        b, arith::AddIOp::create(b, tile, index(b, prefetchTiles)),
        index(b, tiles - 1));
    // Tokens inside tiles: a tile's weights stay in cache for every token.
    forLoop(b, tokens, 1, {}, [&](ImplicitLocOpBuilder &b, Value m,
                                  ValueRange) {
      SmallVector<Value> zeros(kBitPlanes, splat(b, tileLanes, 0));
      ValueRange counts = forLoop(
          b, index(b, words), 1, zeros,
          [&](ImplicitLocOpBuilder &b, Value j, ValueRange carried) {
            prefetchToL2(b, wordTiles, ValueRange{aheadTile, j, index(b, 0)});
            Value weights = vector::LoadOp::create(b, tileLanes, wordTiles,
                                                   ValueRange{tile, j, index(b, 0)});
            SmallVector<Value> next;
            for (int64_t bit = 0; bit < kBitPlanes; ++bit) {
              Value plane = memref::LoadOp::create(
                  b, planes, ValueRange{m, index(b, bit), j});
              Value both = arith::AndIOp::create(
                  b, weights, vector::BroadcastOp::create(b, tileLanes, plane));
              next.push_back(arith::AddIOp::create(
                  b, carried[bit], math::CtPopOp::create(b, both)));
            }
            return next;
          });
      // Σ_{B=1} q = Σ_p c_p · count_p with c_p = 2^p, and −128 for the sign
      // plane of two's complement.
      Value ones = arith::SubIOp::create(
          b, splat(b, tileLanes, 0),
          arith::ShLIOp::create(b, counts[7], splat(b, tileLanes, 7)));
      for (int64_t bit = 0; bit < 7; ++bit)
        ones = arith::AddIOp::create(
            b, ones,
            arith::ShLIOp::create(b, counts[bit], splat(b, tileLanes, bit)));
      storeBitLinearTile(b, ones, rowSums, s, scale, y, m, firstRow, exactRows);
      return SmallVector<Value>{};
    });
  });
}

SmallVector<MemRefType, 2>
pquant::kernels::bitSerialScratch(MLIRContext *context,
                                  PackedLayoutAttr layout) {
  return {MemRefType::get({ShapedType::kDynamic, kBitPlanes,
                           layout.getWordsPerRow()},
                          IntegerType::get(context, 64)),
          MemRefType::get({ShapedType::kDynamic}, IntegerType::get(context, 32))};
}

namespace {

/// Adds to `acc` the byte dot products of `weights` with `activations`
/// (signed), both vector<64xi8>, in the accumulator form of `dot`. Weights
/// are read as unsigned bytes, except by sdot, which reads them signed: 0/1
/// weights are exact either way.
Value accumulateDot(ImplicitLocOpBuilder &b, kernels::DotInstruction dot,
                    Value acc, Value weights, Value activations) {
  if (dot != kernels::DotInstruction::SDot)
    return Dot4Op::create(b, acc.getType(), acc, weights, activations,
                          /*unsigned_lhs=*/b.getUnitAttr());
  // sdot takes 16 bytes at a time; the 0/1 weights are exact as signed.
  for (int64_t part = 0; part < 4; ++part) {
    auto slice = [&](Value v) {
      return vector::ExtractStridedSliceOp::create(
          b, v, ArrayRef<int64_t>{16 * part}, ArrayRef<int64_t>{16},
          ArrayRef<int64_t>{1});
    };
    acc = Dot4Op::create(b, acc.getType(), acc, slice(weights),
                         slice(activations), /*unsigned_lhs=*/UnitAttr());
  }
  return acc;
}

VectorType dotAccumulatorType(MLIRContext *context,
                              kernels::DotInstruction dot) {
  int64_t lanes = dot == kernels::DotInstruction::SDot ? 4 : 16;
  return VectorType::get({lanes}, IntegerType::get(context, 32));
}

/// Word `word` (i64) as 64 bytes, byte c = bit c (LSB first): each source
/// byte is replicated 8 times and tested against the 8 bit masks.
Value unpackWord(ImplicitLocOpBuilder &b, Value word) {
  Type i8 = b.getI8Type();
  auto bytes = VectorType::get({64}, i8);
  Value asBytes = vector::BitCastOp::create(
      b, VectorType::get({8}, i8),
      vector::BroadcastOp::create(b, VectorType::get({1}, b.getI64Type()), word));
  SmallVector<int64_t> replicate;
  SmallVector<Attribute> masks;
  for (int64_t lane = 0; lane < 64; ++lane) {
    replicate.push_back(lane / 8);
    masks.push_back(b.getIntegerAttr(i8, int8_t(1u << (lane % 8))));
  }
  Value spread = vector::ShuffleOp::create(b, asBytes, asBytes, replicate);
  Value bitMasks = arith::ConstantOp::create(
      b, bytes, DenseElementsAttr::get(bytes, masks));
  Value set = arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                                    arith::AndIOp::create(b, spread, bitMasks),
                                    splat(b, bytes, 0));
  return arith::ExtUIOp::create(b, bytes, set);
}

} // namespace

void pquant::kernels::buildInt8Linear(ImplicitLocOpBuilder &b, ValueRange args,
                                      std::optional<int64_t> slot,
                                      DotInstruction dot) {
  Value q = args[0], s = args[1], w = args[2], ws = args[3];
  Value experts = slot ? args[4] : Value();
  Value y = args.back();
  auto weightType = cast<MemRefType>(w.getType());
  int64_t n = weightType.getDimSize(weightType.getRank() - 2);
  int64_t k = weightType.getDimSize(weightType.getRank() - 1);
  bool exact = k % kPlaneWord == 0, exactRows = n % kInt8RowBlock == 0;
  Type i32 = b.getI32Type();
  auto rowLanes = VectorType::get({kInt8RowBlock}, b.getF32Type());
  auto bytes = VectorType::get({kPlaneWord}, b.getI8Type());
  VectorType accType = dotAccumulatorType(b.getContext(), dot);
  // vpdpbusd (and the generic form of pquant.dot4) multiply unsigned by
  // signed bytes: the weights go in offset by 128 (w XOR 0x80) and
  // 128 · Σ_k q is taken off again. sdot multiplies signed bytes as they are.
  bool offsetWeights = dot != DotInstruction::SDot;
  Value tokens = memref::DimOp::create(b, q, 0);
  Value offsets;
  if (offsetWeights) {
    offsets = memref::AllocaOp::create(
        b, MemRefType::get({ShapedType::kDynamic}, i32), ValueRange{tokens});
    forLoop(b, tokens, 1, {}, [&](ImplicitLocOpBuilder &b, Value m, ValueRange) {
      memref::StoreOp::create(
          b, arith::MulIOp::create(b, activationSum(b, q, m), scalar(b, i32, 128)),
          offsets, ValueRange{m});
      return SmallVector<Value>{};
    });
  }

  // With experts, the tokens grouped by expert (a counting sort): tokens
  // [starts[e], starts[e + 1]) of `order` use expert e. Ids are clamped to
  // the experts there are, so that a bad one cannot index out of bounds.
  int64_t expertCount = experts ? weightType.getDimSize(0) : 1;
  Value starts, order;
  auto expertOf = [&](ImplicitLocOpBuilder &b, Value m) -> Value {
    Value id = arith::IndexCastOp::create(
        b, b.getIndexType(), memref::LoadOp::create(b, experts, ValueRange{m, index(b, *slot)}));
    return arith::MinSIOp::create(b, arith::MaxSIOp::create(b, id, index(b, 0)),
                                  index(b, expertCount - 1));
  };
  if (experts) {
    Type indexType = b.getIndexType();
    starts = memref::AllocaOp::create(b, MemRefType::get({expertCount + 1}, indexType));
    Value next = memref::AllocaOp::create(b, MemRefType::get({expertCount}, indexType));
    order = memref::AllocaOp::create(b, MemRefType::get({ShapedType::kDynamic}, indexType),
                                     ValueRange{tokens});
    for (int64_t e = 0; e <= expertCount; ++e)
      memref::StoreOp::create(b, index(b, 0), starts, ValueRange{index(b, e)});
    auto bump = [&](ImplicitLocOpBuilder &b, Value buffer, Value e) {
      Value count = memref::LoadOp::create(b, buffer, ValueRange{e});
      memref::StoreOp::create(b, arith::AddIOp::create(b, count, index(b, 1)), buffer,
                              ValueRange{e});
      return count;
    };
    forLoop(b, tokens, 1, {}, [&](ImplicitLocOpBuilder &b, Value m, ValueRange) {
      bump(b, starts, arith::AddIOp::create(b, expertOf(b, m), index(b, 1)));
      return SmallVector<Value>{};
    });
    for (int64_t e = 0; e < expertCount; ++e) {
      Value start = memref::LoadOp::create(b, starts, ValueRange{index(b, e)});
      Value end = arith::AddIOp::create(
          b, start, memref::LoadOp::create(b, starts, ValueRange{index(b, e + 1)}));
      memref::StoreOp::create(b, end, starts, ValueRange{index(b, e + 1)});
      memref::StoreOp::create(b, start, next, ValueRange{index(b, e)});
    }
    forLoop(b, tokens, 1, {}, [&](ImplicitLocOpBuilder &b, Value m, ValueRange) {
      memref::StoreOp::create(b, m, order, ValueRange{bump(b, next, expertOf(b, m))});
      return SmallVector<Value>{};
    });
  }

  // Blocks of rows outside, on the threads; tokens inside, so a row read
  // for one token is in cache for the next one that uses the same expert.
  // A block's rows share each activation load and one reduction tree (a
  // prefill read all of q from L2 once per row), and kInt8Tokens tokens of
  // one expert share each weight load. Where n is not a multiple of the
  // block, the last block's rows past n read the last row's weights and
  // their results are dropped.
  int64_t prefetchRows = llvm::divideCeil(kPrefetchBytes, k);
  Value lastRow = index(b, n - 1);
  parallelLoop(b, index(b, llvm::divideCeil(n, kInt8RowBlock)),
               [&](ImplicitLocOpBuilder &b, Value block) {
    SmallVector<Value> rows, aheadRows;
    Value firstRow = arith::MulIOp::create(b, block, index(b, kInt8RowBlock));
    for (int64_t r = 0; r < kInt8RowBlock; ++r) {
      Value row = arith::AddIOp::create(b, firstRow, index(b, r));
      rows.push_back(arith::MinSIOp::create(b, row, lastRow));
      aheadRows.push_back(arith::MinSIOp::create(
          b, arith::AddIOp::create(b, row, index(b, prefetchRows)), lastRow));
    }
    // The block's rows against tokens `ms`, all of expert `expert` (null
    // without experts).
    auto rowsByTokens = [&](ImplicitLocOpBuilder &b, ArrayRef<Value> ms, Value expert) {
      auto at = [&](Value row, ArrayRef<Value> rest) {
        SmallVector<Value> indices;
        if (expert)
          indices.push_back(expert);
        indices.push_back(row);
        indices.append(rest.begin(), rest.end());
        return indices;
      };
      const int64_t count = ms.size();
      SmallVector<Value> zeros(kInt8RowBlock * count, splat(b, accType, 0));
      ValueRange sums = forLoop(
          b, index(b, k), kPlaneWord, zeros,
          [&](ImplicitLocOpBuilder &b, Value col, ValueRange carried) {
            SmallVector<Value> activations;
            for (Value m : ms)
              activations.push_back(readVector(b, bytes, q, {m, col}, 0, exact));
            SmallVector<Value> next;
            for (int64_t r = 0; r < kInt8RowBlock; ++r) {
              prefetchToL2(b, w, at(aheadRows[r], col));
              Value weights = readVector(b, bytes, w, at(rows[r], col), 0, exact);
              if (offsetWeights)
                weights = arith::XOrIOp::create(b, weights,
                                                splat(b, bytes, int8_t(0x80)));
              for (int64_t t = 0; t < count; ++t)
                next.push_back(accumulateDot(b, dot, carried[r * count + t], weights,
                                             activations[t]));
            }
            return next;
          });
      // The block's rows at once; rows past n are dropped.
      Value rowScales = readVector(b, rowLanes, ws, at(firstRow, {}), 0.0, exactRows);
      for (auto [t, m] : llvm::enumerate(ms)) {
        SmallVector<Value> ofToken;
        for (int64_t r = 0; r < kInt8RowBlock; ++r)
          ofToken.push_back(sums[r * count + t]);
        Value totals = sumEachPart(b, ofToken);
        if (offsetWeights)
          totals = arith::SubIOp::create(
              b, totals,
              vector::BroadcastOp::create(b, totals.getType(),
                                          memref::LoadOp::create(b, offsets, ValueRange{m})));
        Value result = arith::MulFOp::create(
            b, arith::MulFOp::create(b, arith::SIToFPOp::create(b, rowLanes, totals), rowScales),
            vector::BroadcastOp::create(b, rowLanes,
                                        memref::LoadOp::create(b, s, ValueRange{m})));
        writeVector(b, result, y, {m, firstRow}, exactRows);
      }
    };
    // Tokens [first, last) of `order` (of the token indices themselves
    // without experts): blocks of kInt8Tokens, then one by one.
    auto tokenRange = [&](ImplicitLocOpBuilder &b, Value first, Value last, Value expert) {
      forBlocksThenSingles(b, first, last, kInt8Tokens,
                           [&](ImplicitLocOpBuilder &b, ArrayRef<Value> is) {
                             SmallVector<Value> ms;
                             for (Value i : is)
                               ms.push_back(order ? Value(memref::LoadOp::create(
                                                        b, order, ValueRange{i}))
                                                  : i);
                             rowsByTokens(b, ms, expert);
                           });
    };
    if (!experts) {
      tokenRange(b, index(b, 0), tokens, Value());
      return;
    }
    // The dispatch: only the selected experts' rows are read.
    forLoop(b, index(b, expertCount), 1, {},
            [&](ImplicitLocOpBuilder &b, Value e, ValueRange) {
              Value first = memref::LoadOp::create(b, starts, ValueRange{e});
              Value last = memref::LoadOp::create(
                  b, starts, ValueRange{arith::AddIOp::create(b, e, index(b, 1))});
              tokenRange(b, first, last, e);
              return SmallVector<Value>{};
            });
  });
}

namespace {
/// The unpack-dot GEMM of tokens [firstOfAll, M); rowSums[m] must already
/// hold Σ_k q[m, k] for them.
void unpackDotTokens(ImplicitLocOpBuilder &b, ValueRange args,
                     PackedLayoutAttr layout, kernels::DotInstruction dot,
                     int64_t chunkWords, Value firstOfAll) {
  Value q = args[0], s = args[1], w = args[2], ws = args[3], y = args[4];
  Value rowSums = args[5];
  int64_t n = layout.getRows(), k = layout.getCols();
  int64_t rows = layout.getTileRows(), words = layout.getWordsPerRow();
  int64_t tiles = layout.getStorageShape()[0];
  bool exactWords = k % kPlaneWord == 0, exactRows = n % rows == 0;
  Type i8 = b.getI8Type(), i32 = b.getI32Type();
  auto bytes = VectorType::get({kPlaneWord}, i8);
  auto tileSums = VectorType::get({rows}, i32);
  VectorType accType = dotAccumulatorType(b.getContext(), dot);
  Value tokens = memref::DimOp::create(b, q, 0);
  chunkWords = std::min(words, chunkWords);
  int64_t chunks = llvm::divideCeil(words, chunkWords);

  // Tokens in groups whose activations stay in L2 while every tile passes
  // them: an iteration is a (group, tile) pair, tiles varying fastest so the
  // threads share a group. Each group unpacks its tiles again: a few
  // operations per weight word, against one dot per word for each token.
  // A multiple of 12 (of both token-block sizes), at most 240 tokens so
  // their partial sums stay small.
  int64_t groupTokens =
      std::clamp<int64_t>(kGroupActivationBytes / k / 12 * 12, 12, 240);
  Value groups = arith::CeilDivUIOp::create(
      b, arith::SubIOp::create(b, tokens, firstOfAll), index(b, groupTokens));
  Value pairs = arith::MulIOp::create(b, groups, index(b, tiles));
  parallelLoop(b, pairs, [&](ImplicitLocOpBuilder &b, Value pair) {
    Value tile = arith::RemUIOp::create(b, pair, index(b, tiles));
    Value firstToken = arith::AddIOp::create(
        b, firstOfAll,
        arith::MulIOp::create(b, arith::DivUIOp::create(b, pair, index(b, tiles)),
                              index(b, groupTokens)));
    Value groupEnd = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, firstToken, index(b, groupTokens)),
        tokens);
    Value firstRow = arith::MulIOp::create(b, tile, index(b, rows));
    // The sums of each (token of the group, row of the tile) between chunks,
    // on the stack: 4 KB that stay in L1 (in an [M, N] buffer, zeroing and
    // updating rows 4-32 KB apart cost a sixth of the kernel's time).
    Value partial = memref::AllocaOp::create(
        b, MemRefType::get({groupTokens, rows}, i32), b.getI64IntegerAttr(64));
    auto groupRow = [&](ImplicitLocOpBuilder &b, Value m) {
      return arith::SubIOp::create(b, m, firstToken).getResult();
    };
    forLoopFrom(b, firstToken, groupEnd, 1, {},
                [&](ImplicitLocOpBuilder &b, Value m, ValueRange) {
      vector::StoreOp::create(b, splat(b, tileSums, 0), partial,
                              ValueRange{groupRow(b, m), index(b, 0)});
      return SmallVector<Value>{};
    });
    // The tile's columns in chunks: a chunk is unpacked into a stack buffer
    // of the thread running the tile (rows × 2 KB, so it stays in L1) and
    // used by every token of the group before the next.
    auto unpackedType = MemRefType::get({rows, chunkWords * kPlaneWord}, i8);
    Value unpacked = memref::AllocaOp::create(b, unpackedType,
                                              b.getI64IntegerAttr(64));
    forLoop(b, index(b, chunks), 1, {}, [&](ImplicitLocOpBuilder &b,
                                            Value chunk, ValueRange) {
      Value firstWord = arith::MulIOp::create(b, chunk, index(b, chunkWords));
      Value chunkEnd = arith::MinSIOp::create(
          b, arith::AddIOp::create(b, firstWord, index(b, chunkWords)),
          index(b, words));
      Value count = arith::SubIOp::create(b, chunkEnd, firstWord);
      for (int64_t row = 0; row < rows; ++row)
        forLoop(b, count, 1, {}, [&](ImplicitLocOpBuilder &b, Value j,
                                     ValueRange) {
          Value word = memref::LoadOp::create(
              b, w,
              ValueRange{tile, arith::AddIOp::create(b, firstWord, j),
                         index(b, row), index(b, 0)});
          Value col = arith::MulIOp::create(b, j, index(b, kPlaneWord));
          vector::StoreOp::create(b, unpackWord(b, word), unpacked,
                                  ValueRange{index(b, row), col});
          return SmallVector<Value>{};
        });
      // Tokens in blocks: each unpacked weight vector, once loaded, serves
      // every token of the block (as many as the accumulators let registers
      // hold), then the remaining tokens one by one.
      auto tokenBlock = [&](ImplicitLocOpBuilder &b, ArrayRef<Value> ms) {
        int64_t blockSize = ms.size();
        SmallVector<Value> zeros(rows * blockSize, splat(b, accType, 0));
        ValueRange accs = forLoop(
            b, count, 1, zeros,
            [&](ImplicitLocOpBuilder &b, Value j, ValueRange carried) {
              Value col = arith::MulIOp::create(b, j, index(b, kPlaneWord));
              Value qCol = arith::MulIOp::create(
                  b, arith::AddIOp::create(b, firstWord, j),
                  index(b, kPlaneWord));
              SmallVector<Value> activations;
              for (Value m : ms)
                activations.push_back(
                    readVector(b, bytes, q, {m, qCol}, 0, exactWords));
              SmallVector<Value> next(carried.begin(), carried.end());
              for (int64_t row = 0; row < rows; ++row) {
                Value weights = vector::LoadOp::create(
                    b, bytes, unpacked, ValueRange{index(b, row), col});
                for (int64_t t = 0; t < blockSize; ++t)
                  next[row * blockSize + t] =
                      accumulateDot(b, dot, next[row * blockSize + t],
                                    weights, activations[t]);
              }
              return next;
            });
        // The rows' accumulators of a token summed by one reduction tree
        // when they fit it (rows a power of two, <= lanes), else one
        // reduction each.
        bool tree = llvm::isPowerOf2_64(rows) && rows <= accType.getNumElements();
        for (auto [t, m] : llvm::enumerate(ms)) {
          SmallVector<Value> rowAccs;
          for (int64_t row = 0; row < rows; ++row)
            rowAccs.push_back(accs[row * blockSize + t]);
          Value totals;
          if (tree) {
            totals = sumEachPart(b, rowAccs);
          } else {
            SmallVector<Value> each;
            for (Value acc : rowAccs)
              each.push_back(vector::ReductionOp::create(
                  b, vector::CombiningKind::ADD, acc));
            totals = vector::FromElementsOp::create(b, tileSums, each);
          }
          Value sum = arith::AddIOp::create(
              b,
              vector::LoadOp::create(b, tileSums, partial,
                                     ValueRange{groupRow(b, m), index(b, 0)}),
              totals);
          vector::StoreOp::create(b, sum, partial,
                                  ValueRange{groupRow(b, m), index(b, 0)});
        }
      };
      // Tokens per block: as many as 8 rows' accumulators, the block's
      // activations and a weight vector leave room for in 32 registers.
      int64_t block = rows <= 4 ? 4 : 3;
      forBlocksThenSingles(b, firstToken, groupEnd, block,
                           [&](ImplicitLocOpBuilder &b, ArrayRef<Value> ms) { tokenBlock(b, ms); });
      return SmallVector<Value>{};
    });
    Value scale = tileScale(b, ws, rows, firstRow, exactRows);
    forLoopFrom(b, firstToken, groupEnd, 1, {},
                [&](ImplicitLocOpBuilder &b, Value m, ValueRange) {
      Value ones = vector::LoadOp::create(
          b, tileSums, partial, ValueRange{groupRow(b, m), index(b, 0)});
      storeBitLinearTile(b, ones, rowSums, s, scale, y, m, firstRow,
                         exactRows);
      return SmallVector<Value>{};
    });
  });
}

} // namespace

void pquant::kernels::buildUnpackDotLinear(ImplicitLocOpBuilder &b,
                                           ValueRange args,
                                           PackedLayoutAttr layout,
                                           DotInstruction dot,
                                           int64_t chunkWords) {
  storeActivationSums(b, args[0], args[5]);
  unpackDotTokens(b, args, layout, dot, chunkWords, index(b, 0));
}

namespace {
/// A chunk of the lookup GEMM: the first of a pair leaves its i16 sums for
/// the second, which widens the pair's into the i32 sums; a chunk without a
/// pair widens its own.
enum class ChunkRole { First, Second, Whole };
} // namespace

void pquant::kernels::buildLookupLinear(ImplicitLocOpBuilder &b,
                                        ValueRange args,
                                        PackedLayoutAttr layout,
                                        DotInstruction dot) {
  Value q = args[0], s = args[1], w = args[2], ws = args[3], y = args[4];
  Value rowSums = args[5], columns = args[6];
  int64_t n = layout.getRows(), k = layout.getCols();
  int64_t tileRows = layout.getTileRows(), words = layout.getWordsPerRow();
  int64_t tiles = layout.getStorageShape()[0];
  Type i8 = b.getI8Type(), i16 = b.getI16Type(), i32 = b.getI32Type(),
       i64 = b.getI64Type(), f32 = b.getF32Type();
  auto tokenBytes = VectorType::get({kLookupTokens}, i8);
  Value blockSize = index(b, kLookupTokens);
  auto tokenLanes = VectorType::get({kLookupTokens}, i16);
  auto tokenSums = VectorType::get({kLookupTokens}, i32);
  int64_t entries = int64_t(1) << kLookupGroupBits;
  int64_t groupsPerWord = kPlaneWord / kLookupGroupBits;
  // Two words per chunk, 32 lookups; a pair of chunks, 64 lookups of at
  // least −4·128 and at most 4·127 each, still fits an i16 lane.
  int64_t chunkWords = words % 2 == 0 ? 2 : 1;
  int64_t groups = chunkWords * groupsPerWord;
  Value tokens = memref::DimOp::create(b, q, 0);
  Value kIndex = index(b, k);

  storeActivationSums(b, q, rowSums);

  // Whole blocks of 32 tokens take the tables, once there are at least
  // kLookupMinTokens; the other tokens (a short prompt, the last block's
  // rest) take unpack-dot: a partial block would cost a whole one.
  Value full = arith::SelectOp::create(
      b,
      arith::CmpIOp::create(b, arith::CmpIPredicate::uge, tokens,
                            index(b, kLookupMinTokens)),
      arith::MulIOp::create(b, arith::DivUIOp::create(b, tokens, blockSize),
                            blockSize),
      index(b, 0));
  Value blocks = arith::DivUIOp::create(b, full, blockSize);

  // Each block's activations column by column: column c of the block from
  // token m0 is the 32 bytes at m0·K + 32·c of the flat buffer, so a
  // table's column is one load.
  Value flat = memref::CollapseShapeOp::create(
      b, columns, ArrayRef<ReassociationIndices>{{0, 1}});
  // kTransposeColumns columns at a time: each token's bytes of them are
  // one i64, and one shuffle of the block's 32 makes their columns, which
  // lie side by side in the flat buffer.
  int64_t wholeColumns = k / kTransposeColumns * kTransposeColumns;
  auto rowBytes = VectorType::get({kTransposeColumns}, i8);
  auto blockBytes = VectorType::get({kLookupTokens * kTransposeColumns}, i8);
  SmallVector<int64_t> columnMajor;
  for (int64_t j = 0; j < kTransposeColumns; ++j)
    for (int64_t t = 0; t < kLookupTokens; ++t)
      columnMajor.push_back(t * kTransposeColumns + j);
  parallelLoop(b, blocks, [&](ImplicitLocOpBuilder &b, Value block) {
    Value m0 = arith::MulIOp::create(b, block, blockSize);
    Value base = arith::MulIOp::create(b, m0, kIndex);
    forLoop(b, index(b, wholeColumns), kTransposeColumns, {},
            [&](ImplicitLocOpBuilder &b, Value c0, ValueRange) {
      SmallVector<Value> words;
      for (int64_t t = 0; t < kLookupTokens; ++t)
        words.push_back(vector::ExtractOp::create(
            b,
            vector::BitCastOp::create(
                b, VectorType::get({1}, i64),
                vector::LoadOp::create(
                    b, rowBytes, q,
                    ValueRange{arith::AddIOp::create(b, m0, index(b, t)), c0})),
            0));
      Value rows = vector::BitCastOp::create(
          b, blockBytes,
          vector::FromElementsOp::create(
              b, VectorType::get({kLookupTokens}, i64), words));
      Value columns = vector::ShuffleOp::create(b, rows, rows, columnMajor);
      vector::StoreOp::create(
          b, columns, flat,
          ValueRange{arith::AddIOp::create(
              b, base, arith::MulIOp::create(b, c0, blockSize))});
      return SmallVector<Value>{};
    });
    // The last K mod kTransposeColumns columns byte by byte.
    for (int64_t c = wholeColumns; c < k; ++c)
      forLoop(b, blockSize, 1, {}, [&](ImplicitLocOpBuilder &b, Value t, ValueRange) {
        Value at = arith::AddIOp::create(b, base, arith::AddIOp::create(
                                                     b, index(b, c * kLookupTokens), t));
        memref::StoreOp::create(
            b,
            memref::LoadOp::create(b, q, ValueRange{arith::AddIOp::create(b, m0, t),
                                                    index(b, c)}),
            flat, ValueRange{at});
        return SmallVector<Value>{};
      });
  });

  // An iteration is a (token block, row range) pair. For each chunk of
  // columns it builds, per group of 4 columns, the 16 sums of the group's
  // columns that a 4-bit weight pattern selects (one i16 lane per token),
  // then adds to each row's sums the entries its weight nibbles pick:
  // Σ_{B=1} q for 32 tokens at 4 columns per load and add.
  // A range is kLookupRows rows, or kLookupWideRows once there are blocks
  // enough to keep the threads busy with fewer ranges.
  Value rangeRows = arith::SelectOp::create(
      b,
      arith::CmpIOp::create(b, arith::CmpIPredicate::uge, blocks,
                            index(b, kLookupWideRangeBlocks)),
      index(b, kLookupWideRows), index(b, kLookupRows));
  Value ranges = arith::CeilDivUIOp::create(b, index(b, n), rangeRows);
  Value pairs = arith::MulIOp::create(b, blocks, ranges);
  int64_t maxRangeRows = std::min(n, kLookupWideRows);
  parallelLoop(b, pairs, [&](ImplicitLocOpBuilder &b, Value pair) {
    Value range = arith::RemUIOp::create(b, pair, ranges);
    Value m0 = arith::MulIOp::create(b, arith::DivUIOp::create(b, pair, ranges),
                                     blockSize);
    Value base = arith::MulIOp::create(b, m0, kIndex);
    Value firstRow = arith::MulIOp::create(b, range, rangeRows);
    Value rowEnd = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, firstRow, rangeRows), index(b, n));
    Value rowCount = arith::SubIOp::create(b, rowEnd, firstRow);
    Value partial = memref::AllocaOp::create(
        b, MemRefType::get({maxRangeRows, kLookupTokens}, i32),
        b.getI64IntegerAttr(64));
    // A first chunk's i16 sums per row, which the second chunk of its pair
    // goes on adding to before they are widened.
    Value firstHalves = memref::AllocaOp::create(
        b, MemRefType::get({maxRangeRows, kLookupTokens}, i16),
        b.getI64IntegerAttr(64));
    Value tables = memref::AllocaOp::create(
        b, MemRefType::get({groups, entries, kLookupTokens}, i16),
        b.getI64IntegerAttr(64));
    forLoop(b, rowCount, 1, {}, [&](ImplicitLocOpBuilder &b, Value r, ValueRange) {
      vector::StoreOp::create(b, splat(b, tokenSums, 0), partial,
                              ValueRange{r, index(b, 0)});
      return SmallVector<Value>{};
    });
    auto chunkPass = [&](ImplicitLocOpBuilder &b, Value firstWord, ChunkRole role) {
      Value firstColumn = arith::MulIOp::create(b, firstWord, index(b, kPlaneWord));
      forLoop(b, index(b, groups), 1, {}, [&](ImplicitLocOpBuilder &b, Value g,
                                              ValueRange) {
        // Columns past K weigh 0.
        SmallVector<Value> columnLanes;
        for (int64_t i = 0; i < kLookupGroupBits; ++i) {
          Value c = arith::AddIOp::create(
              b, firstColumn,
              arith::AddIOp::create(
                  b, arith::MulIOp::create(b, g, index(b, kLookupGroupBits)),
                  index(b, i)));
          Value inside = arith::CmpIOp::create(b, arith::CmpIPredicate::ult, c,
                                               kIndex);
          Value at = arith::AddIOp::create(
              b, base,
              arith::MulIOp::create(
                  b, arith::MinUIOp::create(b, c, index(b, k - 1)), blockSize));
          Value bytes = vector::LoadOp::create(b, tokenBytes, flat, at);
          columnLanes.push_back(arith::SelectOp::create(
              b, inside, arith::ExtSIOp::create(b, tokenLanes, bytes),
              splat(b, tokenLanes, 0)));
        }
        // Entry e = entry (e without its lowest set bit) + that bit's column.
        SmallVector<Value> sums{splat(b, tokenLanes, 0)};
        for (int64_t e = 1; e < entries; ++e)
          sums.push_back(arith::AddIOp::create(
              b, sums[e & (e - 1)], columnLanes[llvm::countr_zero(uint64_t(e))]));
        for (int64_t e = 0; e < entries; ++e)
          vector::StoreOp::create(b, sums[e], tables,
                                  ValueRange{g, index(b, e), index(b, 0)});
        return SmallVector<Value>{};
      });
      forLoopFrom(b, firstRow, rowEnd, 1, {}, [&](ImplicitLocOpBuilder &b,
                                                 Value row, ValueRange) {
        Value tile = arith::DivUIOp::create(b, row, index(b, tileRows));
        Value tileRow = arith::RemUIOp::create(b, row, index(b, tileRows));
        // The chunk's words of the tile kLookupPrefetchTiles ahead into L2:
        // a chunk's words of consecutive tiles lie a whole tile row (K/8
        // bytes a row) apart, which the hardware prefetcher did not cover in
        // time. Batch-64 GEMM on one core (bench/bitlinear.py): 11008 × 4096
        // 20443 → 9443 µs, 4096 × 4096 4818 → 3514, 2048 × 2048 unchanged.
        Value aheadTile = arith::MinUIOp::create(
            b, arith::AddIOp::create(b, tile, index(b, kLookupPrefetchTiles)),
            index(b, tiles - 1));
        for (int64_t j = 0; j < chunkWords; ++j)
          prefetchToL2(b, w,
                       ValueRange{aheadTile, arith::AddIOp::create(b, firstWord, index(b, j)),
                                  tileRow, index(b, 0)});
        Value r = arith::SubIOp::create(b, row, firstRow);
        Value acc = role == ChunkRole::Second
                        ? vector::LoadOp::create(b, tokenLanes, firstHalves,
                                                 ValueRange{r, index(b, 0)})
                        : splat(b, tokenLanes, 0);
        for (int64_t j = 0; j < chunkWords; ++j) {
          Value word = memref::LoadOp::create(
              b, w,
              ValueRange{tile, arith::AddIOp::create(b, firstWord, index(b, j)),
                         tileRow, index(b, 0)});
          for (int64_t g = 0; g < groupsPerWord; ++g) {
            Value pattern = arith::AndIOp::create(
                b,
                arith::ShRUIOp::create(b, word,
                                       scalar(b, i64, g * kLookupGroupBits)),
                scalar(b, i64, entries - 1));
            Value entry = vector::LoadOp::create(
                b, tokenLanes, tables,
                ValueRange{index(b, j * groupsPerWord + g),
                           arith::IndexCastOp::create(b, b.getIndexType(),
                                                      pattern),
                           index(b, 0)});
            acc = arith::AddIOp::create(b, acc, entry);
          }
        }
        if (role == ChunkRole::First) {
          vector::StoreOp::create(b, acc, firstHalves, ValueRange{r, index(b, 0)});
          return SmallVector<Value>{};
        }
        Value sum = arith::AddIOp::create(
            b,
            vector::LoadOp::create(b, tokenSums, partial, ValueRange{r, index(b, 0)}),
            arith::ExtSIOp::create(b, tokenSums, acc));
        vector::StoreOp::create(b, sum, partial, ValueRange{r, index(b, 0)});
        return SmallVector<Value>{};
      });
    };
    // Chunks in pairs, whose 2·32 lookups of at most 4·128 still fit an i16
    // lane: the i32 sums are read and written once a pair.
    int64_t pairWords = 2 * chunkWords;
    forLoop(b, index(b, words / pairWords * pairWords), pairWords, {},
            [&](ImplicitLocOpBuilder &b, Value firstWord, ValueRange) {
              chunkPass(b, firstWord, ChunkRole::First);
              chunkPass(b, arith::AddIOp::create(b, firstWord, index(b, chunkWords)),
                        ChunkRole::Second);
              return SmallVector<Value>{};
            });
    for (int64_t word = words / pairWords * pairWords; word < words; word += chunkWords)
      chunkPass(b, index(b, word), ChunkRole::Whole);
    // y[m, row] = f32(2·ones − Σ_k q[m, k]) · scale · s[m], as
    // storeBitLinearTile computes it.
    bool perRowScale = cast<MemRefType>(ws.getType()).getDimSize(0) != 1;
    forLoop(b, blockSize, 1, {}, [&](ImplicitLocOpBuilder &b, Value t, ValueRange) {
      Value m = arith::AddIOp::create(b, m0, t);
      Value rowSum = memref::LoadOp::create(b, rowSums, ValueRange{m});
      Value tokenScale = memref::LoadOp::create(b, s, ValueRange{m});
      forLoopFrom(b, firstRow, rowEnd, 1, {}, [&](ImplicitLocOpBuilder &b,
                                                 Value row, ValueRange) {
        Value ones = memref::LoadOp::create(
            b, partial, ValueRange{arith::SubIOp::create(b, row, firstRow), t});
        Value acc = arith::SubIOp::create(
            b, arith::ShLIOp::create(b, ones, scalar(b, i32, 1)), rowSum);
        Value scale = memref::LoadOp::create(
            b, ws, ValueRange{perRowScale ? row : index(b, 0)});
        Value result = arith::MulFOp::create(
            b, arith::MulFOp::create(b, arith::SIToFPOp::create(b, f32, acc), scale),
            tokenScale);
        memref::StoreOp::create(b, result, y, ValueRange{m, row});
        return SmallVector<Value>{};
      });
      return SmallVector<Value>{};
    });
  });
  unpackDotTokens(b, args, layout, dot, kDefaultUnpackChunkWords, full);
}

namespace {
/// Row tiles of the lookup GEMV that share each load of a word's tables.
constexpr int64_t kGemvTiles = 4;
/// Bytes of tables per weight word (64 columns): for the even and the odd
/// 4-column groups of the word, a low and a high table of 128 entries.
constexpr int64_t kGemvTableBytes = 512;

/// A vector<64xi8> constant, lane i = lane(i).
Value byteLanes(ImplicitLocOpBuilder &b, llvm::function_ref<int64_t(int64_t)> lane) {
  auto type = VectorType::get({64}, b.getI8Type());
  SmallVector<Attribute> values;
  for (int64_t i = 0; i < 64; ++i)
    values.push_back(b.getIntegerAttr(b.getI8Type(), int8_t(lane(i))));
  return arith::ConstantOp::create(b, type, DenseElementsAttr::get(type, values));
}
} // namespace

void pquant::kernels::buildLookupGemv(ImplicitLocOpBuilder &b, ValueRange args,
                                      PackedLayoutAttr layout) {
  Value q = args[0], s = args[1], w = args[2], ws = args[3], y = args[4];
  Value tables = args[5], rowSums = args[6];
  int64_t n = layout.getRows(), k = layout.getCols();
  int64_t words = layout.getWordsPerRow(), tiles = layout.getStorageShape()[0];
  assert(layout.getTileRows() == 8 && "a tile of the GEMV is one 512-bit word");
  Type i8 = b.getI8Type(), i64 = b.getI64Type();
  auto bytes = VectorType::get({64}, i8);
  VectorType accType = dotAccumulatorType(b.getContext(), DotInstruction::VNNI);
  Value m = index(b, 0);
  memref::StoreOp::create(b, activationSum(b, q, m), rowSums, ValueRange{m});

  // q = 16·qh + ql with ql in [0, 15] and qh in [-8, 7]. The tables of word
  // j hold, for each 4-column group g and pattern e, Σ_{bit i of e} ql and
  // 32 + Σ_{bit i of e} qh: each fits a byte, unsigned. Even groups 2t,
  // then odd groups 2t + 1, t = 0..7, take entries 16t .. 16t + 15 of their
  // 128-entry tables: [even low, even high, odd low, odd high].
  bool exactWords = k % kPlaneWord == 0;
  parallelLoop(b, index(b, words), [&](ImplicitLocOpBuilder &b, Value j) {
    Value column = arith::MulIOp::create(b, j, index(b, kPlaneWord));
    Value v = readVector(b, bytes, q, {m, column}, 0, exactWords);
    Value low = arith::AndIOp::create(b, v, splat(b, bytes, 15));
    Value high = arith::SubIOp::create(
        b,
        arith::XOrIOp::create(
            b,
            arith::AndIOp::create(b, arith::ShRUIOp::create(b, v, splat(b, bytes, 4)),
                                  splat(b, bytes, 15)),
            splat(b, bytes, 8)),
        splat(b, bytes, 8));
    for (int64_t odd = 0; odd < 2; ++odd) {
      for (int64_t half = 0; half < 2; ++half) {
        // Table lane x: group 2·(4·half + x / 16) + odd, pattern x % 16.
        Value lowSums = splat(b, bytes, 0), highSums = splat(b, bytes, 32);
        for (int64_t bit = 0; bit < 4; ++bit) {
          SmallVector<int64_t> columns;
          for (int64_t x = 0; x < 64; ++x)
            columns.push_back(4 * (2 * (4 * half + x / 16) + odd) + bit);
          Value selected = byteLanes(b, [&](int64_t x) {
            return (x % 16) >> bit & 1 ? -1 : 0;
          });
          auto add = [&](Value sums, Value part) -> Value {
            return arith::AddIOp::create(
                b, sums,
                arith::AndIOp::create(
                    b, vector::ShuffleOp::create(b, part, part, columns),
                    selected));
          };
          lowSums = add(lowSums, low);
          highSums = add(highSums, high);
        }
        int64_t offset = 256 * odd + 64 * half;
        vector::StoreOp::create(b, lowSums, tables, ValueRange{j, index(b, offset)});
        vector::StoreOp::create(b, highSums, tables,
                                ValueRange{j, index(b, offset + 128)});
      }
    }
  });

  // Byte i of a tile's word (8 rows × 64 bits) holds the patterns of groups
  // 2t and 2t + 1, t = i % 8, of row i / 8: its nibbles, placed at entry
  // 16t of their tables, index 64 lookups. Two words' lookups (at most 4 ·
  // 60) add up in bytes, then into i32 sums per half row (vpdpbusd), the
  // high ones times 16.
  Value wordTiles = memref::CollapseShapeOp::create(
      b, w, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
  auto tileLanes = VectorType::get({8}, i64);
  Value slots = byteLanes(b, [](int64_t i) { return 16 * (i % 8); });
  Value nibble = splat(b, bytes, 15), one = splat(b, bytes, 1),
        sixteen = splat(b, bytes, 16);
  bool exactRows = n % 8 == 0;
  int64_t groupBytes = kGemvTiles * words * 64;
  int64_t prefetchTiles = kGemvTiles * llvm::divideCeil(kPrefetchBytes, groupBytes);
  parallelLoop(b, index(b, llvm::divideCeil(tiles, kGemvTiles)),
               [&](ImplicitLocOpBuilder &b, Value group) {
    // The last group repeats the last tile: the same values stored twice.
    SmallVector<Value> tileIndices;
    for (int64_t x = 0; x < kGemvTiles; ++x)
      tileIndices.push_back(arith::MinSIOp::create(
          b,
          arith::AddIOp::create(
              b, arith::MulIOp::create(b, group, index(b, kGemvTiles)),
              index(b, x)),
          index(b, tiles - 1)));
    // Each word load also prefetches the same word of the group at least
    // kPrefetchBytes ahead, as the bit-serial kernel does.
    SmallVector<Value> aheadTiles;
    for (Value tile : tileIndices)
      aheadTiles.push_back(arith::MinSIOp::create(
          b, arith::AddIOp::create(b, tile, index(b, prefetchTiles)),
          index(b, tiles - 1)));
    // Per tile, the low and high lookups of word j, each summed over the
    // even and odd groups.
    auto lookups = [&](ImplicitLocOpBuilder &b, Value j) {
      SmallVector<Value> table;
      for (int64_t part = 0; part < kGemvTableBytes / 64; ++part)
        table.push_back(vector::LoadOp::create(
            b, bytes, tables, ValueRange{j, index(b, 64 * part)}));
      SmallVector<std::pair<Value, Value>> sums;
      for (auto [tile, ahead] : llvm::zip(tileIndices, aheadTiles)) {
        prefetchToL2(b, wordTiles, ValueRange{ahead, j, index(b, 0)});
        Value word = vector::BitCastOp::create(
            b, bytes,
            vector::LoadOp::create(b, tileLanes, wordTiles,
                                   ValueRange{tile, j, index(b, 0)}));
        Value even = arith::OrIOp::create(
            b, arith::AndIOp::create(b, word, nibble), slots);
        Value odd = arith::OrIOp::create(
            b,
            arith::AndIOp::create(
                b, arith::ShRUIOp::create(b, word, splat(b, bytes, 4)), nibble),
            slots);
        auto both = [&](int64_t table0) -> Value {
          return arith::AddIOp::create(
              b, LookupBytesOp::create(b, bytes, table[table0], even, table[table0 + 1]),
              LookupBytesOp::create(b, bytes, table[table0 + 4], odd, table[table0 + 5]));
        };
        sums.push_back({both(0), both(2)});
      }
      return sums;
    };
    auto accumulate = [&](ImplicitLocOpBuilder &b, ValueRange acc,
                          ArrayRef<std::pair<Value, Value>> sums) {
      SmallVector<Value> next;
      for (auto [x, lowHigh] : llvm::enumerate(sums)) {
        Value sum = Dot4Op::create(b, accType, acc[x], lowHigh.first, one,
                                   b.getUnitAttr());
        next.push_back(Dot4Op::create(b, accType, sum, lowHigh.second, sixteen,
                                      b.getUnitAttr()));
      }
      return next;
    };
    // Two words' lookups add up in bytes before one vpdpbusd pair. The words
    // go one an iteration, an even word's sums carried to the odd one, and
    // each parity is a branch of its own: in one block, LLVM loaded both
    // words' 16 tables at once and spilled to the stack, and loads that
    // alias those stores modulo 4 KB stall, so the kernel ran 20-75% slower
    // in processes whose stack happened to lie there (4096 × 11008 on one
    // core: 467k to 811k TSC ticks a call depending on the stack's address;
    // with the branches, 480k at every address tried).
    SmallVector<Value> init(kGemvTiles, splat(b, accType, 0));
    for (int64_t x = 0; x < 2 * kGemvTiles; ++x)
      init.push_back(splat(b, bytes, 0));
    SmallVector<Value> state = llvm::to_vector(forLoop(
        b, index(b, words), 1, init,
        [&](ImplicitLocOpBuilder &b, Value j, ValueRange state) {
          ValueRange acc = state.take_front(kGemvTiles);
          ValueRange pending = state.drop_front(kGemvTiles);
          Value odd = arith::CmpIOp::create(b, arith::CmpIPredicate::ne,
                                            arith::AndIOp::create(b, j, index(b, 1)),
                                            index(b, 0));
          auto parity = scf::IfOp::create(b, state.getTypes(), odd, /*withElse=*/true);
          auto oddWord = ImplicitLocOpBuilder::atBlockBegin(b.getLoc(), parity.thenBlock());
          SmallVector<std::pair<Value, Value>> pairs;
          for (auto [x, sums] : llvm::enumerate(lookups(oddWord, j)))
            pairs.push_back(
                {arith::AddIOp::create(oddWord, sums.first, pending[2 * x]),
                 arith::AddIOp::create(oddWord, sums.second, pending[2 * x + 1])});
          SmallVector<Value> next = accumulate(oddWord, acc, pairs);
          next.append(2 * kGemvTiles, splat(oddWord, bytes, 0));
          scf::YieldOp::create(oddWord, next);
          auto evenWord = ImplicitLocOpBuilder::atBlockBegin(b.getLoc(), parity.elseBlock());
          next.assign(acc.begin(), acc.end());
          for (auto [low, high] : lookups(evenWord, j))
            next.append({low, high});
          scf::YieldOp::create(evenWord, next);
          return SmallVector<Value>(parity.getResults());
        }));
    SmallVector<Value> accs(state.begin(), state.begin() + kGemvTiles);
    if (words % 2) {
      SmallVector<std::pair<Value, Value>> last;
      for (int64_t x = 0; x < kGemvTiles; ++x)
        last.push_back({state[kGemvTiles + 2 * x], state[kGemvTiles + 2 * x + 1]});
      accs = accumulate(b, accs, last);
    }

    // Row r's sum is lanes 2r and 2r + 1, less the 32 added to each of its
    // 16 · words high lookups.
    auto rowLanes = VectorType::get({8}, b.getI32Type());
    SmallVector<int64_t> evenLanes, oddLanes;
    for (int64_t r = 0; r < 8; ++r) {
      evenLanes.push_back(2 * r);
      oddLanes.push_back(2 * r + 1);
    }
    for (auto [tile, acc] : llvm::zip(tileIndices, accs)) {
      Value ones = arith::SubIOp::create(
          b,
          arith::AddIOp::create(b, vector::ShuffleOp::create(b, acc, acc, evenLanes),
                                vector::ShuffleOp::create(b, acc, acc, oddLanes)),
          splat(b, rowLanes, 16 * 32 * 16 * words));
      Value firstRow = arith::MulIOp::create(b, tile, index(b, 8));
      storeBitLinearTile(b, ones, rowSums, s, tileScale(b, ws, 8, firstRow, exactRows),
                         y, m, firstRow, exactRows);
    }
  });
}

SmallVector<MemRefType, 2>
pquant::kernels::lookupGemvScratch(MLIRContext *context, PackedLayoutAttr layout) {
  return {MemRefType::get({layout.getWordsPerRow(), kGemvTableBytes},
                          IntegerType::get(context, 8)),
          MemRefType::get({1}, IntegerType::get(context, 32))};
}

SmallVector<MemRefType, 2>
pquant::kernels::lookupScratch(MLIRContext *context, PackedLayoutAttr layout) {
  return {MemRefType::get({ShapedType::kDynamic}, IntegerType::get(context, 32)),
          MemRefType::get({ShapedType::kDynamic, layout.getCols()},
                          IntegerType::get(context, 8))};
}

SmallVector<MemRefType, 2>
pquant::kernels::unpackDotScratch(MLIRContext *context,
                                  PackedLayoutAttr layout) {
  return {MemRefType::get({ShapedType::kDynamic},
                          IntegerType::get(context, 32))};
}
