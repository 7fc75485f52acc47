//===- Kernels.h - kernel body builders -------------------------*- C++ -*-===//
//
// One builder per kernel. Each fills the body of a func.func whose
// arguments, all memrefs, are given in `args` in the order documented on the
// builder: inputs first, then the outputs it writes.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_LIB_CONVERSION_PQUANTTOKERNELS_KERNELS_H
#define PQUANT_LIB_CONVERSION_PQUANTTOKERNELS_KERNELS_H

#include "pquant/Dialect/PQuant/IR/PQuantAttributes.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace pquant::kernels {

/// (x: [M, K] f32, q: [M, K] i8, s: [M] f32): per-token absmax quantize.
void buildQuantize(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args);

/// (q: [M, K] i8, s: [M] f32, w: packed, ws: [1] or [N] f32, y: [M, N] f32,
/// scratch...) BitLinear by bit-serial AND + popcount over the 8 bit-planes
/// of q: Σ B·q = 2·Σ_{B=1} q − Σ q. Needs 64-bit words and tile = [R, 1].
void buildBitSerialLinear(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                          PackedLayoutAttr layout);
/// The scratch buffers buildBitSerialLinear takes: the bit-planes
/// [M, 8, words] i64 and the activation sums [M] i32.
llvm::SmallVector<mlir::MemRefType, 2>
bitSerialScratch(mlir::MLIRContext *context, PackedLayoutAttr layout);

/// How far ahead of the weights they read the GEMV kernels (and the float
/// linear, whose f32 lm_head is the largest tensor) prefetch: the
/// core consumes weights faster than the hardware prefetcher alone brings
/// them from memory (bench/bitlinear.py: cold 4096 × 4096 GEMV 26 → 29-33
/// GB/s, 2048 × 2048 19 → 23-28 GB/s), into L2 (prefetchToL2). The float
/// linear had no prefetch: decode with the f32 lm_head (the default)
/// 38.0-38.7 → 41.8-42.8 tokens/s (2 threads: 57.1-59.3 → 58.6-61.9).
constexpr int64_t kPrefetchBytes = 16384;

/// The instruction the unpack-dot kernel accumulates byte products with.
enum class DotInstruction {
  Generic, ///< widening multiplies and adds, any target
  VNNI,    ///< x86 vpdpbusd on 512-bit vectors (AVX-512 VNNI)
  SDot,    ///< aarch64 sdot on 128-bit vectors (dotprod)
};

/// Words per row of the column chunk the unpack-dot kernel unpacks at a
/// time unless told otherwise: 2 KB of bytes per row, so 8 rows fit in L1
/// beside the activations.
constexpr int64_t kDefaultUnpackChunkWords = 32;

/// (q: [M, K] i8, s: [M] f32, w: packed, ws: [1] or [N] f32, y: [M, N] f32,
/// scratch...) BitLinear by unpacking each tile of weight words once into
/// 0/1 bytes and taking dot products with q for every token:
/// Σ B·q = 2·Σ_{B=1} q − Σ q. Same layout as the bit-serial kernel. Each
/// tile is unpacked `chunkWords` words per row at a time.
void buildUnpackDotLinear(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                          PackedLayoutAttr layout, DotInstruction dot,
                          int64_t chunkWords);
/// The scratch buffers buildUnpackDotLinear takes: the activation sums
/// [M] i32. A chunk's unpacked bytes and the partial sums between chunks
/// live on the stack of the thread running the tile.
llvm::SmallVector<mlir::MemRefType, 2>
unpackDotScratch(mlir::MLIRContext *context, PackedLayoutAttr layout);

/// (q: [M, K] i8, s: [M] f32, w: packed, ws: [1] or [N] f32, y: [M, N] f32,
/// scratch...) BitLinear by table lookups (the "Four Russians" method, as
/// T-MAC does on CPUs): for a block of 32 tokens and each group of 4 columns,
/// the 16 sums of the columns a 4-bit weight pattern selects, one i16 lane
/// per token; each weight nibble then adds its entry to its row's sums,
/// Σ_{B=1} q for 32 tokens × 4 columns per load and add. Exact. Same layout
/// as the other BitLinear kernels. Only whole blocks, and only from 64
/// tokens on: the other tokens go through the unpack-dot GEMM with `dot`.
void buildLookupLinear(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                       PackedLayoutAttr layout, DotInstruction dot);
/// The rows one iteration of the lookup kernel takes through each chunk's
/// tables: they share the cost of building them (their i32 sums, 64 KB, stay
/// in L2; 1.3B prefill ran faster than with 256 rows and 32 KB in L1).
constexpr int64_t kLookupRows = 512;
/// From kLookupWideRangeBlocks blocks of tokens on (so at least as many
/// iterations for the threads), kLookupWideRows rows (i32 and i16 sums 384
/// KB, still in L2) share each table: a 1-thread 512-token prefill of the
/// 1.3B model put 4% fewer perf samples on its lookup GEMMs (9207, 8561 →
/// 8741, 8278, alternating runs; 2048 rows for every batch made batch-64
/// GEMMs on one core 3-5% faster in bench/bitlinear.py).
constexpr int64_t kLookupWideRows = 2048;
constexpr int64_t kLookupWideRangeBlocks = 8;
/// The fewest rows for which `auto` takes the lookup kernel for several
/// tokens: fewer share each table too little.
constexpr int64_t kLookupMinRows = 256;
/// The scratch buffers buildLookupLinear takes: the activation sums [M] i32
/// and the activations of each token block column by column [M, K] i8.
llvm::SmallVector<mlir::MemRefType, 2>
lookupScratch(mlir::MLIRContext *context, PackedLayoutAttr layout);

/// (q: [1, K] i8, s: [1] f32, w: packed in tiles of 8 rows, ws: [1] or [N]
/// f32, y: [1, N] f32, scratch...) The BitLinear of one token by table
/// lookups in registers, for x86 with AVX-512 VBMI and VNNI: q = 16·qh + ql
/// (ql in [0, 15], qh in [-8, 7]), and for each 4-column group byte tables
/// of the 16 sums of ql and of qh that a weight nibble selects; vpermi2b
/// looks up 64 nibbles of 8 rows at once in the tables of 8 groups, and
/// vpdpbusd adds the lookups (the high ones times 16). Exact.
void buildLookupGemv(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                     PackedLayoutAttr layout);
/// The scratch buffers buildLookupGemv takes: the tables [words, 512] i8 and
/// Σ_k q [1] i32.
llvm::SmallVector<mlir::MemRefType, 2>
lookupGemvScratch(mlir::MLIRContext *context, PackedLayoutAttr layout);

/// (q: [M, K] i8, s: [M] f32, w: [N, K] i8 or [E, N, K] i8, ws: [N] or
/// [E, N] f32, [experts: [M, k] i32,] y: [M, N] f32). With `slot`, token m
/// uses expert experts[m, slot] (the dispatch of pquant.expert_linear). The
/// byte dot products go through pquant.dot4 in the form of `dot`.
void buildInt8Linear(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                     std::optional<int64_t> slot, DotInstruction dot);

/// (gate: [M, F] f32, up: [M, F] f32, y: [M, F] f32): silu(gate) · up.
void buildSiluMul(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args);

/// (x: [M, D] f32, [weight: [D] f32 or f16,] y: [M, D] f32): RMS norm with
/// the mean of squares accumulated in f64, as the reference does.
void buildRMSNorm(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                  bool hasWeight, float eps);

/// (h: [M, D] f32, w: [E, D] f32, experts: [M, k] i32, gates: [M, k] f32):
/// softmax of the router logits, then the k most probable experts in
/// decreasing order, ties to the lower index.
void buildRouter(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args);

/// (binary: [M, D], experts_0..experts_{k-1}: [M, D], [gates: [M, k],]
/// y: [M, D]): y = alpha · Σ_j (g_j or 1) · experts_j + beta · binary.
void buildCombine(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                  int64_t numExperts, bool gateWeighting, float alpha,
                  float beta);

/// (table: [V, D] f32 or f16, tokens: [M] i32, y: [M, D] f32): embedding
/// rows; a token outside [0, V) is clamped into it, so no read is ever out
/// of bounds (the runtime rejects such tokens before calling).
void buildEmbedding(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args);

/// (x: [M, K] f32, w: [N, K] f32 or f16, y: [M, N] f32): y = x · wᵀ with
/// f32 accumulation, for the lm_head.
void buildFloatLinear(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args);

/// (x: [M, H, Dh] f32, positions: [M] i32, y: [M, H, Dh] f32): rotate-half
/// RoPE with inverse frequencies theta^(−2i/Dh) folded as f32 constants.
void buildRoPE(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
               double theta);

/// (q: [M, H, Dh], k, v: [M, Hkv, Dh] f32, key_cache, value_cache:
/// [L, S, Hkv, Dh] f32, position: index, y: [M, H, Dh] f32): writes k and v
/// into layer `layer` of the caches at rows position.., then causal
/// grouped-query attention with an f32 softmax.
void buildAttention(mlir::ImplicitLocOpBuilder &b, mlir::ValueRange args,
                    int64_t layer);

} // namespace pquant::kernels

#endif // PQUANT_LIB_CONVERSION_PQUANTTOKERNELS_KERNELS_H
