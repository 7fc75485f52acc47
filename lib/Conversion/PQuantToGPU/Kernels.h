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

#include <string>

namespace pquant::gpu {

/// Threads of most kernels' blocks (8 warps).
constexpr int64_t kThreads = 256;
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
};

/// (x: [M, K] f32, q: [M, K] i8, s: [M] f32; M): per-token absmax
/// quantization. One block per token.
LaunchShape buildQuantize(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                          int64_t k);

struct BitLinearConfig {
  int64_t n, k;
  bool perRowScale;
  /// Tokens per block: 1 for decode, more to reuse weights in prefill.
  int64_t tokens;
  /// Adds a residual input to the result: y = residual + linear.
  bool residual;
  std::string name() const;
};
/// (q: [M, K] i8, s: [M] f32, w: packed [ceil(N/8), G, 8, 4] i32,
/// ws: [1] or [N] f32, [residual: [M, N] f32,] y: [M, N] f32; M).
/// Σ_k B·q = 2·Σ_{B=1} q − Σ q; the first sum by dp4a: the activations of
/// each 32-column word are staged in shared memory permuted so that bytes
/// {i, 8+i, 16+i, 24+i} share an i32, which makes `word & (0x01010101 << i)`
/// the matching weight bytes (0 or 2^i), accumulated per i and shifted back.
LaunchShape buildBitLinear(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                           const BitLinearConfig &config);

/// (q: [M, K] i8, s: [M] f32, w: [E, N, K] i8, ws: [E, N] f32,
/// [experts: [M, topK] i32,] y: [M, N] f32; M). Without experts, E = 1;
/// with them, token m reads expert experts[m, slot] only. dp4a over 16-byte
/// loads of weights and activations.
LaunchShape buildInt8Linear(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                            int64_t n, int64_t k, int64_t experts,
                            std::optional<int64_t> slot, int64_t topK);

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
/// (q: [M, H, Dh] f32, keys, values: [L, S, Hkv, Dh] f32, start, y: [M, H,
/// Dh] f32; M): causal grouped-query attention over rows 0 .. start + m.
/// One block per (head, token).
LaunchShape buildAttention(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                           llvm::StringRef name, const AttentionConfig &config);

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
/// (binary: [M, D], experts_0..k-1: [M, D], [gates: [M, k],] y: [M, D]; M).
LaunchShape buildCombine(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                         int64_t width, int64_t count, bool gateWeighting,
                         float alpha, float beta);

} // namespace pquant::gpu

#endif // PQUANT_LIB_CONVERSION_PQUANTTOGPU_KERNELS_H
