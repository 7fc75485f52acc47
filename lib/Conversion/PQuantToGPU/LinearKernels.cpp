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

int64_t pquant::gpu::bitGroups(int64_t k) {
  return llvm::divideCeil(llvm::divideCeil(k, kWordBits), kTileWords);
}

std::string BitLinearConfig::name() const {
  std::string text = llvm::formatv("bitlinear_k{0}_t{1}", k, tokens).str();
  if (threads != kThreads)
    text += "_b" + std::to_string(threads);
  if (prologue)
    text += "_q" + prologue->name() + (storeQuantized ? "s" : "");
  if (siluPairs)
    text += "_silu";
  for (const BitLinearMatrix &matrix : matrices)
    text += llvm::formatv("_n{0}{1}{2}", matrix.n, matrix.perRowScale ? "r" : "",
                          matrix.residual ? "a" : "")
                .str();
  return text;
}

namespace {

/// Byte offset, in a token's row of the BitLinear activation layout, of
/// column `col` (i32), where a 128-column group takes `groupBytes` bytes.
Value permutedByte(ImplicitLocOpBuilder &b, Value col, int64_t groupBytes = 128) {
  Value group = arith::ShRUIOp::create(b, col, i32(b, 7));
  Value rest = arith::AndIOp::create(b, col, i32(b, 127));
  Value word = arith::ShRUIOp::create(b, rest, i32(b, 5));
  Value c32 = arith::AndIOp::create(b, rest, i32(b, 31));
  Value i = arith::AndIOp::create(b, c32, i32(b, 7));
  Value byte = arith::ShRUIOp::create(b, c32, i32(b, 3));
  Value slot = add(b, mul(b, word, i32(b, 8)), i);
  return add(b, add(b, mul(b, group, i32(b, groupBytes)), mul(b, slot, i32(b, 4))), byte);
}

/// s = max / 127, or 1 for an all-zero row.
Value scaleOf(ImplicitLocOpBuilder &b, Value max) {
  Value zero = arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, max, f32(b, 0.0));
  return select(b, zero, f32(b, 1.0), arith::DivFOp::create(b, max, f32(b, 127.0)));
}

/// clamp(round_half_away(v / s), −127, 127) as i8: sign · min(floor(|v / s|
/// + 0.5), 127).
Value quantizeValue(ImplicitLocOpBuilder &b, Value v, Value scale) {
  Value ratio = arith::DivFOp::create(b, v, scale);
  Value rounded = floor(b, arith::AddFOp::create(b, absF32(b, ratio), f32(b, 0.5)));
  Value clamped = arith::MinimumFOp::create(b, rounded, f32(b, 127.0));
  return arith::FPToSIOp::create(b, b.getI8Type(), copySignF32(b, clamped, ratio));
}

/// A 128-column group of BitLinear activations in shared memory: 128 bytes
/// padded to 144, so that the four groups a warp reads at once (one per
/// quarter of the warp) start in different banks.
constexpr int64_t kSharedGroupBytes = 144;

/// The prologue of a decode linear with QuantizeInput `input`: the block
/// quantizes token 0's row of `inputs` (x: [1, K] f32, [norm weight]; or
/// gate and up) into shared memory as the quantize kernel would (the same
/// f32 operations; the norm's mean of squares in f64). A thread keeps its
/// columns (tid + j · threads) in registers: the inputs are read once.
class QuantizePrologue {
public:
  QuantizePrologue(ValueRange inputs, int64_t k, const QuantizeInput &input,
                   int64_t threads, StringRef name)
      : inputs(inputs), k(k), input(input), threads(threads), name(name.str()) {}

  /// Columns a thread holds at most.
  static int64_t perThread(int64_t k, int64_t threads) { return llvm::divideCeil(k, threads); }

  /// Loads what no earlier kernel writes (the norm's weight): may come
  /// before waitForPriorKernels.
  void loadConstants(ImplicitLocOpBuilder &b) {
    if (input.kind != QuantizeInput::Norm)
      return;
    Type f32Type = b.getF32Type();
    auto loadWeights = [&](Value from, bool f16, SmallVector<Value> &into) {
      Type type = f16 ? Type(b.getF16Type()) : f32Type;
      forEachColumn(b, k, [&](ImplicitLocOpBuilder &b, int64_t, Value, Value safe) {
        Value w = load(b, type, from, safe, f16 ? 2 : 4, true);
        into.push_back(f16 ? Value(arith::ExtFOp::create(b, f32Type, w)) : w);
      });
    };
    unsigned next = 1;
    if (input.preNorm && input.preHasWeight)
      loadWeights(inputs[next++], input.preF16Weight, preWeights);
    if (input.hasWeight)
      loadWeights(inputs[next++], input.f16Weight, weights);
  }

  /// Quantizes the row into `act`: with `bitLayout`, in the layout the
  /// BitLinear GEMV reads, kSharedGroupBytes per group, zero-padded to whole
  /// groups; else as K bytes. Where `q` is given, `storer` (i1) says whether
  /// this block also stores q and s there. Returns s and Σ_k q.
  std::pair<Value, Value> run(ImplicitLocOpBuilder &b, Value act, Value q, Value s,
                              Value storer, bool bitLayout) {
    Type f32Type = b.getF32Type(), f64Type = b.getF64Type(), i32Type = b.getI32Type();
    const int64_t warps = threads / kWarp;
    auto scratch = [&](StringRef what, int64_t bytes) {
      return sharedMemory(b, (name + "_" + what).str(), warps * bytes);
    };
    // The thread's columns, all loads at once. Not through the non-coherent
    // cache: the kernel before wrote them.
    SmallVector<Value> values, valids;
    forEachColumn(b, k, [&](ImplicitLocOpBuilder &b, int64_t, Value valid, Value safe) {
      Value v = load(b, f32Type, inputs[0], safe, 4);
      if (input.kind == QuantizeInput::SiluMul)
        v = siluMul(b, v, load(b, f32Type, inputs[1], safe, 4));
      values.push_back(v);
      valids.push_back(valid);
    });
    auto localMax = [&](ImplicitLocOpBuilder &b) {
      Value max = f32(b, 0.0);
      for (auto [v, valid] : llvm::zip(values, valids))
        max = arith::MaximumFOp::create(b, max, select(b, valid, absF32(b, v), f32(b, 0.0)));
      return max;
    };
    Value max;
    if (input.kind == QuantizeInput::Norm && input.preNorm) {
      // The row is the pre-norm's output, as buildRMSNorm (or
      // buildNormRouter) computes it: the mean of x² in f64 rounded to f32,
      // x / rms, times the weight.
      Value squares = f64(b, 0.0);
      for (auto [v, valid] : llvm::zip(values, valids)) {
        Value wide = select(b, valid, arith::ExtFOp::create(b, f64Type, v), f64(b, 0.0));
        squares = arith::AddFOp::create(b, squares, arith::MulFOp::create(b, wide, wide));
      }
      Value sum = blockReduceOnce(b, {{Combine::AddF, squares}}, {scratch("presquares", 8)},
                                  threads)[0];
      Value meanSquare = arith::TruncFOp::create(
          b, f32Type, arith::DivFOp::create(b, sum, f64(b, double(k))));
      Value rms = sqrtF32(b, arith::AddFOp::create(b, meanSquare, f32(b, input.preEps)));
      for (size_t j = 0; j < values.size(); ++j) {
        values[j] = arith::DivFOp::create(b, values[j], rms);
        if (input.preHasWeight)
          values[j] = arith::MulFOp::create(b, values[j], preWeights[j]);
      }
    }
    if (input.kind == QuantizeInput::Norm) {
      // Σ x² in f64 and, without a weight, max |x| in the same reduction:
      // x / rms rounds monotonically, so max |x / rms| = max |x| / rms.
      Value squares = f64(b, 0.0);
      for (auto [v, valid] : llvm::zip(values, valids)) {
        Value wide = select(b, valid, arith::ExtFOp::create(b, f64Type, v), f64(b, 0.0));
        squares = arith::AddFOp::create(b, squares, arith::MulFOp::create(b, wide, wide));
      }
      SmallVector<std::pair<Combine, Value>> sums = {{Combine::AddF, squares}};
      SmallVector<Value> slots = {scratch("squares", 8)};
      if (!input.hasWeight) {
        sums.push_back({Combine::MaxF, localMax(b)});
        slots.push_back(scratch("rawmax", 4));
      }
      SmallVector<Value> reduced = blockReduceOnce(b, sums, slots, threads);
      Value meanSquare = arith::TruncFOp::create(
          b, f32Type, arith::DivFOp::create(b, reduced[0], f64(b, double(k))));
      Value rms = sqrtF32(b, arith::AddFOp::create(b, meanSquare, f32(b, input.eps)));
      for (size_t j = 0; j < values.size(); ++j) {
        values[j] = arith::DivFOp::create(b, values[j], rms);
        if (input.hasWeight)
          values[j] = arith::MulFOp::create(b, values[j], weights[j]);
      }
      if (!input.hasWeight)
        max = arith::DivFOp::create(b, reduced[1], rms);
    }
    if (!max)
      max = blockReduceOnce(b, {{Combine::MaxF, localMax(b)}}, {scratch("max", 4)}, threads)[0];
    Value scale = scaleOf(b, max);
    Value tid = threadIdx(b);
    if (q)
      ifThen(b, arith::AndIOp::create(b, storer, cmp(b, CmpIPredicate::eq, tid, i32(b, 0))),
             [&](ImplicitLocOpBuilder &b) { store(b, scale, s, i32(b, 0), 4); });
    // q of the thread's columns, and zeros for the padding up to whole
    // groups.
    const int64_t padded = bitLayout ? bitGroups(k) * 128 : k;
    Value sum = i32(b, 0);
    Type i8Type = b.getI8Type();
    Value zero = arith::ConstantIntOp::create(b, i8Type, 0);
    forEachColumn(b, padded, [&](ImplicitLocOpBuilder &b, int64_t j, Value valid, Value) {
      Value col = add(b, tid, i32(b, j * threads));
      Value value = zero;
      if (j < int64_t(values.size())) {
        value = select(b, valids[j], quantizeValue(b, values[j], scale), zero);
        if (q)
          ifThen(b, arith::AndIOp::create(b, storer, valids[j]),
                 [&](ImplicitLocOpBuilder &b) { store(b, value, q, toI64(b, col), 1); });
      }
      ifThen(b, valid, [&](ImplicitLocOpBuilder &b) {
        store(b, value, act, bitLayout ? permutedByte(b, col, kSharedGroupBytes) : col, 1);
      });
      sum = add(b, sum, arith::ExtSIOp::create(b, i32Type, value));
    });
    // The barrier also makes `act` visible to the whole block.
    Value total = blockReduceOnce(b, {{Combine::AddI, sum}}, {scratch("sums", 4)}, threads)[0];
    return {scale, total};
  }

private:
  /// body(j, valid, safe column) for the thread's columns tid + j · threads
  /// < width, unrolled.
  void forEachColumn(ImplicitLocOpBuilder &b, int64_t width,
                     llvm::function_ref<void(ImplicitLocOpBuilder &, int64_t, Value, Value)> body) {
    Value tid = threadIdx(b);
    for (int64_t j = 0; j < perThread(width, threads); ++j) {
      Value col = add(b, tid, i32(b, j * threads));
      Value valid = (j + 1) * threads <= width ? Value(arith::ConstantIntOp::create(b, b.getI1Type(), 1))
                                               : lt(b, col, i32(b, width));
      body(b, j, valid, select(b, valid, col, i32(b, 0)));
    }
  }

  ValueRange inputs;
  int64_t k;
  QuantizeInput input;
  int64_t threads;
  std::string name;
  SmallVector<Value> weights, preWeights;
};

} // namespace

std::string QuantizeInput::name() const {
  switch (kind) {
  case Plain:
    return "";
  case Norm: {
    std::string text;
    if (preNorm)
      text = llvm::formatv("norm_{0}_eps{1:x8}_",
                           preHasWeight ? (preF16Weight ? "wf16" : "wf32") : "nw",
                           llvm::bit_cast<uint32_t>(preEps))
                 .str();
    return text + llvm::formatv("norm_{0}_eps{1:x8}_",
                                hasWeight ? (f16Weight ? "wf16" : "wf32") : "nw",
                                llvm::bit_cast<uint32_t>(eps))
                      .str();
  }
  case SiluMul:
    return "silu_mul_";
  }
  llvm_unreachable("unknown quantize input");
}

LaunchShape pquant::gpu::buildQuantize(ImplicitLocOpBuilder &b, ValueRange args,
                                       int64_t k, bool forBitLinear,
                                       const QuantizeInput &input) {
  assert(!input.preNorm && "a pre-norm is for linear prologues only");
  // Inputs: x; x and the norm weight; or gate and up.
  unsigned inputs = input.kind == QuantizeInput::Plain                  ? 1
                    : input.kind == QuantizeInput::Norm && !input.hasWeight ? 1
                                                                            : 2;
  Value x = args[0];
  Value q = args[inputs], s = args[inputs + 1];
  Value act = forBitLinear ? args[inputs + 2] : Value();
  Value sums = forBitLinear ? args[inputs + 3] : Value();
  const int64_t padded = bitGroups(k) * 128;
  Value m = toI64(b, blockIdx(b, Dimension::x));
  Value tid = threadIdx(b);
  Value row = mul(b, m, i64(b, k));
  std::string name = "quantize_" + input.name() + std::to_string(k);
  Value red = sharedMemory(b, name + "_red", kRowThreads / kWarp * 8);
  Type f32Type = b.getF32Type(), i8Type = b.getI8Type(), i32Type = b.getI32Type();
  // A fused producer computes the row into shared memory first.
  Value staged;
  if (input.kind != QuantizeInput::Plain) {
    staged = sharedMemory(b, name + "_row", k * 4);
    if (input.kind == QuantizeInput::Norm) {
      Type f64Type = b.getF64Type();
      Value squares = columnLoop(
          b, tid, k, kRowThreads, {f64(b, 0.0)},
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
          b, f32Type, arith::DivFOp::create(b, sum, f64(b, double(k))));
      Value rms = sqrtF32(b, arith::AddFOp::create(b, meanSquare, f32(b, input.eps)));
      columnLoop(b, tid, k, kRowThreads, {},
                 [&](ImplicitLocOpBuilder &b, Value d, Value valid, ValueRange) {
                   ifThen(b, valid, [&](ImplicitLocOpBuilder &b) {
                     Value normed = arith::DivFOp::create(
                         b, load(b, f32Type, x, add(b, row, toI64(b, d)), 4), rms);
                     if (input.hasWeight) {
                       Type element = input.f16Weight ? Type(b.getF16Type()) : f32Type;
                       Value w = load(b, element, args[1], d, input.f16Weight ? 2 : 4, true);
                       if (input.f16Weight)
                         w = arith::ExtFOp::create(b, f32Type, w);
                       normed = arith::MulFOp::create(b, normed, w);
                     }
                     store(b, normed, staged, d, 4);
                   });
                   return SmallVector<Value>{};
                 });
    } else {
      Value up = args[1];
      columnLoop(b, tid, k, kRowThreads, {},
                 [&](ImplicitLocOpBuilder &b, Value d, Value valid, ValueRange) {
                   ifThen(b, valid, [&](ImplicitLocOpBuilder &b) {
                     Value index = add(b, row, toI64(b, d));
                     store(b, siluMul(b, load(b, f32Type, x, index, 4),
                                      load(b, f32Type, up, index, 4)),
                           staged, d, 4);
                   });
                   return SmallVector<Value>{};
                 });
    }
    mlir::gpu::BarrierOp::create(b);
  }
  auto element = [&](ImplicitLocOpBuilder &b, Value col) -> Value {
    if (staged)
      return load(b, f32Type, staged, col, 4);
    return load(b, f32Type, x, add(b, row, toI64(b, col)), 4);
  };
  Value local = columnLoop(
      b, tid, k, kRowThreads, {f32(b, 0.0)},
      [&](ImplicitLocOpBuilder &b, Value col, Value valid, ValueRange acc) {
        Value safe = select(b, valid, col, i32(b, 0));
        Value v = absF32(b, element(b, safe));
        return SmallVector<Value>{
            arith::MaximumFOp::create(b, acc[0], select(b, valid, v, f32(b, 0.0)))};
      })[0];
  Value max = blockReduce(b, Combine::MaxF, local, red, kRowThreads);
  Value scale = scaleOf(b, max);
  ifThen(b, cmp(b, CmpIPredicate::eq, tid, i32(b, 0)),
         [&](ImplicitLocOpBuilder &b) { store(b, scale, s, m, 4); });
  Value actRow = forBitLinear ? mul(b, m, i64(b, padded)) : Value();
  Value sum = columnLoop(
      b, tid, forBitLinear ? padded : k, kRowThreads, {i32(b, 0)},
      [&](ImplicitLocOpBuilder &b, Value col, Value valid, ValueRange acc) {
        Value inside = arith::AndIOp::create(b, valid, lt(b, col, i32(b, k)));
        Value value = ifElse(
            b, inside, i8Type,
            [&](ImplicitLocOpBuilder &b) {
              Value index = add(b, row, toI64(b, col));
              Value value = quantizeValue(b, element(b, col), scale);
              store(b, value, q, index, 1);
              return value;
            },
            [&](ImplicitLocOpBuilder &b) {
              return Value(arith::ConstantIntOp::create(b, i8Type, 0));
            });
        if (!forBitLinear)
          return SmallVector<Value>{acc[0]};
        ifThen(b, valid, [&](ImplicitLocOpBuilder &b) {
          store(b, value, act, add(b, actRow, toI64(b, permutedByte(b, col))), 1);
        });
        return SmallVector<Value>{
            add(b, acc[0], arith::ExtSIOp::create(b, i32Type, value))};
      })[0];
  if (forBitLinear) {
    Value total = blockReduce(b, Combine::AddI, sum, red, kRowThreads);
    ifThen(b, cmp(b, CmpIPredicate::eq, tid, i32(b, 0)),
           [&](ImplicitLocOpBuilder &b) { store(b, total, sums, m, 4); });
  }
  LaunchShape shape;
  shape.tokensPerBlockX = 1;
  shape.block = kRowThreads;
  return shape;
}

LaunchShape pquant::gpu::buildBitLinearPrepare(ImplicitLocOpBuilder &b,
                                               ValueRange args, int64_t k) {
  Value q = args[0], act = args[1], sums = args[2];
  const int64_t padded = bitGroups(k) * 128;
  Type i8Type = b.getI8Type(), i32Type = b.getI32Type();
  Value m = toI64(b, blockIdx(b, Dimension::x));
  Value tid = threadIdx(b);
  Value row = mul(b, m, i64(b, k)), actRow = mul(b, m, i64(b, padded));
  Value red = sharedMemory(b, "prepare_red", kRowThreads / kWarp * 8);
  Value sum = forLoop(
      b, tid, i32(b, padded), i32(b, kRowThreads), {i32(b, 0)},
      [&](ImplicitLocOpBuilder &b, Value col, ValueRange acc) {
        Value value = ifElse(
            b, lt(b, col, i32(b, k)), i8Type,
            [&](ImplicitLocOpBuilder &b) {
              return load(b, i8Type, q, add(b, row, toI64(b, col)), 1);
            },
            [&](ImplicitLocOpBuilder &b) {
              return Value(arith::ConstantIntOp::create(b, i8Type, 0));
            });
        store(b, value, act, add(b, actRow, toI64(b, permutedByte(b, col))), 1);
        return SmallVector<Value>{
            add(b, acc[0], arith::ExtSIOp::create(b, i32Type, value))};
      })[0];
  Value total = blockReduce(b, Combine::AddI, sum, red, kRowThreads);
  ifThen(b, cmp(b, CmpIPredicate::eq, tid, i32(b, 0)),
         [&](ImplicitLocOpBuilder &b) { store(b, total, sums, m, 4); });
  LaunchShape shape;
  shape.tokensPerBlockX = 1;
  shape.block = kRowThreads;
  return shape;
}

namespace {

/// One BitLinear's buffers among a BitLinear kernel's parameters.
struct BitLinearOperands {
  Value w, ws, residual, y;
};

/// Per matrix, from args[next] on: w, ws, [residual], y (of a SiLU pair,
/// only the second has y).
SmallVector<BitLinearOperands> matrixOperands(ValueRange args, unsigned &next,
                                              const BitLinearConfig &config) {
  SmallVector<BitLinearOperands> operands;
  for (auto [i, matrix] : llvm::enumerate(config.matrices)) {
    BitLinearOperands o;
    o.w = args[next++];
    o.ws = args[next++];
    if (matrix.residual)
      o.residual = args[next++];
    if (!config.siluPairs || i % 2 == 1)
      o.y = args[next++];
    operands.push_back(o);
  }
  return operands;
}

/// The first row tile of each matrix in their tiles, concatenated, then
/// the number of tiles.
SmallVector<int64_t> tileStarts(const BitLinearConfig &config) {
  SmallVector<int64_t> starts{0};
  for (const BitLinearMatrix &matrix : config.matrices)
    starts.push_back(starts.back() + llvm::divideCeil(matrix.n, kTileRows));
  return starts;
}

/// A row tile of the matrices' tiles, concatenated (a SiLU pair's gate and
/// up tiles alternating): whether it exists, its matrix, its weights and its
/// index within them.
struct RowTile {
  Value valid, matrix, w, local;
};
RowTile rowTile(ImplicitLocOpBuilder &b, Value tile, bool odd,
                ArrayRef<BitLinearOperands> operands, const BitLinearConfig &config) {
  SmallVector<int64_t> firstTile = tileStarts(config);
  int64_t rowTiles = firstTile.back();
  RowTile t{lt(b, tile, i32(b, rowTiles)), i32(b, 0), operands[0].w, tile};
  if (config.siluPairs) {
    // Pair p's tiles alternate gate, up from firstTile[2p]; `odd` is the
    // tile's parity.
    t.local = arith::ShRUIOp::create(b, tile, i32(b, 1));
    if (odd)
      t.w = operands[1].w, t.matrix = i32(b, 1);
    for (size_t p = 2; p < operands.size(); p += 2) {
      Value inside = cmp(b, CmpIPredicate::sge, tile, i32(b, firstTile[p]));
      t.matrix = select(b, inside, i32(b, p + odd), t.matrix);
      t.w = select(b, inside, operands[p + odd].w, t.w);
      t.local = select(
          b, inside,
          arith::ShRUIOp::create(b, arith::SubIOp::create(b, tile, i32(b, firstTile[p])),
                                 i32(b, 1)),
          t.local);
    }
    return t;
  }
  for (size_t i = 1; i < operands.size(); ++i) {
    Value inside = cmp(b, CmpIPredicate::sge, tile, i32(b, firstTile[i]));
    t.matrix = select(b, inside, i32(b, i), t.matrix);
    t.w = select(b, inside, operands[i].w, t.w);
    t.local = select(b, inside, arith::SubIOp::create(b, tile, i32(b, firstTile[i])), t.local);
  }
  return t;
}

/// Whether `tile` is one of matrix i's and has `row`, of the matrix's n.
Value holdsRow(ImplicitLocOpBuilder &b, const RowTile &tile, int64_t i, Value row, int64_t n) {
  return arith::AndIOp::create(
      b, tile.valid,
      arith::AndIOp::create(b, cmp(b, CmpIPredicate::eq, tile.matrix, i32(b, i)),
                            lt(b, row, i32(b, n))));
}

/// A BitLinear output from Σ_{B=1} q (i32): (2·ones − Σ q) · ws · s.
Value scaledResult(ImplicitLocOpBuilder &b, Value ones, Value activationSum,
                   Value weightScale, Value tokenScale) {
  Value acc = arith::SubIOp::create(b, arith::ShLIOp::create(b, ones, i32(b, 1)),
                                    activationSum);
  return arith::MulFOp::create(
      b, arith::MulFOp::create(b, arith::SIToFPOp::create(b, b.getF32Type(), acc), weightScale),
      tokenScale);
}

/// The operands matrix i's results are stored through: a SiLU pair's (gate
/// 2j, up 2j + 1) go out through the up matrix's.
const BitLinearOperands &outputOperands(const BitLinearConfig &config,
                                        ArrayRef<BitLinearOperands> operands, size_t i) {
  return config.siluPairs ? operands[i + 1] : operands[i];
}

/// y[m, row] = [residual[m, row] +] result, of a matrix of n rows; the
/// residual's value `early` where the caller loaded it before.
void storeResult(ImplicitLocOpBuilder &b, const BitLinearOperands &o, int64_t n, Value m,
                 Value row, Value result, Value early = Value()) {
  Value out = add(b, mul(b, toI64(b, m), i64(b, n)), toI64(b, row));
  if (o.residual)
    result = arith::AddFOp::create(
        b, early ? early : load(b, b.getF32Type(), o.residual, out, 4), result);
  store(b, result, o.y, out, 4);
}

} // namespace

LaunchShape pquant::gpu::buildBitLinear(ImplicitLocOpBuilder &b, ValueRange args,
                                        const BitLinearConfig &config) {
  const int64_t k = config.k;
  const int64_t groups = bitGroups(k);
  const int64_t iterations = llvm::divideCeil(groups, 4); // of a warp, 4 groups each
  // Row tiles of all matrices, concatenated.
  const int64_t rowTiles = tileStarts(config).back();
  // The 8 warps of a block split the K of their row tiles: as many warps on
  // one tile as it has iterations, so every load is issued at once.
  const int64_t threads = config.threads;
  const int64_t warps = threads / kWarp;
  int64_t split = 1;
  while (split < warps && split < iterations)
    split *= 2;
  const int64_t warpSets = warps / split;
  // Unrolled iterations: in decode, all of a warp's up to 4 (its loads at
  // once, issued before the wait for the earlier kernels).
  const int64_t unroll = std::min<int64_t>(4, llvm::divideCeil(iterations, split));
  // In decode a warp takes several row tiles at the same columns, which share
  // its activation loads and put more bytes in flight per lane, while the
  // grid keeps two blocks per SM (256) and a lane at most 8 weight loads.
  constexpr int64_t kMinDecodeBlocks = 256;
  int64_t tilesPerWarp = 1;
  while (tilesPerWarp < 4 && 2 * tilesPerWarp * unroll <= 8 &&
         llvm::divideCeil(rowTiles, warpSets * tilesPerWarp * 2) >= kMinDecodeBlocks)
    tilesPerWarp *= 2;
  // A pair's gate and up tiles of the same rows are tiles 2j and 2j + 1 of
  // one warp.
  if (config.siluPairs)
    tilesPerWarp = std::max<int64_t>(tilesPerWarp, 2);
  assert(config.tokens == 1 && "several tokens take buildBitLinearMma");
  assert((!config.siluPairs || config.matrices.size() % 2 == 0) && "unpaired matrices");

  // With a prologue: x, [norm weight], [q, s]; else the activations in the
  // BitLinear layout, their sums and s.
  Value act, sums, s, storedQ, storedS;
  SmallVector<Value> prologueInputs;
  unsigned next = 0;
  if (config.prologue) {
    unsigned inputs = config.prologue->buffers();
    for (unsigned i = 0; i < inputs; ++i)
      prologueInputs.push_back(args[next++]);
    if (config.storeQuantized) {
      storedQ = args[next++];
      storedS = args[next++];
    }
  } else {
    act = args[next++];
    sums = args[next++];
    s = args[next++];
  }
  SmallVector<BitLinearOperands> operands = matrixOperands(args, next, config);
  Value count = toI32(b, args.back());
  Value partial = sharedMemory(b, config.name() + "_partial",
                               warps * tilesPerWarp * kTileRows * 4);

  Type i32Type = b.getI32Type(), f32Type = b.getF32Type();
  Value tid = threadIdx(b);
  Value lane = arith::AndIOp::create(b, tid, i32(b, 31));
  Value warp = arith::ShRUIOp::create(b, tid, i32(b, 5));
  Value ks = arith::RemUIOp::create(b, warp, i32(b, split));
  Value firstTileOfWarp = mul(
      b,
      add(b, mul(b, blockIdx(b, Dimension::x), i32(b, warpSets)),
          arith::DivUIOp::create(b, warp, i32(b, split))),
      i32(b, tilesPerWarp));
  // Per row tile of the warp: its matrix, the weights and the tile within;
  // a warp's first tile is even, so r's parity is the tile's.
  SmallVector<RowTile> tiles;
  for (int64_t r = 0; r < tilesPerWarp; ++r)
    tiles.push_back(rowTile(b, add(b, firstTileOfWarp, i32(b, r)), r % 2, operands, config));
  Value r8 = arith::AndIOp::create(b, lane, i32(b, 7));
  Value sub = arith::ShRUIOp::create(b, lane, i32(b, 3));
  Value token = blockIdx(b, Dimension::y);
  Value zeroQuad = arith::ConstantOp::create(
      b, quad(b), DenseElementsAttr::get(quad(b), int32_t(0)));

  // The weights of iteration j0 (of this warp's unrolled ones), per unrolled
  // iteration and tile, and the group each iteration reads (clamped).
  struct Batch {
    SmallVector<Value> weights, groups;
  };
  auto loadWeights = [&](ImplicitLocOpBuilder &b, Value j0) {
    Batch batch;
    for (int64_t u = 0; u < unroll; ++u) {
      Value g = add(b, mul(b, add(b, j0, i32(b, u * split)), i32(b, 4)), sub);
      Value inside = lt(b, g, i32(b, groups));
      for (const RowTile &t : tiles) {
        Value valid = arith::AndIOp::create(b, t.valid, inside);
        Value index = select(
            b, valid,
            add(b, mul(b, add(b, mul(b, toI64(b, t.local), i64(b, groups)), toI64(b, g)),
                       i64(b, kTileRows)),
                toI64(b, r8)),
            i64(b, 0));
        Value v = load(b, quad(b), t.w, index, 16, /*invariant=*/true);
        batch.weights.push_back(select(b, valid, v, zeroQuad));
      }
      batch.groups.push_back(arith::MinSIOp::create(b, g, i32(b, groups - 1)));
    }
    return batch;
  };
  // A block past M reads the last token and stores nothing.
  Value tokenRow =
      arith::MinSIOp::create(b, token, arith::SubIOp::create(b, count, i32(b, 1)));
  auto accumulate = [&](ImplicitLocOpBuilder &b, const Batch &batch, ValueRange acc) {
    SmallVector<Value> next(acc.begin(), acc.end());
    for (int64_t u = 0; u < unroll; ++u) {
      // In 16-byte units.
      Value base = config.prologue
                       ? mul(b, toI64(b, batch.groups[u]), i64(b, kSharedGroupBytes / 16))
                       : add(b, mul(b, toI64(b, tokenRow), i64(b, groups * 8)),
                             mul(b, toI64(b, batch.groups[u]), i64(b, 8)));
      // Not through the non-coherent cache: the kernel before, which
      // writes them, may still run when this one starts.
      SmallVector<Value> a;
      for (int64_t v = 0; v < 8; ++v)
        a.push_back(load(b, quad(b), act, add(b, base, i64(b, v)), 16));
      for (int64_t r = 0; r < tilesPerWarp; ++r) {
        Value weights = batch.weights[u * tilesPerWarp + r];
        for (int64_t wg = 0; wg < 4; ++wg) {
          Value word = extract(b, weights, wg);
          for (int64_t i = 0; i < 8; ++i) {
            Value masked = arith::AndIOp::create(
                b, word, i32(b, int64_t(0x01010101u << i)));
            int64_t index = wg * 8 + i;
            Value &slot = next[r * 8 + i];
            slot = dot4(b, masked, /*unsignedA=*/true,
                        extract(b, a[index / 4], index % 4), slot);
          }
        }
      }
    }
    return next;
  };

  // The first batch of weights is in flight before the wait: it depends on
  // no earlier kernel.
  Batch first = loadWeights(b, ks);
  // The epilogue's operands are loaded early too, so that their latency hides
  // behind the products: per tile r, the weight scale (a constant) before the
  // wait, and the residual of its row (an earlier kernel's output) right after
  // it. Rows a lane stores nothing for read row 0.
  auto tileRow = [&](ImplicitLocOpBuilder &b, const RowTile &tile) {
    return add(b, mul(b, tile.local, i32(b, kTileRows)), r8);
  };
  SmallVector<Value> weightScales;
  for (const RowTile &tile : tiles) {
    Value row = tileRow(b, tile);
    Value scales = operands[0].ws, index = i32(b, 0);
    for (auto [i, info] : llvm::enumerate(config.matrices)) {
      if (i > 0)
        scales = select(b, cmp(b, CmpIPredicate::eq, tile.matrix, i32(b, i)), operands[i].ws,
                        scales);
      if (info.perRowScale)
        index = select(b, holdsRow(b, tile, i, row, info.n), row, index);
    }
    weightScales.push_back(load(b, f32Type, scales, index, 4, /*invariant=*/true));
  }
  std::optional<QuantizePrologue> prologue;
  if (config.prologue) {
    prologue.emplace(prologueInputs, k, *config.prologue, threads, config.name());
    prologue->loadConstants(b);
  }
  waitForPriorKernels(b);
  // residuals[r][i]: tile r's row of matrix i's residual, where it stores
  // one (a pair's results: its gate tile, through its gate matrix's index).
  SmallVector<SmallVector<Value>> residuals;
  for (auto [r, tile] : llvm::enumerate(tiles)) {
    Value row = tileRow(b, tile);
    residuals.emplace_back();
    for (auto [i, info] : llvm::enumerate(config.matrices)) {
      if ((config.siluPairs && (r % 2 || i % 2)) || !outputOperands(config, operands, i).residual) {
        residuals.back().push_back(Value());
        continue;
      }
      const BitLinearOperands &o = outputOperands(config, operands, i);
      Value safe = select(b, holdsRow(b, tile, i, row, info.n), row, i32(b, 0));
      residuals.back().push_back(
          load(b, f32Type, o.residual,
               add(b, mul(b, toI64(b, tokenRow), i64(b, info.n)), toI64(b, safe)), 4));
    }
  }
  Value tokenScale, tokenSum;
  if (prologue) {
    // The token's activations, quantized by this block into shared memory.
    act = sharedMemory(b, config.name() + "_act", groups * kSharedGroupBytes);
    Value storer = arith::AndIOp::create(
        b, cmp(b, CmpIPredicate::eq, blockIdx(b, Dimension::x), i32(b, 0)),
        cmp(b, CmpIPredicate::eq, blockIdx(b, Dimension::y), i32(b, 0)));
    std::tie(tokenScale, tokenSum) =
        prologue->run(b, act, storedQ, storedS, storer, /*bitLayout=*/true);
  } else {
    tokenScale = load(b, f32Type, s, tokenRow, 4);
    tokenSum = load(b, i32Type, sums, tokenRow, 4);
  }
  SmallVector<Value> accs =
      accumulate(b, first, SmallVector<Value>(tilesPerWarp * 8, i32(b, 0)));
  // Later batches, where a warp has more than one.
  if (split * unroll < iterations)
    accs = llvm::to_vector(forLoop(
        b, add(b, ks, i32(b, split * unroll)), i32(b, iterations),
        i32(b, split * unroll), accs,
        [&](ImplicitLocOpBuilder &b, Value j0, ValueRange acc) {
          return accumulate(b, loadWeights(b, j0), acc);
        }));

  // Σ_{B=1} q per tile: accumulator i holds 2^i times its share.
  auto partialSlot = [&](ImplicitLocOpBuilder &b, Value w, int64_t r) {
    return add(b, mul(b, add(b, mul(b, w, i32(b, tilesPerWarp)), i32(b, r)), i32(b, 8)), r8);
  };
  for (int64_t r = 0; r < tilesPerWarp; ++r) {
    Value ones = i32(b, 0);
    for (int64_t i = 0; i < 8; ++i)
      ones = add(b, ones, arith::ShRSIOp::create(b, accs[r * 8 + i], i32(b, i)));
    ones = add(b, ones, shuffleXor(b, ones, 8));
    ones = add(b, ones, shuffleXor(b, ones, 16));
    ifThen(b, cmp(b, CmpIPredicate::ult, lane, i32(b, 8)), [&](ImplicitLocOpBuilder &b) {
      store(b, ones, partial, partialSlot(b, warp, r), 4);
    });
  }
  mlir::gpu::BarrierOp::create(b);
  Value leader = arith::AndIOp::create(b, cmp(b, CmpIPredicate::eq, ks, i32(b, 0)),
                                       cmp(b, CmpIPredicate::ult, lane, i32(b, 8)));
  // Tile r's output of row `row` of matrix i: (2·Σ_{B=1} q − Σ q) · ws · s.
  auto resultOf = [&](ImplicitLocOpBuilder &b, int64_t r) {
    Value total = i32(b, 0);
    for (int64_t part = 0; part < split; ++part)
      total = add(b, total,
                  load(b, i32Type, partial, partialSlot(b, add(b, warp, i32(b, part)), r), 4));
    return scaledResult(b, total, tokenSum, weightScales[r], tokenScale);
  };
  ifThen(b, leader, [&](ImplicitLocOpBuilder &b) {
    for (auto [tileIndex, tile] : llvm::enumerate(tiles)) {
      // Copies: lambdas below cannot capture structured bindings (C++17).
      size_t r = tileIndex;
      // A pair's results are stored by its gate tile's lanes.
      if (config.siluPairs && r % 2)
        continue;
      Value row = tileRow(b, tile);
      for (auto [matrixIndex, info] : llvm::enumerate(config.matrices)) {
        size_t i = matrixIndex;
        if (config.siluPairs && i % 2)
          continue;
        const BitLinearOperands &o = outputOperands(config, operands, i);
        int64_t n = info.n;
        ifThen(b, holdsRow(b, tile, i, row, n), [&](ImplicitLocOpBuilder &b) {
          ifThen(b, lt(b, token, count), [&](ImplicitLocOpBuilder &b) {
            Value result = resultOf(b, r);
            if (config.siluPairs)
              result = siluMul(b, result, resultOf(b, r + 1));
            storeResult(b, o, n, token, row, result, residuals[r][i]);
          });
        });
      }
    }
  });

  LaunchShape shape;
  shape.gridX = llvm::divideCeil(rowTiles, warpSets * tilesPerWarp);
  shape.tokensPerBlockY = 1;
  shape.block = threads;
  // Decode is latency-bound: 4 blocks of 256 threads per SM (64 registers
  // a thread, all of a lane's loads in flight), fewer with several tiles per
  // warp or larger blocks.
  shape.minBlocksPerSM = std::max<int64_t>(1, 4 * kThreads / threads / tilesPerWarp);
  return shape;
}

LaunchShape pquant::gpu::buildBitLinearMma(ImplicitLocOpBuilder &b, ValueRange args,
                                           const BitLinearConfig &config) {
  assert(!config.prologue && config.tokens == kMmaTokens && config.threads == kThreads &&
         "the tensor-core kernel is prefill's");
  const int64_t groups = bitGroups(config.k);
  const int64_t rowTiles = tileStarts(config).back();
  const int64_t warps = kThreads / kWarp, tokenTiles = kMmaTokens / 8;
  unsigned next = 0;
  Value act = args[next++], sums = args[next++], s = args[next++];
  SmallVector<BitLinearOperands> operands = matrixOperands(args, next, config);
  Value count = toI32(b, args.back());
  Type i32Type = b.getI32Type(), f32Type = b.getF32Type();

  // Lane 4g + t: row g of each of the warp's two row tiles (the product's
  // rows g and g + 8), tokens g of each group of 8 (its columns).
  Value tid = threadIdx(b);
  Value lane = arith::AndIOp::create(b, tid, i32(b, 31));
  Value warp = arith::ShRUIOp::create(b, tid, i32(b, 5));
  Value g = arith::ShRUIOp::create(b, lane, i32(b, 2));
  Value t = arith::AndIOp::create(b, lane, i32(b, 3));
  Value firstTile =
      mul(b, add(b, mul(b, blockIdx(b, Dimension::x), i32(b, warps)), warp), i32(b, 2));
  SmallVector<RowTile> tiles;
  for (int64_t r = 0; r < 2; ++r)
    tiles.push_back(rowTile(b, add(b, firstTile, i32(b, r)), r, operands, config));
  Value firstToken = mul(b, blockIdx(b, Dimension::y), i32(b, kMmaTokens));
  Value lastToken = arith::SubIOp::create(b, count, i32(b, 1));
  SmallVector<Value> tokenRows; // the lane's token of each group of 8, clamped
  for (int64_t j = 0; j < tokenTiles; ++j)
    tokenRows.push_back(arith::MinSIOp::create(
        b, add(b, firstToken, add(b, g, i32(b, 8 * j))), lastToken));

  waitForPriorKernels(b);
  // Per 128-column group: the lane's weight word t of rows g of both tiles,
  // and i32s 8t .. 8t + 7 of its tokens' activations (columns 32t + {i, 8 +
  // i, 16 + i, 24 + i}, i = 0..7). Step `step` multiplies i = 2·step (k =
  // 4t .. 4t + 3) and i = 2·step + 1 (16 + those): bits i, 8 + i, 16 + i,
  // 24 + i of the word, as bytes 0 or 1, against those columns' activations.
  Value zero = i32(b, 0);
  SmallVector<Value> acc(4 * tokenTiles, zero);
  acc = llvm::to_vector(forLoop(
      b, zero, i32(b, groups), i32(b, 1), acc,
      [&](ImplicitLocOpBuilder &b, Value group, ValueRange carried) {
        SmallVector<Value> next(carried.begin(), carried.end());
        SmallVector<Value> words;
        for (const RowTile &tile : tiles) {
          Value index = add(
              b,
              mul(b, add(b, mul(b, add(b, mul(b, toI64(b, tile.local), i64(b, groups)),
                                       toI64(b, group)),
                                i64(b, kTileRows)),
                         toI64(b, g)),
                  i64(b, kTileWords)),
              toI64(b, t));
          Value word = load(b, i32Type, tile.w, select(b, tile.valid, index, i64(b, 0)), 4,
                            /*invariant=*/true);
          words.push_back(select(b, tile.valid, word, zero));
        }
        SmallVector<std::array<Value, 2>> activations;
        for (Value m : tokenRows) {
          // In 16-byte units; not through the non-coherent cache (the kernel
          // before writes them).
          Value base = add(b, mul(b, toI64(b, m), i64(b, groups * 8)),
                           add(b, mul(b, toI64(b, group), i64(b, 8)),
                               mul(b, toI64(b, t), i64(b, 2))));
          activations.push_back({load(b, quad(b), act, base, 16),
                                 load(b, quad(b), act, add(b, base, i64(b, 1)), 16)});
        }
        auto bits = [&](Value word, int64_t i) {
          return arith::AndIOp::create(b, arith::ShRUIOp::create(b, word, i32(b, i)),
                                       i32(b, 0x01010101));
        };
        for (int64_t step = 0; step < 4; ++step) {
          SmallVector<Value> a{bits(words[0], 2 * step), bits(words[1], 2 * step),
                               bits(words[0], 2 * step + 1), bits(words[1], 2 * step + 1)};
          for (int64_t j = 0; j < tokenTiles; ++j) {
            Value half = activations[j][step / 2];
            SmallVector<Value> c{extract(b, half, 2 * (step % 2)),
                                 extract(b, half, 2 * (step % 2) + 1)};
            auto d = mmaU8S8(b, a, c, ArrayRef<Value>(next).slice(4 * j, 4));
            std::copy(d.begin(), d.end(), next.begin() + 4 * j);
          }
        }
        return next;
      }));

  // acc[4j + 2r + e] is Σ_{B=1} q of row g of tile r for token 8j + 2t + e.
  for (int64_t j = 0; j < tokenTiles; ++j) {
    for (int64_t e = 0; e < 2; ++e) {
      Value m = add(b, firstToken, add(b, mul(b, t, i32(b, 2)), i32(b, 8 * j + e)));
      ifThen(b, lt(b, m, count), [&](ImplicitLocOpBuilder &b) {
        Value tokenScale = load(b, f32Type, s, m, 4);
        Value activationSum = load(b, i32Type, sums, m, 4);
        auto resultOf = [&](ImplicitLocOpBuilder &b, int64_t r, int64_t i, Value row) {
          Value scale = load(b, f32Type, operands[i].ws,
                             config.matrices[i].perRowScale ? row : i32(b, 0), 4);
          return scaledResult(b, acc[4 * j + 2 * r + e], activationSum, scale, tokenScale);
        };
        for (int64_t r = 0; r < 2; ++r) {
          // A pair's gate (tile 0) and up (tile 1) rows are the same rows.
          if (config.siluPairs && r == 1)
            break;
          const RowTile &tile = tiles[r];
          Value row = add(b, mul(b, tile.local, i32(b, kTileRows)), g);
          for (auto [matrixIndex, info] : llvm::enumerate(config.matrices)) {
            size_t i = matrixIndex; // lambdas cannot capture bindings (C++17)
            if (config.siluPairs && i % 2)
              continue;
            int64_t n = info.n;
            ifThen(b, holdsRow(b, tile, i, row, n), [&](ImplicitLocOpBuilder &b) {
              Value result = resultOf(b, r, i, row);
              if (config.siluPairs)
                result = siluMul(b, result, resultOf(b, 1, i + 1, row));
              storeResult(b, outputOperands(config, operands, i), n, m, row, result);
            });
          }
        }
      });
    }
  }

  LaunchShape shape;
  shape.gridX = llvm::divideCeil(rowTiles, 2 * warps);
  shape.tokensPerBlockY = kMmaTokens;
  return shape;
}

LaunchShape pquant::gpu::buildInt8Linear(ImplicitLocOpBuilder &b, ValueRange args,
                                         int64_t n, int64_t k, int64_t experts,
                                         std::optional<int64_t> slot,
                                         int64_t topK, int64_t count,
                                         const Int8Extras &extras) {
  // (q, s, w_0, ws_0, ..., w_{count-1}, ws_{count-1}, [ids,] [binary, [gates,]
  // [residual,]] y_0, ..., y_{count-1}; M); with a prologue, its inputs
  // instead of q and s.
  unsigned inputs = 2;
  if (extras.prologue)
    inputs = extras.prologue->buffers();
  assert((!extras.combine || count == 1) && "a combine epilogue needs one matrix");
  Value q = extras.prologue ? Value() : args[0], s = extras.prologue ? Value() : args[1];
  Value ids = slot ? args[inputs + 2 * count] : Value();
  unsigned firstOutput = inputs + 2 * count + (slot ? 1 : 0);
  Value binary, gates, residual;
  if (extras.combine) {
    binary = args[firstOutput++];
    if (extras.combine->gateWeighting)
      gates = args[firstOutput++];
    if (extras.combine->residual)
      residual = args[firstOutput++];
  }
  const int64_t chunkBytes = k % 16 == 0 ? 16 : k % 4 == 0 ? 4 : 1;
  const int64_t chunks = k / chunkBytes;
  const int64_t lanes = lanesFor(chunks);
  const int64_t rowsPerWarp = kWarp / lanes;
  const int64_t rowsPerBlock = (kThreads / kWarp) * rowsPerWarp;
  const int64_t blocksPerMatrix = llvm::divideCeil(n, rowsPerBlock);
  const int64_t unroll = 4;
  Type i32Type = b.getI32Type(), f32Type = b.getF32Type();

  Value tid = threadIdx(b);
  Value lane = arith::AndIOp::create(b, tid, i32(b, 31));
  Value warp = arith::ShRUIOp::create(b, tid, i32(b, 5));
  Value m = blockIdx(b, Dimension::y);
  // Blocks [i·B, (i+1)·B) compute matrix i.
  Value block = blockIdx(b, Dimension::x);
  Value matrix = arith::DivUIOp::create(b, block, i32(b, blocksPerMatrix));
  Value w = args[inputs], ws = args[inputs + 1], y = args[firstOutput];
  for (int64_t i = 1; i < count; ++i) {
    Value mine = cmp(b, CmpIPredicate::eq, matrix, i32(b, i));
    w = select(b, mine, args[inputs + 2 * i], w);
    ws = select(b, mine, args[inputs + 1 + 2 * i], ws);
    y = select(b, mine, args[firstOutput + i], y);
  }
  Value scaleOfToken;
  if (extras.prologue) {
    // The token's q, quantized by this block into shared memory.
    std::string name = llvm::formatv("int8_prologue_{0}x{1}_{2}{3}", n, k,
                                     extras.prologue->name(), count)
                           .str();
    q = sharedMemory(b, name + "_q", llvm::alignTo(k, 16));
    QuantizePrologue prologue(args.take_front(inputs), k, *extras.prologue, kThreads, name);
    prologue.loadConstants(b);
    scaleOfToken = prologue.run(b, q, Value(), Value(), Value(), /*bitLayout=*/false).first;
  }
  block = arith::RemUIOp::create(b, block, i32(b, blocksPerMatrix));
  Value row = add(b, add(b, mul(b, block, i32(b, rowsPerBlock)),
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
  Value qBase = extras.prologue ? i64(b, 0) : mul(b, toI64(b, m), i64(b, chunks));
  // The epilogue's operands before the products, so that their latency hides
  // behind them: the row's and the token's scale, and the combine's binary
  // output, gate and residual (rows past n read row n − 1 and store nothing).
  Value scale = load(b, f32Type, ws, weightRow, 4, /*invariant=*/true);
  Value tokenScale = scaleOfToken ? scaleOfToken : load(b, f32Type, s, m, 4);
  Value out = add(b, mul(b, toI64(b, m), i64(b, n)), toI64(b, safeRow));
  Value binaryValue, gateValue, residualValue;
  if (extras.combine) {
    binaryValue = load(b, f32Type, binary, out, 4);
    if (gates)
      gateValue = load(b, f32Type, gates, m, 4);
    if (residual)
      residualValue = load(b, f32Type, residual, out, 4);
  }

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
           Value result = arith::MulFOp::create(
               b,
               arith::MulFOp::create(b, arith::SIToFPOp::create(b, f32Type, acc), scale),
               tokenScale);
           if (extras.combine) {
             // As pquant.combine: y8 = 0 + g · y from zero, then α · y8 + β · y1.
             Value term = result;
             if (gates)
               term = arith::MulFOp::create(b, gateValue, term);
             Value mixed = arith::AddFOp::create(b, f32(b, 0.0), term);
             result = arith::AddFOp::create(
                 b, arith::MulFOp::create(b, f32(b, extras.combine->alpha), mixed),
                 arith::MulFOp::create(b, f32(b, extras.combine->beta), binaryValue));
             if (residual)
               result = arith::AddFOp::create(b, residualValue, result);
           }
           store(b, result, y, out, 4);
         });
  LaunchShape shape;
  shape.gridX = blocksPerMatrix * count;
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
