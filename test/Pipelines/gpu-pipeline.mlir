// pquant-gpu-pipeline: the kernels' PTX for sm_90 (and sm_80), with the
// instructions the kernels are built on: 16-byte loads of packed weights and
// of the permuted activations (only the weights, constants, through the
// non-coherent cache: ld.global.nc), dp4a with unsigned
// weight bytes for BitLinear and signed ones for the int8 linear, warp
// shuffles for the sums; the host code is plain LLVM calling the runtime.
// The decode entry point also becomes one persistent kernel with grid
// barriers, which the runtime may launch instead of its kernels.

// RUN: pquant-compile %s -target=sm_90 --emit=ptx -o - | FileCheck %s
// RUN: pquant-compile %s -target=sm_80 --emit=ptx -o - | FileCheck %s --check-prefix=SM80
// RUN: pquant-opt %s --pquant-gpu-pipeline="chip=sm_90" | FileCheck %s --check-prefix=HOST
// RUN: not pquant-opt %s --pquant-gpu-pipeline="chip=sm_70" 2>&1 | FileCheck %s --check-prefix=CHIP
// RUN: not pquant-compile %s -target=host --emit=ptx -o - 2>&1 | FileCheck %s --check-prefix=NOPTX

// CHECK: .target sm_90
// The decode entry point's persistent kernel; its stages are functions made
// from the kernels.
// CHECK: .func bitlinear_prepare_2048_stage_{{[rw]+}}
// CHECK: .func bitlinear_k2048_t1_n2048_group_stage_{{[rw]+}}
// Every kernel waits for the one before (programmatic dependent launch) and
// then lets the next one start; a GEMV loads its weights first.
// CHECK-LABEL: .visible .entry bitlinear_prepare_2048(
// CHECK: griddepcontrol.wait;
// CHECK: griddepcontrol.launch_dependents;
// CHECK-LABEL: .visible .entry bitlinear_k2048_t1_n2048(
// CHECK-NOT: griddepcontrol
// CHECK: ld.global.nc.v4.b32
// CHECK: griddepcontrol.wait;
// CHECK: griddepcontrol.launch_dependents;
// CHECK-NOT: ld.global.nc
// CHECK: ld.global.v4.b32
// CHECK: dp4a.u32.s32
// CHECK-LABEL: .visible .entry persistent_decode(
// CHECK: .maxntid 1024, 1, 1
// CHECK: .minnctapersm 1
// CHECK: call.uni bitlinear_prepare_2048_stage_{{[rw]+}}
// The grid barrier between the stages: release, arrive, spin on an acquire.
// CHECK: bar.sync 0;
// CHECK: fence.acq_rel.gpu;
// CHECK-NEXT: atom.global.add.u32
// CHECK: ld.acquire.gpu.global.b32
// CHECK: bar.sync 0;
// CHECK: call.uni bitlinear_k2048_t1_n2048_group_stage_{{[rw]+}}
// CHECK: barrier.sync %r{{[0-9]+}}, 256;
// CHECK-NOT: atom.global
// CHECK: ret;
// The GEMV stage: weights through the non-coherent cache, activations
// (written by the stage before) not; no grid dependency control within the
// one launch; its barriers are its group's.
// CHECK: .func bitlinear_k2048_t1_n2048_group_stage_{{[rw]+}}(
// CHECK-NOT: griddepcontrol
// CHECK: ld.global.nc.v4.b32
// CHECK-NOT: ld.global.nc
// CHECK: ld.global.v4.b32
// CHECK: dp4a.u32.s32
// CHECK: shfl.sync.bfly.b32
// CHECK: barrier.sync %r{{[0-9]+}}, 256;
// Prefill's BitLinear: 4-byte weight loads, two 16-byte activation loads
// per 8 tokens, 32 tokens on the tensor cores, no dp4a.
// CHECK-LABEL: .visible .entry bitlinear_k2048_t32_n2048(
// CHECK-NOT: dp4a
// CHECK: ld.global.nc.b32
// CHECK: ld.global.v4.b32
// CHECK: mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32
// CHECK-NOT: dp4a
// CHECK: ret;
// CHECK-LABEL: .visible .entry quantize_2048(
// CHECK-LABEL: .visible .entry int8_linear_256x2048_m1(
// CHECK: ld.global.v4.b32
// CHECK: dp4a.s32.s32
// CHECK-NOT: __nv_

// SM80: .target sm_80
// SM80-NOT: griddepcontrol
// SM80: .entry persistent_decode(
// SM80-NOT: griddepcontrol

// CHIP: error: pquant-lower-to-gpu: unknown chip 'sm_70', expected sm_80 or sm_90
// NOPTX: error: --emit=ptx needs a GPU target (-target=sm_80 or -target=sm_90)

// HOST-LABEL: llvm.func @pquant_gpu_entry_decode(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: !llvm.ptr)
// HOST: llvm.call @pquant_gpu_persistent
// HOST: llvm.cond_br
// HOST: llvm.call @pquant_gpu_launch_persistent
// HOST-COUNT-2: llvm.call @pquant_gpu_launch(
// HOST-NOT: llvm.call @pquant_gpu_launch
// HOST-LABEL: llvm.func @pquant_gpu_entry_prefill(
// HOST: llvm.call @pquant_gpu_scratch
// HOST: gpu.binary @pquant_kernels  [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">, {{.*}}assembly = "

!w = tensor<256x16x8x4xi32, #pquant.packed<rows = 2048, cols = 2048, word = 32, tile = [8, 4], bit_order = lsb_first>>
func.func @decode(%q: tensor<1x2048xi8>, %s: tensor<1xf32>, %w: !w, %ws: tensor<1xf32>) -> tensor<1x2048xf32> {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x2048xi8>, tensor<1xf32>, !w, tensor<1xf32> -> tensor<1x2048xf32>
  return %y : tensor<1x2048xf32>
}
func.func @prefill(%q: tensor<?x2048xi8>, %s: tensor<?xf32>, %w: !w, %ws: tensor<1xf32>,
                   %w8: tensor<256x2048xi8>, %ws8: tensor<256xf32>) -> tensor<?x256xf32> {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x2048xi8>, tensor<?xf32>, !w, tensor<1xf32> -> tensor<?x2048xf32>
  %q2, %s2 = pquant.quantize %y : tensor<?x2048xf32> -> tensor<?x2048xi8>, tensor<?xf32>
  %z = pquant.int8_linear %q2, %s2, %w8, %ws8 : tensor<?x2048xi8>, tensor<?xf32>, tensor<256x2048xi8>, tensor<256xf32> -> tensor<?x256xf32>
  return %z : tensor<?x256xf32>
}
