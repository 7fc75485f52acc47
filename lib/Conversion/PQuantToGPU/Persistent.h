//===- Persistent.h - one kernel per entry point: stages and barriers -*- C++ -*-===//
//
// A persistent entry point is one kernel whose resident blocks run the
// entry's kernels one after another as stages: each stage is the kernel's
// body, called as a function for every "virtual block" of its grid in a
// grid-stride loop, and stages that depend on earlier ones wait at a
// grid-wide barrier. The helpers here turn a kernel into a stage function,
// say which of its parameters it reads and writes, and build the barrier.
// Private to the PQuantToGPU conversion.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_LIB_CONVERSION_PQUANTTOGPU_PERSISTENT_H
#define PQUANT_LIB_CONVERSION_PQUANTTOGPU_PERSISTENT_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/SmallBitVector.h"

namespace pquant::gpu {

/// The pointer parameters a kernel loads from and stores to. A store whose
/// address cannot be traced to a parameter counts as a store to all.
struct KernelAccess {
  llvm::SmallBitVector reads, writes;
};
KernelAccess analyzeAccess(mlir::gpu::GPUFuncOp kernel);

/// Bytes of shared memory `kernel` uses (its shared globals, each 16-byte
/// aligned, one after the other).
int64_t sharedBytes(mlir::gpu::GPUFuncOp kernel);

/// `kernel`'s body as a function of the gpu.module (not inlined),
/// `(params..., vx: i32, vy: i32, tid: i32, group: i32, shared:
/// !llvm.ptr<3>)`: vx and vy replace the block indices, tid the thread
/// index, and its shared globals lie at `shared` one after the other. With
/// `groupThreads`, the kernel's blocks have that many threads and run as a
/// group of a larger block: its barriers become barrier 1 + group of
/// `groupThreads` threads. A load marked invariant stays so only when it
/// reads a parameter of `readOnly` (the other buffers are written by earlier
/// stages of the same kernel launch, where the non-coherent cache could hold
/// stale lines).
mlir::LLVM::LLVMFuncOp buildStage(mlir::gpu::GPUFuncOp kernel,
                                  const llvm::SmallBitVector &readOnly,
                                  int64_t groupThreads);

/// Whether inlineKernel can clone `kernel`: its body is one block.
bool canInline(mlir::gpu::GPUFuncOp kernel);

/// `kernel`'s body cloned at `b`'s insertion point as part of another
/// kernel: `args` replace its parameters, vx and vy its block indices, tid
/// its thread index. With `groupThreads`, the kernel's blocks have that many
/// threads and run as group `group` of a larger block: its barriers become
/// barrier 1 + group of `groupThreads` threads and its shared globals lie at
/// `shared` (!llvm.ptr<3>) one after the other, as in buildStage. Its waits
/// for prior kernels (griddepcontrol) stay.
void inlineKernel(mlir::ImplicitLocOpBuilder &b, mlir::gpu::GPUFuncOp kernel,
                  mlir::ValueRange args, mlir::Value vx, mlir::Value vy, mlir::Value tid,
                  mlir::Value group, mlir::Value shared, int64_t groupThreads);

/// Barrier 1 + `group` of `threads` threads (a group of a block), not
/// aligned: the block's other groups need not reach it.
void buildGroupBarrier(mlir::ImplicitLocOpBuilder &b, mlir::Value group,
                       int64_t threads);

/// A barrier of all blocks of the grid (all must be resident): every
/// thread's earlier global writes are visible to every thread after it.
/// `counter` is an i32 in global memory used only by such barriers; its
/// initial value does not matter (block 0 adds 2^31 − (blocks − 1), the
/// others 1, so its top bit flips once all have arrived).
void buildGridBarrier(mlir::ImplicitLocOpBuilder &b, mlir::Value counter);

} // namespace pquant::gpu

#endif // PQUANT_LIB_CONVERSION_PQUANTTOGPU_PERSISTENT_H
