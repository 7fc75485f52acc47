// pquant-cpu-pipeline takes pquant IR to the LLVM dialect; the target
// decides the packing (8 rows of 64-bit words per zmm on znver4, 2 per NEON
// register) and, per op, the BitLinear kernel.
// RUN: pquant-opt %s --pquant-cpu-pipeline="target=x86_64 cpu=znver4" | FileCheck %s --check-prefix=ZNVER4
// RUN: pquant-opt %s --pquant-cpu-pipeline="target=aarch64 cpu=neoverse-n1" | FileCheck %s --check-prefix=A64
// RUN: pquant-opt %s --pquant-cpu-pipeline="target=x86_64 cpu=znver4 strategy=unpack-dot" | FileCheck %s --check-prefix=FORCED
// RUN: pquant-opt %s --pquant-cpu-pipeline="target=x86_64 cpu=znver4 strategy=bitserial" | FileCheck %s --check-prefix=BITSERIAL
// BITSERIAL-NOT: vpdpbusd
// With lookup, one token takes the lookup GEMV (znver4 has vpermi2b and
// vpdpbusd). The tables of its 2 words are built by a task on the runtime's
// threads; its 2 tiles make one group, which runs in the kernel itself. On
// a target without VBMI, pquant.lookup_bytes never appears.
// RUN: pquant-opt %s --pquant-cpu-pipeline="target=x86_64 cpu=znver4 strategy=lookup" | FileCheck %s --check-prefix=GEMV
// RUN: pquant-opt %s --pquant-cpu-pipeline="target=x86_64 cpu=skylake-avx512 strategy=lookup" | FileCheck %s --check-prefix=NO-VBMI
// GEMV: llvm.func internal @[[GEMV:pquant_bitlinear_lookup_gemv_1x128xi8_1xf32_2x2x8x1xi64[A-Za-z0-9_]*]](
// GEMV: %[[TASK:.*]] = llvm.mlir.addressof @[[GEMV]]_task
// GEMV: llvm.call @pquant_parallel_for(%[[TASK]], %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64) -> ()
// GEMV: llvm.call_intrinsic "llvm.x86.avx512.vpermi2var.qi.512"
// GEMV: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// GEMV: llvm.func internal @[[GEMV]]_task
// NO-VBMI-NOT: lookup_gemv
// NO-VBMI-NOT: vpermi2var
// Bad options fail pquant-opt with a message.
// RUN: not pquant-opt %s --pquant-cpu-pipeline="lm-head=f8" 2>&1 | FileCheck %s --check-prefix=BAD-LM-HEAD
// BAD-LM-HEAD: pquant-cpu-pipeline: lm-head must be f32 or int8, not 'f8'
// RUN: not pquant-opt %s --pquant-cpu-pipeline="target=sparc" 2>&1 | FileCheck %s --check-prefix=BAD-TARGET
// BAD-TARGET: pquant-cpu-pipeline: unknown target 'sparc'; expected x86_64, aarch64 or host

// ZNVER4-NOT: pquant.
// A decode step takes its buffers from the runtime's scratch and its
// logits from the runtime's result buffer: it allocates nothing.
// ZNVER4: llvm.func @decode(
// ZNVER4-NOT: llvm.call @malloc(
// ZNVER4: llvm.call @pquant_scratch(
// ZNVER4-NOT: llvm.call @malloc(
// ZNVER4: llvm.call @pquant_result(
// ZNVER4-NOT: llvm.call @malloc(
// ZNVER4: llvm.func @_mlir_ciface_decode(
// ZNVER4: llvm.func @prefill(
// The tile loops run as tasks on the runtime's threads.
// ZNVER4: llvm.func internal @[[SERIAL:pquant_bitlinear_bitserial_1x128xi8_1xf32_2x2x8x1xi64[A-Za-z0-9_]*]](
// ZNVER4: %[[TASK:.*]] = llvm.mlir.addressof @[[SERIAL]]_task
// ZNVER4: llvm.call @pquant_parallel_for(%[[TASK]], %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, i64) -> ()
// ZNVER4: llvm.func internal @[[SERIAL]]_task(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64)
// ZNVER4: llvm.intr.ctpop({{.*}}) : (vector<8xi64>) -> vector<8xi64>
// ZNVER4: llvm.func internal @pquant_bitlinear_unpackdot_vnni_Dx128xi8_Dxf32_2x2x8x1xi64{{.*}}_task
// ZNVER4: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// ZNVER4: llvm.func @pquant_parallel_for(!llvm.ptr, !llvm.ptr, i64)
// A64: llvm.func internal @pquant_bitlinear_unpackdot_sdot_1x128xi8_1xf32_8x2x2x1xi64
// A64: llvm.call_intrinsic "llvm.aarch64.neon.sdot.v4i32.v16i8"
// FORCED: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// FORCED-NOT: llvm.intr.ctpop

func.func @decode(%x: tensor<1x128xf32>) -> tensor<1x16xf32> {
  %q, %s = pquant.quantize %x : tensor<1x128xf32> -> tensor<1x128xi8>, tensor<1xf32>
  %w = arith.constant dense<true> : tensor<16x128xi1>
  %ws = arith.constant dense<0.5> : tensor<1xf32>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x128xi8>, tensor<1xf32>, tensor<16x128xi1>, tensor<1xf32> -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

func.func @prefill(%x: tensor<?x128xf32>) -> tensor<?x16xf32> {
  %q, %s = pquant.quantize %x : tensor<?x128xf32> -> tensor<?x128xi8>, tensor<?xf32>
  %w = arith.constant dense<true> : tensor<16x128xi1>
  %ws = arith.constant dense<0.5> : tensor<1xf32>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<16x128xi1>, tensor<1xf32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
