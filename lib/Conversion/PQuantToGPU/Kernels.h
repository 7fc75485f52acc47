//===- Kernels.h - GPU kernel body builders ---------------------*- C++ -*-===//
//
// One builder per kernel. Each fills the body of a gpu.func whose
// parameters, given in `args`, are global pointers (!llvm.ptr<1>) to the
// buffers in the order documented on the builder, then i64 scalars; the
// last parameter is always M, the number of tokens. Each builder also says
// how it is launched (grid and block), which the host code follows.
//
// Buffers are dense and row-major; the first dimension of an activation is
// the token.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_LIB_CONVERSION_PQUANTTOGPU_KERNELS_H
#define PQUANT_LIB_CONVERSION_PQUANTTOGPU_KERNELS_H

#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <optional>
#include <string>

namespace pquant::gpu {

/// Threads of the linear kernels' blocks (8 warps).
constexpr int64_t kThreads = 256;
/// Threads of the kernels that work on one token's row per block (norms,
/// quantize, RoPE, ...): at M = 1 one block is all there is.
constexpr int64_t kRowThreads = 1024;
/// The layout BitLinear kernels read (pquant-pack-weights word=32
/// tile-rows=8 tile-words=4): 8 rows × 4 words = 8 × 128 columns per tile,
/// one 16-byte load per row, so a warp reads 4 consecutive tiles, 512
/// contiguous bytes.
constexpr unsigned kWordBits = 32;
constexpr int64_t kTileRows = 8, kTileWords = 4;

/// How a kernel is launched: grid x = gridX · ceil(M / tokensPerBlockX)
/// (gridX alone when tokensPerBlockX is 0), likewise y; a 1-D block.
struct LaunchShape {
  int64_t gridX = 1, tokensPerBlockX = 0;
  int64_t gridY = 1, tokensPerBlockY = 0;
  int64_t block = kThreads;
  /// Blocks that must fit on one SM at once (registers are limited to
  /// allow it; nvvm.minctasm), or 0.
  int64_t minBlocksPerSM = 0;
};

/// 128-column groups of K: the unit of the BitLinear kernels' K loop.
int64_t bitGroups(int64_t k);

/// What a quantize kernel quantizes: its input, or the result of the op
/// fused into it, computed into shared memory first.
struct QuantizeInput {
  enum Kind { Plain, Norm, SiluMul } kind = Plain;
  bool hasWeight = false, f16Weight = false; // Norm
  float eps = 0;                             // Norm
  /// Norm, decode linear prologues only: the norm's input is itself an RMS
  /// norm of the buffer read (x), computed in registers as buildRMSNorm
  /// computes it (so the linear need not wait for the kernel writing it).
  bool preNorm = false;
  bool preHasWeight = false, preF16Weight = false;
  float preEps = 0;
  /// Buffers read: x, or gate and up; then the pre-norm's weight and the
  /// norm's weight, where they have one.
  unsigned buffers() const {
    if (kind == SiluMul)
      return 2;
    return 1 + (kind == Norm && preNorm && preHasWeight) + (kind == Norm && hasWeight);
  }
  std::string name() const;
};
/// (inputs, q: [M, K] i8, s: [M] f32, [act: [M, G·32] i32, sums: [M] i32];
/// M): per-token absmax quantization, one block per token, of x: [M, K] f32
/// (Plain), rms_norm(x, [weight: [K] f32 or f16]) (Norm) or silu(gate) · up
/// (SiluMul, gate and up [M, K] f32). With `forBitLinear`, also the
/// activations in the layout BitLinear kernels read (see buildBitLinear),
/// zero-padded to G groups, and Σ_k q.
LaunchShape buildQuantize(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                          int64_t k, bool forBitLinear,
                          const QuantizeInput &input = QuantizeInput());

/// (q: [M, K] i8, act: [M, G·32] i32, sums: [M] i32; M): that layout for
/// int8 activations no quantize kernel produced.
LaunchShape buildBitLinearPrepare(mlir::ImplicitLocOpBuilder &b,
                                  mlir::ValueRange args, int64_t k);

struct BitLinearMatrix {
  int64_t n;
  bool perRowScale;
  /// y = residual + linear (a residual add folded into the kernel).
  bool residual;
};
/// Several BitLinears of one input (q, k and v; gate and up) in one launch.
struct BitLinearConfig {
  int64_t k;
  /// Tokens per block: 1 for decode, more to reuse weights in prefill.
  int64_t tokens;
  llvm::SmallVector<BitLinearMatrix, 3> matrices;
  /// Decode only: every block quantizes the token's f32 input itself (x, or
  /// rms_norm(x, [weight])) into shared memory, after issuing its first
  /// weight loads, instead of reading a quantize kernel's output.
  std::optional<QuantizeInput> prologue;
  /// With a prologue: block 0 also stores q and s for other consumers.
  bool storeQuantized = false;
  /// Threads of a block: kThreads, or kRowThreads with a prologue, so that
  /// fewer blocks repeat it and each thread quantizes fewer columns.
  int64_t threads = kThreads;
  /// Matrices come in pairs (gate, up) of equal N whose outputs are not
  /// stored; the kernel stores silu(gate) · up of each pair instead, to the
  /// pair's second output.
  bool siluPairs = false;
  std::string name() const;
};
/// (act: [M, G·32] i32, sums: [M] i32, s: [M] f32, then per matrix: w:
/// packed [ceil(N/8), G, 8, 4] i32, ws: [1] or [N] f32, [residual: [M, N]
/// f32,] y: [M, N] f32; M); with a prologue, (x: [1, K] f32, [norm weight,]
/// [q: [1, K] i8, s: [1] f32,] then per matrix as above; M). Σ_k B·q = 2·Σ_{B=1} q − Σ q. In `act`, the four
/// bytes of i32 number 8w + i of group g are the activations of columns
/// 128g + 32w + {i, 8+i, 16+i, 24+i}, so for weight word w of the group,
/// `word & (0x01010101 << i)` holds the matching weights as bytes 0 or 2^i:
/// 8 dp4a per word, one accumulator per i, shifted back at the end. A lane
/// reads 16 bytes of one row of a tile (its group of 4 words) and the
/// group's 128 activation bytes; the 8 warps of a block split the row
/// tiles' K; no shared memory but for the final sums. A warp's first loads
/// of weights are issued before the kernel waits for the one before
/// (waitForPriorKernels); in decode a warp may take up to 4 row tiles at the
/// same columns, which share the activation loads. One token (decode):
/// several take buildBitLinearMma.
LaunchShape buildBitLinear(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                           const BitLinearConfig &config);

/// Tokens per block of the tensor-core BitLinear kernel (prefill).
constexpr int64_t kMmaTokens = 32;
/// The BitLinear for several tokens (prefill) on the tensor cores, with
/// `buildBitLinear`'s parameters and config.tokens == kMmaTokens (no
/// prologue): a warp multiplies two row tiles (16 rows) by 32 tokens with
/// mma.sync m16n8k32 (weights as unsigned bytes 0 or 1, activations signed),
/// over all of K: per 128-column group, a lane's weight word t of its row of
/// each tile gives, shifted by i and masked with 0x01010101, the weights of
/// columns 32t + {i, 8 + i, 16 + i, 24 + i}, the four activation bytes of
/// i32 number 8t + i of the group in the BitLinear activation layout, so
/// both fragments come straight from the layouts the GEMV reads.
LaunchShape buildBitLinearMma(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                              const BitLinearConfig &config);

/// (q: [M, K] i8, s: [M] f32, then `count` times w: [E, N, K] i8, ws: [E,
/// N] f32, then [experts: [M, topK] i32,] then `count` times y: [M, N] f32;
/// M). Without experts, E = 1; with them, token m reads expert
/// experts[m, slot] only. dp4a over 16-byte loads of weights and
/// activations. Several matrices of one input (an expert's gate and up) are
/// one launch.
///
/// With extras.prologue (decode), q and s are replaced by the quantize's
/// inputs (x, or gate and up), which every block quantizes itself into
/// shared memory. With extras.combine (count 1), y is that of the FFN's
/// combine of this expert output (slot 0 of top-1 routing) and binary:
/// buffers binary: [M, N], [gates: [M, 1],] [residual: [M, N],] come before
/// y, and y = [residual +] α · (0 + [g ·] y8) + β · binary, as pquant.combine.
struct Int8Extras {
  std::optional<QuantizeInput> prologue;
  struct CombineEpilogue {
    bool gateWeighting;
    float alpha, beta;
    bool residual;
  };
  std::optional<CombineEpilogue> combine;
};
LaunchShape buildInt8Linear(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                            int64_t n, int64_t k, int64_t experts,
                            std::optional<int64_t> slot, int64_t topK,
                            int64_t count = 1, const Int8Extras &extras = {});

/// (x: [M, K] f32, w: [N, K] f32 or f16, y: [M, N] f32; M): y = x · wᵀ with
/// f32 accumulation; each weight row is reused by `tokens` tokens.
LaunchShape buildFloatLinear(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                             int64_t n, int64_t k, bool f16, int64_t tokens);

/// (table: [V, D] f32 or f16, tokens: [M] i32, y: [M, D] f32; M).
LaunchShape buildEmbedding(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                           int64_t vocab, int64_t width, bool f16);

/// (x: [M, D] f32, [weight: [D] f32 or f16,] y: [M, D] f32; M): RMS norm,
/// mean of squares accumulated in f64.
LaunchShape buildRMSNorm(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                         int64_t width, bool hasWeight, bool f16Weight,
                         float eps);

/// (start: i64 on the device, positions: [M] i32; M): start + m.
LaunchShape buildPositions(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args);

/// (x: [M, H, Dh] f32, positions: [M] i32, y: [M, H, Dh] f32; M).
LaunchShape buildRoPE(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                      llvm::StringRef name, int64_t heads, int64_t headDim,
                      double theta);

struct AttentionConfig {
  int64_t heads, kvHeads, headDim, rows, layer;
};
/// (k, v: [M, Hkv, Dh] f32, keys, values: [L, S, Hkv, Dh] f32, start: i64
/// on the device; M): rows start + m of layer `layer` (rows past S dropped).
LaunchShape buildCacheWrite(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                            const AttentionConfig &config);
/// (q, k: [M, H or Hkv, Dh] f32, v: [M, Hkv, Dh] f32, positions: [M] i32,
/// keys, values: [L, S, Hkv, Dh] f32, start: i64 on the device, q': [M, H,
/// Dh] f32; M): RoPE of q into q', RoPE of k into the key cache and v into
/// the value cache (rows start + m): the two rope ops and the cache write
/// before an attention, one kernel.
LaunchShape buildRoPECacheWrite(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                                llvm::StringRef name, const AttentionConfig &config,
                                double theta);
/// (q: [M, H, Dh] f32, keys, values: [L, S, Hkv, Dh] f32, start, y: [M, H,
/// Dh] f32; M): causal grouped-query attention over rows 0 .. start + m.
/// One block per (head, token). With `ropeTheta` (M = 1 only: blocks of
/// other tokens would read rows not yet written), (q, k: [M, H or Hkv, Dh]
/// f32, v: [M, Hkv, Dh] f32, positions: [M] i32, keys, values, start, y; M):
/// each block also does rope_cache_write's work for its head and kv head
/// first.
LaunchShape buildAttention(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                           llvm::StringRef name, const AttentionConfig &config,
                           std::optional<double> ropeTheta = std::nullopt);

/// (a, c: [M, D] f32, y: [M, D] f32; M): y = a + c.
LaunchShape buildAdd(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                     int64_t width);
/// (gate, up: [M, F] f32, y: [M, F] f32; M): silu(gate) · up.
LaunchShape buildSiluMul(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                         int64_t width);
/// (h: [M, D] f32, w: [E, D] f32, experts: [M, k] i32, gates: [M, k] f32; M).
LaunchShape buildRouter(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                        llvm::StringRef name, int64_t width, int64_t experts,
                        int64_t topK);
/// (x: [M, D] f32, [weight: [D] f32 or f16,] h: [M, D] f32, w: [E, D] f32,
/// experts: [M, k] i32, gates: [M, k] f32; M): h = RMS norm of x, and the
/// router of h, one block per token: a thread's columns of x and of the
/// router's weights (loaded before the wait for the kernel before) stay in
/// registers; the logits are summed in f64 per thread, warp, then block.
LaunchShape buildNormRouter(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                            llvm::StringRef name, int64_t width, bool hasWeight,
                            bool f16Weight, float eps, int64_t experts, int64_t topK);
/// (binary: [M, D], experts_0..k-1: [M, D], [gates: [M, k],] [residual:
/// [M, D],] y: [M, D]; M); with a residual, y = residual + combination.
LaunchShape buildCombine(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                         int64_t width, int64_t count, bool gateWeighting,
                         float alpha, float beta, bool residual = false);

} // namespace pquant::gpu

#endif // PQUANT_LIB_CONVERSION_PQUANTTOGPU_KERNELS_H
