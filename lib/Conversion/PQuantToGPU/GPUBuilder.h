//===- GPUBuilder.h - helpers for building GPU kernel bodies ----*- C++ -*-===//
//
// GPU kernels are gpu.func ops whose parameters are global pointers
// (!llvm.ptr<1>) and i64 scalars. Their bodies use the gpu dialect for
// thread and block indices, shuffles and barriers, scf for loops, arith and
// math for arithmetic, nvvm for dp4a and tensor-core products, and llvm
// loads and stores, so every access states its width and alignment (16-byte
// loads must say so to become ld.global.v4). Private to the PQuantToGPU
// conversion.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_LIB_CONVERSION_PQUANTTOGPU_GPUBUILDER_H
#define PQUANT_LIB_CONVERSION_PQUANTTOGPU_GPUBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace pquant::gpu {

using mlir::ImplicitLocOpBuilder;
using mlir::Type;
using mlir::Value;
using mlir::ValueRange;

/// Address spaces of NVPTX.
constexpr unsigned kGlobal = 1, kShared = 3;
/// Threads of a warp.
constexpr int64_t kWarp = 32;
/// Bytes of an L2 cache line (the unit of prefetchL2).
constexpr int64_t kCacheLineBytes = 128;

/// An i32 / i64 / f32 / f64 constant.
Value i32(ImplicitLocOpBuilder &b, int64_t value);
Value i64(ImplicitLocOpBuilder &b, int64_t value);
Value f32(ImplicitLocOpBuilder &b, double value);
Value f64(ImplicitLocOpBuilder &b, double value);

/// threadIdx.x, blockIdx.{x,y}, as i32.
Value threadIdx(ImplicitLocOpBuilder &b);
Value blockIdx(ImplicitLocOpBuilder &b, mlir::gpu::Dimension dim);

/// Sign- or zero-extends / truncates integers, so index arithmetic can mix
/// i32 thread ids with i64 offsets.
Value toI64(ImplicitLocOpBuilder &b, Value value);
Value toI32(ImplicitLocOpBuilder &b, Value value);

/// Pointer to element `index` of `type` from `base` (any address space).
Value elementPtr(ImplicitLocOpBuilder &b, Value base, Type type, Value index);
/// Loads / stores one `type` at element `index` of `base` with `align`.
Value load(ImplicitLocOpBuilder &b, Type type, Value base, Value index,
           unsigned align, bool invariant = false);
void store(ImplicitLocOpBuilder &b, Value value, Value base, Value index,
           unsigned align);
/// Brings the L2 line holding element `index` (of `type`) of `base`, a
/// global pointer, into L2
/// (`prefetch.global.L2`, which LLVM emits from PTX ISA 8.0 on: the target
/// has it for sm_90 only).
void prefetchL2(ImplicitLocOpBuilder &b, Value base, Type type, Value index);
/// 90 for "sm_90"; 0 for a name that is not sm_<number>.
int chipVersion(llvm::StringRef chip);
/// The chipVersion of the gpu.module the builder inserts into; not from
/// inside a region under construction (an scf.for body builder), which is
/// not in the module yet.
int targetChipVersion(ImplicitLocOpBuilder &b);
/// Natural alignment of a scalar or vector type.
unsigned alignOf(Type type);

using LoopBody = llvm::function_ref<llvm::SmallVector<Value>(
    ImplicitLocOpBuilder &, Value iv, ValueRange carried)>;
/// `for (iv = lower; iv < upper; iv += step)` on i32 with carried values.
ValueRange forLoop(ImplicitLocOpBuilder &b, Value lower, Value upper,
                   Value step, ValueRange init, LoopBody body);
using ColumnBody = llvm::function_ref<llvm::SmallVector<Value>(
    ImplicitLocOpBuilder &, Value col, Value valid, ValueRange carried)>;
/// for (col = first; col < width; col += stride) with carried values, where
/// `first` < stride. Up to `maxUnroll` iterations are unrolled at compile
/// time, so the loads of all of them are in flight at once; then `col` may be
/// past `width` in the last one and `valid` (i1) says so: bodies clamp their
/// loads and guard their stores with it. In a loop, `valid` is true.
ValueRange columnLoop(ImplicitLocOpBuilder &b, Value first, int64_t width,
                      int64_t stride, ValueRange init, ColumnBody body,
                      int64_t maxUnroll = 32);

/// `if (cond) then()` with no results.
void ifThen(ImplicitLocOpBuilder &b, Value cond,
            llvm::function_ref<void(ImplicitLocOpBuilder &)> then);
/// `cond ? then() : otherwise()` of one value.
Value ifElse(ImplicitLocOpBuilder &b, Value cond, Type type,
             llvm::function_ref<Value(ImplicitLocOpBuilder &)> then,
             llvm::function_ref<Value(ImplicitLocOpBuilder &)> otherwise);

/// Integer comparisons and selects, for readability.
Value cmp(ImplicitLocOpBuilder &b, mlir::arith::CmpIPredicate predicate,
          Value lhs, Value rhs);
Value select(ImplicitLocOpBuilder &b, Value cond, Value a, Value c);

/// Butterfly shuffle of a 32- or 64-bit value across the lanes of a warp.
Value shuffleXor(ImplicitLocOpBuilder &b, Value value, int64_t offset);

enum class Combine { AddI, AddF, MaxF };
Value combine(ImplicitLocOpBuilder &b, Combine kind, Value lhs, Value rhs);
/// Reduction over the `width` consecutive lanes that share lane / width.
Value warpReduce(ImplicitLocOpBuilder &b, Combine kind, Value value,
                 int64_t width = kWarp);
/// Reduction over the whole block of `threads` threads; every thread gets
/// the result. `scratch` is shared memory of one value per warp; the call
/// starts and ends with a barrier, so it can be reused right after.
Value blockReduce(ImplicitLocOpBuilder &b, Combine kind, Value value,
                  Value scratch, int64_t threads);

/// Reductions of per-thread values over a block of `threads` threads, each
/// into every thread, through `scratch` (shared memory of one slot per warp
/// for each value, used by no other reduction): one barrier for all.
llvm::SmallVector<Value>
blockReduceOnce(ImplicitLocOpBuilder &b, llvm::ArrayRef<std::pair<Combine, Value>> values,
                llvm::ArrayRef<Value> scratch, int64_t threads);

/// Shared memory of `bytes` bytes, 16-byte aligned: a global of the kernel's
/// gpu.module named after the kernel. Returns an !llvm.ptr<3>.
Value sharedMemory(ImplicitLocOpBuilder &b, llvm::StringRef name,
                   int64_t bytes);

/// floor and correctly rounded sqrt through NVVM intrinsics: the generic
/// math lowering would call libdevice, which needs CUDA to compile.
Value floor(ImplicitLocOpBuilder &b, Value x);
Value sqrtF32(ImplicitLocOpBuilder &b, Value x);
/// |x| and copysign(magnitude >= 0, sign) of f32s, on the bits (exact).
Value absF32(ImplicitLocOpBuilder &b, Value x);
Value copySignF32(ImplicitLocOpBuilder &b, Value magnitude, Value sign);

/// exp(x) of an f32, computed in f64 and rounded once (pquant::expF32, as
/// the CPU kernels compute it): within half an ulp of the exact value, like
/// a correctly rounded expf. Overflows to inf and underflows to 0 as expf
/// does.
Value expF32(ImplicitLocOpBuilder &b, Value x);
/// silu(g) · u = g / (1 + exp(−g)) · u of f32s, as pquant.silu_mul (exp
/// overflows to inf for g < −88, giving −0).
Value siluMul(ImplicitLocOpBuilder &b, Value g, Value u);
/// cos(x) and sin(x) of an f32, computed in f64 (Cody-Waite reduction by
/// pi/2 in three parts, exact for |x| < 2^20) and rounded once
/// (pquant::cosSinF32, as the CPU kernels compute them).
std::pair<Value, Value> cosSinF32(ImplicitLocOpBuilder &b, Value x);

/// Programmatic dependent launch (sm_90 and later; nothing before): waits
/// until the kernels launched earlier on the stream have finished and their
/// writes are visible, then lets the next kernel's blocks start, so that
/// they issue their loads of constants (weights) while this one runs. A
/// kernel calls it before it touches any buffer another kernel writes, and
/// before it, loads only constants; kernels that do not call it get it at
/// their start.
void waitForPriorKernels(ImplicitLocOpBuilder &b);

/// acc + Σ_j a[j]·c[j] over the 4 bytes of the i32s `a` and `c` (dp4a),
/// `a` unsigned or signed, `c` signed.
Value dot4(ImplicitLocOpBuilder &b, Value a, bool unsignedA, Value c,
           Value acc);

/// acc + A·C on the tensor cores (mma.sync m16n8k32, A unsigned bytes 16 ×
/// 32 row-major in four i32 a lane, C signed bytes 32 × 8 column-major in
/// two, acc and the result 16 × 8 i32 in four). Lane l = 4g + t holds A's
/// rows g (a0, a2) and g + 8 (a1, a3) at k = 4t .. 4t + 3 (a0, a1) and 16 +
/// those (a2, a3); C's column g at the same k (c0, then c1); the result's
/// rows g (d0, d1) and g + 8 (d2, d3) at columns 2t and 2t + 1.
llvm::SmallVector<Value, 4> mmaU8S8(ImplicitLocOpBuilder &b, ValueRange a,
                                    ValueRange c, ValueRange acc);

} // namespace pquant::gpu

#endif // PQUANT_LIB_CONVERSION_PQUANTTOGPU_GPUBUILDER_H
