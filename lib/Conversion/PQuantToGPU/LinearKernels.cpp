//===- LinearKernels.cpp - quantize and linear-layer GPU kernels ------------===//

#include "GPUBuilder.h"
#include "Kernels.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace pquant;
using namespace pquant::gpu;
using arith::CmpIPredicate;
using mlir::gpu::Dimension;

namespace {

/// The integer vector of 4 i32 that one 16-byte access moves.
VectorType quad(ImplicitLocOpBuilder &b) {
  return VectorType::get({4}, b.getI32Type());
}

Value extract(ImplicitLocOpBuilder &b, Value source, int64_t lane) {
  return vector::ExtractOp::create(b, source, ArrayRef<int64_t>{lane});
}

/// Largest power of two <= value (value >= 1), at most 32.
int64_t lanesFor(int64_t chunks) {
  return std::min<int64_t>(kWarp, int64_t(llvm::bit_floor(uint64_t(chunks))));
}

Value lt(ImplicitLocOpBuilder &b, Value a, Value c) {
  return cmp(b, CmpIPredicate::slt, a, c);
}

Value mul(ImplicitLocOpBuilder &b, Value a, Value c) {
  return arith::MulIOp::create(b, a, c);
}

Value add(ImplicitLocOpBuilder &b, Value a, Value c) {
  return arith::AddIOp::create(b, a, c);
}

} // namespace

std::string BitLinearConfig::name() const {
  return llvm::formatv("bitlinear_{0}x{1}_t{2}{3}{4}", n, k, tokens,
                       perRowScale ? "_rowscale" : "",
                       residual ? "_residual" : "")
      .str();
}

LaunchShape pquant::gpu::buildQuantize(ImplicitLocOpBuilder &b, ValueRange args,
                                       int64_t k) {
  Value x = args[0], q = args[1], s = args[2];
  Value m = toI64(b, blockIdx(b, Dimension::x));
  Value tid = threadIdx(b);
  Value row = mul(b, m, i64(b, k));
  Value red = sharedMemory(b, "quantize_red_" + std::to_string(k), 4 * 8);
  Type f32Type = b.getF32Type();
  Value local = forLoop(b, tid, i32(b, k), i32(b, kThreads), {f32(b, 0.0)},
                        [&](ImplicitLocOpBuilder &b, Value col, ValueRange acc) {
                          Value v = load(b, f32Type, x, add(b, row, toI64(b, col)), 4);
                          return SmallVector<Value>{
                              arith::MaximumFOp::create(b, acc[0], absF32(b, v))};
                        })[0];
  Value max = blockReduce(b, Combine::MaxF, local, red, kThreads);
  // s = max / 127, or 1 for an all-zero row.
  Value zero = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, max, f32(b, 0.0));
  Value scale = select(b, zero, f32(b, 1.0),
                       arith::DivFOp::create(b, max, f32(b, 127.0)));
  ifThen(b, cmp(b, CmpIPredicate::eq, tid, i32(b, 0)),
         [&](ImplicitLocOpBuilder &b) { store(b, scale, s, m, 4); });
  forLoop(b, tid, i32(b, k), i32(b, kThreads), {},
          [&](ImplicitLocOpBuilder &b, Value col, ValueRange) {
            Value index = add(b, row, toI64(b, col));
            Value ratio = arith::DivFOp::create(b, load(b, f32Type, x, index, 4), scale);
            // round_half_away(v / s) = sign · floor(|v / s| + 0.5), clamped.
            Value rounded = floor(
                b, arith::AddFOp::create(b, absF32(b, ratio), f32(b, 0.5)));
            Value clamped = arith::MinimumFOp::create(b, rounded, f32(b, 127.0));
            Value value = arith::FPToSIOp::create(b, b.getI8Type(),
                                                  copySignF32(b, clamped, ratio));
            store(b, value, q, index, 1);
            return SmallVector<Value>{};
          });
  LaunchShape shape;
  shape.tokensPerBlockX = 1;
  return shape;
}

LaunchShape pquant::gpu::buildBitLinear(ImplicitLocOpBuilder &b, ValueRange args,
                                        const BitLinearConfig &config) {
  const int64_t n = config.n, k = config.k, tokens = config.tokens;
  const int64_t words = llvm::divideCeil(k, kWordBits);
  const int64_t groups = llvm::divideCeil(words, kTileWords); // 128 columns each
  const int64_t rowTiles = llvm::divideCeil(n, kTileRows);
  const int64_t iterations = llvm::divideCeil(groups, 4);     // of a warp
  // Warps that split one row tile's K: enough warps in flight to cover the
  // device (about a thousand), no more than there are iterations.
  const int64_t warps = kThreads / kWarp;
  int64_t split = 1;
  while (split < warps && split < iterations && rowTiles * split < 1024)
    split *= 2;
  const int64_t tilesPerBlock = warps / split;
  const int64_t unroll = 4;
  // Activations of a chunk of groups, 36 words (144 bytes) per group so the
  // four groups a warp reads at once fall in distinct banks; three groups of
  // slack for the partial last iteration.
  const int64_t groupWords = 36;
  const int64_t chunk =
      std::min<int64_t>(groups, (40 * 1024) / (tokens * groupWords * 4));
  const int64_t actWords = (tokens * chunk + 3) * groupWords;

  Value q = args[0], s = args[1], w = args[2], ws = args[3];
  Value residual = config.residual ? args[4] : Value();
  Value y = args[config.residual ? 5 : 4];
  Value count = toI32(b, args.back());
  std::string name = config.name();
  Value act = sharedMemory(b, name + "_act", actWords * 4);
  Value sums = sharedMemory(b, name + "_sums", tokens * 4);
  Value partial = sharedMemory(b, name + "_partial", warps * tokens * kTileRows * 4);

  Type i32Type = b.getI32Type(), f32Type = b.getF32Type(), i8Type = b.getI8Type();
  Value tid = threadIdx(b);
  Value lane = arith::AndIOp::create(b, tid, i32(b, 31));
  Value warp = arith::ShRUIOp::create(b, tid, i32(b, 5));
  Value ks = arith::RemUIOp::create(b, warp, i32(b, split));
  Value rowTile = add(b, mul(b, blockIdx(b, Dimension::x), i32(b, tilesPerBlock)),
                      arith::DivUIOp::create(b, warp, i32(b, split)));
  Value tileValid = lt(b, rowTile, i32(b, rowTiles));
  Value r8 = arith::AndIOp::create(b, lane, i32(b, 7));
  Value sub = arith::ShRUIOp::create(b, lane, i32(b, 3));
  Value firstToken = mul(b, blockIdx(b, Dimension::y), i32(b, tokens));

  ifThen(b, lt(b, tid, i32(b, tokens)),
         [&](ImplicitLocOpBuilder &b) { store(b, i32(b, 0), sums, tid, 4); });

  SmallVector<Value> zeros(tokens * 8, i32(b, 0));
  ValueRange accs = forLoop(
      b, i32(b, 0), i32(b, groups), i32(b, chunk), zeros,
      [&](ImplicitLocOpBuilder &b, Value c0, ValueRange carried) {
        Value current = arith::MinSIOp::create(
            b, i32(b, chunk), arith::SubIOp::create(b, i32(b, groups), c0));
        // Stage: entry e is token t, group g, word wg (32 columns); it
        // becomes 8 words of permuted bytes, and adds to the token's Σ q.
        Value perToken = mul(b, current, i32(b, 4));
        Value entries = mul(b, perToken, i32(b, tokens));
        mlir::gpu::BarrierOp::create(b);
        SmallVector<Value> tokenSums(tokens, i32(b, 0));
        ValueRange staged = forLoop(
            b, tid, entries, i32(b, kThreads), tokenSums,
            [&](ImplicitLocOpBuilder &b, Value e, ValueRange partialSums) {
              Value t = arith::DivUIOp::create(b, e, perToken);
              Value rest = arith::RemUIOp::create(b, e, perToken);
              Value g = arith::ShRUIOp::create(b, rest, i32(b, 2));
              Value wg = arith::AndIOp::create(b, rest, i32(b, 3));
              Value m = add(b, firstToken, t);
              Value col0 = add(b, mul(b, add(b, c0, g), i32(b, 128)),
                               mul(b, wg, i32(b, 32)));
              Value tokenValid = lt(b, m, count);
              Value rowBase = mul(b, toI64(b, m), i64(b, k));
              // in[j] holds columns 4j .. 4j + 3 of the 32.
              SmallVector<Value> in;
              if (k % 32 == 0) {
                Value valid = arith::AndIOp::create(b, tokenValid, lt(b, col0, i32(b, k)));
                Value base = arith::DivUIOp::create(
                    b, add(b, rowBase, toI64(b, col0)), i64(b, 16));
                for (int64_t half = 0; half < 2; ++half) {
                  Value v = ifElse(
                      b, valid, quad(b),
                      [&](ImplicitLocOpBuilder &b) {
                        return load(b, quad(b), q, add(b, base, i64(b, half)), 16);
                      },
                      [&](ImplicitLocOpBuilder &b) {
                        return Value(arith::ConstantOp::create(
                            b, quad(b), DenseElementsAttr::get(quad(b), int32_t(0))));
                      });
                  for (int64_t j = 0; j < 4; ++j)
                    in.push_back(extract(b, v, j));
                }
              } else {
                for (int64_t j = 0; j < 8; ++j) {
                  Value word = i32(b, 0);
                  for (int64_t byte = 0; byte < 4; ++byte) {
                    Value col = add(b, col0, i32(b, 4 * j + byte));
                    Value valid = arith::AndIOp::create(b, tokenValid, lt(b, col, i32(b, k)));
                    Value v = ifElse(
                        b, valid, i32Type,
                        [&](ImplicitLocOpBuilder &b) {
                          Value v = load(b, i8Type, q, add(b, rowBase, toI64(b, col)), 1);
                          return Value(arith::ExtUIOp::create(b, i32Type, v));
                        },
                        [&](ImplicitLocOpBuilder &b) { return i32(b, 0); });
                    word = arith::OrIOp::create(
                        b, word, arith::ShLIOp::create(b, v, i32(b, 8 * byte)));
                  }
                  in.push_back(word);
                }
              }
              // Σ q of the 32 bytes: dp4a with ones.
              Value sum = i32(b, 0);
              for (Value word : in)
                sum = dot4(b, word, /*unsignedA=*/false, i32(b, 0x01010101), sum);
              // Out word i holds bytes (i, 8+i, 16+i, 24+i): byte i%4 of in
              // words i/4, 2 + i/4, 4 + i/4, 6 + i/4.
              Value out = add(b, mul(b, add(b, mul(b, t, i32(b, chunk)), g),
                                     i32(b, groupWords)),
                              mul(b, wg, i32(b, 8)));
              for (int64_t i = 0; i < 8; ++i) {
                Value word = i32(b, 0);
                for (int64_t byte = 0; byte < 4; ++byte) {
                  Value source = in[2 * byte + i / 4];
                  Value v = arith::AndIOp::create(
                      b, arith::ShRUIOp::create(b, source, i32(b, 8 * (i % 4))),
                      i32(b, 0xff));
                  word = arith::OrIOp::create(
                      b, word, arith::ShLIOp::create(b, v, i32(b, 8 * byte)));
                }
                store(b, word, act, add(b, out, i32(b, i)), 4);
              }
              SmallVector<Value> next(partialSums.begin(), partialSums.end());
              for (int64_t token = 0; token < tokens; ++token)
                next[token] = add(b, next[token],
                                  select(b, cmp(b, CmpIPredicate::eq, t, i32(b, token)),
                                         sum, i32(b, 0)));
              return next;
            });
        // Each warp adds its Σ q per token once.
        for (int64_t token = 0; token < tokens; ++token) {
          Value total = warpReduce(b, Combine::AddI, staged[token]);
          ifThen(b, cmp(b, CmpIPredicate::eq, lane, i32(b, 0)),
                 [&](ImplicitLocOpBuilder &b) {
                   LLVM::AtomicRMWOp::create(
                       b, LLVM::AtomicBinOp::add,
                       elementPtr(b, sums, i32Type, i32(b, token)), total,
                       LLVM::AtomicOrdering::monotonic);
                 });
        }
        mlir::gpu::BarrierOp::create(b);

        // Compute: iteration j covers groups 4j .. 4j + 3 of the chunk, one
        // per 8 lanes; warp ks of a tile takes iterations ks, ks + split, ...
        Value currentIterations = arith::DivUIOp::create(
            b, add(b, current, i32(b, 3)), i32(b, 4));
        Value stride = i32(b, split * unroll);
        ValueRange result = forLoop(
            b, ks, currentIterations, stride, carried,
            [&](ImplicitLocOpBuilder &b, Value j0, ValueRange acc) {
              SmallVector<Value> weights, localGroups;
              for (int64_t u = 0; u < unroll; ++u) {
                Value j = add(b, j0, i32(b, u * split));
                Value gl = add(b, mul(b, j, i32(b, 4)), sub);
                Value valid = arith::AndIOp::create(b, tileValid, lt(b, gl, current));
                // Invalid lanes read tile 0 and use nothing of it.
                Value tile = add(b, mul(b, toI64(b, rowTile), i64(b, groups)),
                                 toI64(b, add(b, c0, gl)));
                Value index = select(
                    b, valid,
                    add(b, mul(b, tile, i64(b, kTileRows)), toI64(b, r8)), i64(b, 0));
                Value v = load(b, quad(b), w, index, 16, /*invariant=*/true);
                Value zero = arith::ConstantOp::create(
                    b, quad(b), DenseElementsAttr::get(quad(b), int32_t(0)));
                weights.push_back(select(b, valid, v, zero));
                // Past the chunk, lanes read (zero-weighted) slack groups.
                localGroups.push_back(arith::MinSIOp::create(b, gl, i32(b, chunk + 2)));
              }
              SmallVector<Value> next(acc.begin(), acc.end());
              for (int64_t u = 0; u < unroll; ++u) {
                for (int64_t t = 0; t < tokens; ++t) {
                  Value base = mul(b, add(b, i32(b, t * chunk), localGroups[u]),
                                   i32(b, groupWords / 4));
                  SmallVector<Value> a;
                  for (int64_t v = 0; v < 8; ++v)
                    a.push_back(load(b, quad(b), act, add(b, base, i32(b, v)), 16));
                  for (int64_t wg = 0; wg < 4; ++wg) {
                    Value word = extract(b, weights[u], wg);
                    for (int64_t i = 0; i < 8; ++i) {
                      Value masked = arith::AndIOp::create(
                          b, word, i32(b, int64_t(0x01010101u << i)));
                      int64_t index = wg * 8 + i;
                      Value &slot = next[t * 8 + i];
                      slot = dot4(b, masked, /*unsignedA=*/true,
                                  extract(b, a[index / 4], index % 4), slot);
                    }
                  }
                }
              }
              return next;
            });
        return SmallVector<Value>(result.begin(), result.end());
      });

  // Σ_{B=1} q per token: accumulator i holds 2^i times its share.
  for (int64_t t = 0; t < tokens; ++t) {
    Value ones = i32(b, 0);
    for (int64_t i = 0; i < 8; ++i)
      ones = add(b, ones, arith::ShRSIOp::create(b, accs[t * 8 + i], i32(b, i)));
    ones = add(b, ones, shuffleXor(b, ones, 8));
    ones = add(b, ones, shuffleXor(b, ones, 16));
    ifThen(b, cmp(b, CmpIPredicate::ult, lane, i32(b, 8)),
           [&](ImplicitLocOpBuilder &b) {
             Value slot = add(b, mul(b, add(b, mul(b, warp, i32(b, tokens)), i32(b, t)),
                                     i32(b, 8)),
                              r8);
             store(b, ones, partial, slot, 4);
           });
  }
  mlir::gpu::BarrierOp::create(b);
  Value leader = arith::AndIOp::create(
      b, tileValid,
      arith::AndIOp::create(b, cmp(b, CmpIPredicate::eq, ks, i32(b, 0)),
                            cmp(b, CmpIPredicate::ult, lane, i32(b, 8))));
  Value row = add(b, mul(b, rowTile, i32(b, kTileRows)), r8);
  ifThen(b, arith::AndIOp::create(b, leader, lt(b, row, i32(b, n))),
         [&](ImplicitLocOpBuilder &b) {
           Value scale = load(b, f32Type, ws,
                              config.perRowScale ? row : i32(b, 0), 4);
           for (int64_t t = 0; t < tokens; ++t) {
             Value m = add(b, firstToken, i32(b, t));
             ifThen(b, lt(b, m, count), [&](ImplicitLocOpBuilder &b) {
               Value total = i32(b, 0);
               for (int64_t part = 0; part < split; ++part) {
                 Value slot = add(
                     b,
                     mul(b, add(b, mul(b, add(b, warp, i32(b, part)), i32(b, tokens)),
                                i32(b, t)),
                         i32(b, 8)),
                     r8);
                 total = add(b, total, load(b, i32Type, partial, slot, 4));
               }
               Value sumQ = load(b, i32Type, sums, i32(b, t), 4);
               Value acc = arith::SubIOp::create(
                   b, arith::ShLIOp::create(b, total, i32(b, 1)), sumQ);
               Value result = arith::MulFOp::create(
                   b,
                   arith::MulFOp::create(
                       b, arith::SIToFPOp::create(b, f32Type, acc), scale),
                   load(b, f32Type, s, m, 4));
               Value out = add(b, mul(b, toI64(b, m), i64(b, n)), toI64(b, row));
               if (residual)
                 result = arith::AddFOp::create(
                     b, load(b, f32Type, residual, out, 4), result);
               store(b, result, y, out, 4);
             });
           }
         });

  LaunchShape shape;
  shape.gridX = llvm::divideCeil(rowTiles, tilesPerBlock);
  shape.gridY = 1;
  shape.tokensPerBlockY = tokens;
  return shape;
}

LaunchShape pquant::gpu::buildInt8Linear(ImplicitLocOpBuilder &b, ValueRange args,
                                         int64_t n, int64_t k, int64_t experts,
                                         std::optional<int64_t> slot,
                                         int64_t topK) {
  Value q = args[0], s = args[1], w = args[2], ws = args[3];
  Value ids = slot ? args[4] : Value();
  Value y = args[slot ? 5 : 4];
  const int64_t chunkBytes = k % 16 == 0 ? 16 : k % 4 == 0 ? 4 : 1;
  const int64_t chunks = k / chunkBytes;
  const int64_t lanes = lanesFor(chunks);
  const int64_t rowsPerWarp = kWarp / lanes;
  const int64_t rowsPerBlock = (kThreads / kWarp) * rowsPerWarp;
  const int64_t unroll = 4;
  Type i32Type = b.getI32Type(), f32Type = b.getF32Type();

  Value tid = threadIdx(b);
  Value lane = arith::AndIOp::create(b, tid, i32(b, 31));
  Value warp = arith::ShRUIOp::create(b, tid, i32(b, 5));
  Value m = blockIdx(b, Dimension::y);
  Value row = add(b, add(b, mul(b, blockIdx(b, Dimension::x), i32(b, rowsPerBlock)),
                         mul(b, warp, i32(b, rowsPerWarp))),
                  arith::DivUIOp::create(b, lane, i32(b, lanes)));
  Value c = arith::RemUIOp::create(b, lane, i32(b, lanes));
  Value rowValid = lt(b, row, i32(b, n));
  Value expert = i32(b, 0);
  if (ids) {
    Value id = load(b, i32Type, ids, add(b, mul(b, m, i32(b, topK)), i32(b, *slot)), 4);
    expert = arith::MinSIOp::create(
        b, arith::MaxSIOp::create(b, id, i32(b, 0)), i32(b, experts - 1));
  }
  Value safeRow = arith::MinSIOp::create(b, row, i32(b, n - 1));
  Value weightRow = add(b, mul(b, toI64(b, expert), i64(b, n)), toI64(b, safeRow));
  Value wBase = mul(b, weightRow, i64(b, chunks)); // in chunks
  Value qBase = mul(b, toI64(b, m), i64(b, chunks));

  auto chunkDot = [&](ImplicitLocOpBuilder &b, Value wv, Value qv, Value acc) {
    if (chunkBytes == 16) {
      for (int64_t j = 0; j < 4; ++j)
        acc = dot4(b, extract(b, wv, j), false, extract(b, qv, j), acc);
      return acc;
    }
    if (chunkBytes == 4)
      return dot4(b, wv, false, qv, acc);
    return add(b, acc, mul(b, arith::ExtSIOp::create(b, i32Type, wv),
                           arith::ExtSIOp::create(b, i32Type, qv)));
  };
  Type chunkType = chunkBytes == 16 ? Type(quad(b))
                   : chunkBytes == 4 ? i32Type
                                     : Type(b.getI8Type());
  auto zeroChunk = [&](ImplicitLocOpBuilder &b) -> Value {
    if (chunkBytes == 16)
      return arith::ConstantOp::create(
          b, quad(b), DenseElementsAttr::get(quad(b), int32_t(0)));
    return arith::ConstantIntOp::create(b, chunkType, 0);
  };
  Value acc = forLoop(
      b, c, i32(b, chunks), i32(b, lanes * unroll), {i32(b, 0)},
      [&](ImplicitLocOpBuilder &b, Value c0, ValueRange carried) {
        SmallVector<Value> wvs, qvs;
        for (int64_t u = 0; u < unroll; ++u) {
          Value cc = add(b, c0, i32(b, u * lanes));
          Value valid = lt(b, cc, i32(b, chunks));
          Value safe = arith::MinSIOp::create(b, cc, i32(b, chunks - 1));
          Value wv = load(b, chunkType, w, add(b, wBase, toI64(b, safe)), chunkBytes, true);
          Value qv = load(b, chunkType, q, add(b, qBase, toI64(b, safe)), chunkBytes);
          wvs.push_back(select(b, valid, wv, zeroChunk(b)));
          qvs.push_back(qv);
        }
        Value acc = carried[0];
        for (int64_t u = 0; u < unroll; ++u)
          acc = chunkDot(b, wvs[u], qvs[u], acc);
        return SmallVector<Value>{acc};
      })[0];
  acc = warpReduce(b, Combine::AddI, acc, lanes);
  ifThen(b, arith::AndIOp::create(b, rowValid, cmp(b, CmpIPredicate::eq, c, i32(b, 0))),
         [&](ImplicitLocOpBuilder &b) {
           Value scale = load(b, f32Type, ws, weightRow, 4);
           Value result = arith::MulFOp::create(
               b,
               arith::MulFOp::create(b, arith::SIToFPOp::create(b, f32Type, acc), scale),
               load(b, f32Type, s, m, 4));
           store(b, result, y, add(b, mul(b, toI64(b, m), i64(b, n)), toI64(b, row)), 4);
         });
  LaunchShape shape;
  shape.gridX = llvm::divideCeil(n, rowsPerBlock);
  shape.tokensPerBlockY = 1;
  return shape;
}

LaunchShape pquant::gpu::buildFloatLinear(ImplicitLocOpBuilder &b, ValueRange args,
                                          int64_t n, int64_t k, bool f16,
                                          int64_t tokens) {
  Value x = args[0], w = args[1], y = args[2];
  Value count = toI32(b, args[3]);
  // A chunk is 16 bytes of weights (4 f32 or 8 f16) when rows allow it.
  const int64_t width = f16 ? 8 : 4;
  const int64_t chunkElements = k % width == 0 ? width : 1;
  const int64_t chunks = k / chunkElements;
  const int64_t lanes = lanesFor(chunks);
  const int64_t rowsPerWarp = kWarp / lanes;
  const int64_t rowsPerBlock = (kThreads / kWarp) * rowsPerWarp;
  const int64_t unroll = 4;
  Type f32Type = b.getF32Type();
  Type element = f16 ? Type(b.getF16Type()) : f32Type;
  Type chunkType = chunkElements == 1 ? element
                                      : Type(VectorType::get({chunkElements}, element));
  auto xLanes = VectorType::get({4}, f32Type);

  Value tid = threadIdx(b);
  Value lane = arith::AndIOp::create(b, tid, i32(b, 31));
  Value warp = arith::ShRUIOp::create(b, tid, i32(b, 5));
  Value row = add(b, add(b, mul(b, blockIdx(b, Dimension::x), i32(b, rowsPerBlock)),
                         mul(b, warp, i32(b, rowsPerWarp))),
                  arith::DivUIOp::create(b, lane, i32(b, lanes)));
  Value c = arith::RemUIOp::create(b, lane, i32(b, lanes));
  Value firstToken = mul(b, blockIdx(b, Dimension::y), i32(b, tokens));
  Value safeRow = arith::MinSIOp::create(b, row, i32(b, n - 1));
  Value wBase = mul(b, toI64(b, safeRow), i64(b, chunks));
  // Tokens past M read token 0 and store nothing.
  SmallVector<Value> xRows;
  for (int64_t t = 0; t < tokens; ++t) {
    Value m = add(b, firstToken, i32(b, t));
    m = select(b, lt(b, m, count), m, i32(b, 0));
    xRows.push_back(mul(b, toI64(b, m), i64(b, k)));
  }

  SmallVector<Value> zeros(tokens, f32(b, 0.0));
  ValueRange sums = forLoop(
      b, c, i32(b, chunks), i32(b, lanes * unroll), zeros,
      [&](ImplicitLocOpBuilder &b, Value c0, ValueRange carried) {
        SmallVector<Value> chunksW, valids, columns;
        for (int64_t u = 0; u < unroll; ++u) {
          Value cc = add(b, c0, i32(b, u * lanes));
          Value valid = lt(b, cc, i32(b, chunks));
          Value safe = arith::MinSIOp::create(b, cc, i32(b, chunks - 1));
          chunksW.push_back(load(b, chunkType, w, add(b, wBase, toI64(b, safe)),
                                 alignOf(chunkType), true));
          valids.push_back(valid);
          columns.push_back(mul(b, toI64(b, safe), i64(b, chunkElements)));
        }
        SmallVector<Value> next(carried.begin(), carried.end());
        for (int64_t u = 0; u < unroll; ++u) {
          SmallVector<Value> weights;
          if (chunkElements == 1) {
            weights.push_back(f16 ? Value(arith::ExtFOp::create(b, f32Type, chunksW[u]))
                                  : chunksW[u]);
          } else {
            for (int64_t e = 0; e < chunkElements; ++e) {
              Value v = extract(b, chunksW[u], e);
              weights.push_back(f16 ? Value(arith::ExtFOp::create(b, f32Type, v)) : v);
            }
          }
          for (Value &v : weights)
            v = select(b, valids[u], v, f32(b, 0.0));
          for (int64_t t = 0; t < tokens; ++t) {
            Value base = add(b, xRows[t], columns[u]);
            SmallVector<Value> xs;
            if (chunkElements == 1) {
              xs.push_back(load(b, f32Type, x, base, 4));
            } else {
              Value quadBase = arith::DivUIOp::create(b, base, i64(b, 4));
              for (int64_t part = 0; part < chunkElements / 4; ++part) {
                Value v = load(b, xLanes, x, add(b, quadBase, i64(b, part)), 16);
                for (int64_t e = 0; e < 4; ++e)
                  xs.push_back(extract(b, v, e));
              }
            }
            for (auto [wv, xv] : llvm::zip(weights, xs))
              next[t] = math::FmaOp::create(b, wv, xv, next[t]);
          }
        }
        return next;
      });
  Value rowValid = lt(b, row, i32(b, n));
  for (int64_t t = 0; t < tokens; ++t) {
    Value total = warpReduce(b, Combine::AddF, sums[t], lanes);
    Value m = add(b, firstToken, i32(b, t));
    Value valid = arith::AndIOp::create(
        b, arith::AndIOp::create(b, rowValid, lt(b, m, count)),
        cmp(b, CmpIPredicate::eq, c, i32(b, 0)));
    ifThen(b, valid, [&](ImplicitLocOpBuilder &b) {
      store(b, total, y, add(b, mul(b, toI64(b, m), i64(b, n)), toI64(b, row)), 4);
    });
  }
  LaunchShape shape;
  shape.gridX = llvm::divideCeil(n, rowsPerBlock);
  shape.tokensPerBlockY = tokens;
  return shape;
}
