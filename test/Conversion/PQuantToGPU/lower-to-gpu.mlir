// RUN: pquant-opt %s --pquant-lower-to-gpu="chip=sm_90" -split-input-file | FileCheck %s
// RUN: pquant-opt %s --pquant-lower-to-gpu="chip=sm_90 persistent=block" -split-input-file | FileCheck %s --check-prefix=PERSISTENT

// A layer with its weight as an argument: host code that loads the buffer
// addresses, asks for scratch once and launches two kernels: the first lays
// out the int8 input as BitLinear kernels read it (no quantize kernel did),
// the second is the GEMV: (act, sums, s, w, ws, y; M), 256 threads. The
// GEMV loads its weights (non-coherent: constants), then waits for the
// kernel before (programmatic dependent launch) and lets the next one start,
// then loads the activations (coherent: the kernel before wrote them); the
// layout kernel waits first thing.

// CHECK-LABEL: module attributes {gpu.container_module, pquant.gpu.chip = "sm_90", pquant.gpu.kernels = ["bitlinear_prepare_200", "bitlinear_k200_t1_n64r"]}
// CHECK: func.func private @pquant_gpu_launch(!llvm.ptr, i32, i64, i64, i64, i64, i64, i64, i64, i32, !llvm.ptr)
// CHECK-LABEL: func.func @pquant_gpu_entry_layer(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: !llvm.ptr)
// CHECK: call @pquant_gpu_scratch
// CHECK-COUNT-2: call @pquant_gpu_launch
// CHECK-NOT: call @pquant_gpu_launch
// CHECK: gpu.module @pquant_kernels [#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">]
// CHECK: gpu.func @bitlinear_prepare_200(
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK: gpu.func @bitlinear_k200_t1_n64r(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: i64) kernel attributes {known_block_size = array<i32: 256, 1, 1>, nvvm.minctasm = 4 : i32}
// CHECK-NOT: nvvm.griddepcontrol
// CHECK: llvm.load %{{.*}} invariant {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// CHECK: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NOT: invariant
// CHECK: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// CHECK: nvvm.dot.accumulate.4way %{{.*}} <unsigned>, %{{.*}} <signed>
func.func @layer(%q: tensor<1x200xi8>, %s: tensor<1xf32>,
                 %w: tensor<8x2x8x4xi32, #pquant.packed<rows = 64, cols = 200, word = 32, tile = [8, 4], bit_order = lsb_first>>,
                 %ws: tensor<64xf32>) -> tensor<1x64xf32> {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x200xi8>, tensor<1xf32>, tensor<8x2x8x4xi32, #pquant.packed<rows = 64, cols = 200, word = 32, tile = [8, 4], bit_order = lsb_first>>, tensor<64xf32> -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}

// -----

// Weights become offsets into the weights buffer (slot 0), recorded in
// pquant.weights; the intermediate q/s get scratch, sized per token when M
// is only known at run time; the prefill BitLinear takes 32 tokens per
// block on the tensor cores (u8 weights 0/1 × s8 activations). The
// norm is computed by the quantize kernel, which also writes the BitLinear
// layout of q.

// CHECK-LABEL: module attributes
// CHECK-SAME: pquant.gpu.kernels = ["quantize_bit_norm_wf32_eps0x3727c5ac_64", "bitlinear_k64_t32_n32"]
// CHECK-SAME: pquant.weights = {size = 832 : i64, tensors = [{name = "norm", offset = 0 : i64, type = tensor<64xf32>}, {name = "w", offset = 256 : i64, type = tensor<4x1x8x4xi32, #pquant.packed<rows = 32, cols = 64, word = 32, tile = [8, 4], bit_order = lsb_first>>}, {name = "ws", offset = 768 : i64, type = tensor<1xf32>}]}
// CHECK-LABEL: func.func @pquant_gpu_entry_prefill(
// CHECK: %[[SCRATCH:.*]] = call @pquant_gpu_scratch
// CHECK-COUNT-2: call @pquant_gpu_launch
// CHECK-NOT: call @pquant_gpu_launch
func.func @prefill(%x: tensor<?x64xf32>) -> tensor<?x32xf32> {
  %nw = pquant.weight "norm" : tensor<64xf32>
  %h = pquant.rms_norm %x weight(%nw) {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
  %q, %s = pquant.quantize %h : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %w = pquant.weight "w" : tensor<4x1x8x4xi32, #pquant.packed<rows = 32, cols = 64, word = 32, tile = [8, 4], bit_order = lsb_first>>
  %ws = pquant.weight "ws" : tensor<1xf32>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x64xi8>, tensor<?xf32>, tensor<4x1x8x4xi32, #pquant.packed<rows = 32, cols = 64, word = 32, tile = [8, 4], bit_order = lsb_first>>, tensor<1xf32> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Attention: positions are start + m (a kernel computes them on the device,
// from the start argument, itself an i64 on the device); the KV cache is
// written by its own kernel before the attention kernel reads it. At M = 1
// the RoPE and the cache write, independent neighbours, are one launch.

// CHECK-LABEL: module attributes
// CHECK-SAME: pquant.gpu.kernels = ["positions", "fused__rope_2x16_theta0x461c4000__cache_write_2x1x16_s8_l1", "attention_2x1x16_s8_l1"]
// CHECK: gpu.func @attention_2x1x16_s8_l1
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>
func.func @decode(%q: tensor<1x2x16xf32>, %k: tensor<1x1x16xf32>, %v: tensor<1x1x16xf32>,
                  %start: index, %kc: memref<2x8x1x16xf32>, %vc: memref<2x8x1x16xf32>) -> tensor<1x2x16xf32> {
  %p = tensor.generate {
  ^bb0(%i: index):
    %a = arith.addi %i, %start : index
    %c = arith.index_cast %a : index to i32
    tensor.yield %c : i32
  } : tensor<1xi32>
  %qr = pquant.rope %q, %p {theta = 1.0e+04 : f32} : tensor<1x2x16xf32>, tensor<1xi32>
  %o = pquant.attention %qr, %k, %v cache(%kc, %vc) layer 1 at %start : tensor<1x2x16xf32>, tensor<1x1x16xf32>, tensor<1x1x16xf32>, memref<2x8x1x16xf32>
  return %o : tensor<1x2x16xf32>
}

// -----

// Decode attention with RoPE on q and k: one kernel, which first brings the
// cache rows of earlier positions into L2 (the key and value row of each,
// before the wait for the kernel that wrote q, k and v), then waits.

// CHECK-LABEL: gpu.func @rope_attention_2x1x16_s8_l1_theta0x461c4000(
// CHECK: scf.for
// CHECK: nvvm.prefetch level = L2, %{{.*}} : !llvm.ptr<1>
// CHECK: nvvm.prefetch level = L2, %{{.*}} : !llvm.ptr<1>
// CHECK-NEXT: }
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NOT: nvvm.prefetch
// CHECK: gpu.return
func.func @decode(%q: tensor<1x2x16xf32>, %k: tensor<1x1x16xf32>, %v: tensor<1x1x16xf32>,
                  %start: index, %kc: memref<2x8x1x16xf32>, %vc: memref<2x8x1x16xf32>) -> tensor<1x2x16xf32> {
  %p = tensor.generate {
  ^bb0(%i: index):
    %a = arith.addi %i, %start : index
    %c = arith.index_cast %a : index to i32
    tensor.yield %c : i32
  } : tensor<1xi32>
  %qr = pquant.rope %q, %p {theta = 1.0e+04 : f32} : tensor<1x2x16xf32>, tensor<1xi32>
  %kr = pquant.rope %k, %p {theta = 1.0e+04 : f32} : tensor<1x1x16xf32>, tensor<1xi32>
  %o = pquant.attention %qr, %kr, %v cache(%kc, %vc) layer 1 at %start : tensor<1x2x16xf32>, tensor<1x1x16xf32>, tensor<1x1x16xf32>, memref<2x8x1x16xf32>
  return %o : tensor<1x2x16xf32>
}

// -----

// BitLinears of one input share a launch (q, k and v; gate and up); a
// residual add that is a BitLinear's only user is done by its kernel. In
// decode (M = 1) the quantize is the GEMV's prologue: every block (of 1024
// threads) quantizes the row (here the norm's output, which has another
// user) into shared memory itself, after issuing its first weight loads;
// block 0 also stores q and s, which an int8 linear reads.

!w32 = tensor<4x1x8x4xi32, #pquant.packed<rows = 32, cols = 64, word = 32, tile = [8, 4], bit_order = lsb_first>>
!w64 = tensor<8x1x8x4xi32, #pquant.packed<rows = 64, cols = 64, word = 32, tile = [8, 4], bit_order = lsb_first>>
// CHECK-LABEL: module attributes
// CHECK-SAME: pquant.gpu.kernels = ["rms_norm_64_nw_eps0x3727c5ac", "bitlinear_k64_t1_b1024_qs_n32_n64a", "int8_linear_16x64_m1"]
// CHECK-LABEL: func.func @pquant_gpu_entry_block(
// CHECK-COUNT-3: call @pquant_gpu_launch
// CHECK-NOT: call @pquant_gpu_launch
// CHECK: gpu.func @bitlinear_k64_t1_b1024_qs_n32_n64a(
// CHECK-SAME: known_block_size = array<i32: 1024, 1, 1>, nvvm.minctasm = 1 : i32
// CHECK: llvm.load %{{.*}} invariant {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// CHECK: nvvm.griddepcontrol wait
// CHECK: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 1 : i64} : i8, !llvm.ptr<3>
// CHECK: gpu.barrier
// CHECK: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xi32>
// CHECK: nvvm.dot.accumulate.4way
func.func @block(%x: tensor<1x64xf32>, %wa: !w32, %wb: !w64, %ws: tensor<1xf32>,
                  %w8: tensor<16x64xi8>, %s8: tensor<16xf32>) -> (tensor<1x32xf32>, tensor<1x64xf32>, tensor<1x16xf32>) {
  %h = pquant.rms_norm %x {eps = 1.0e-05 : f32} : tensor<1x64xf32>
  %q, %s = pquant.quantize %h : tensor<1x64xf32> -> tensor<1x64xi8>, tensor<1xf32>
  %a = pquant.bitlinear %q, %s, %wa, %ws : tensor<1x64xi8>, tensor<1xf32>, !w32, tensor<1xf32> -> tensor<1x32xf32>
  %b = pquant.bitlinear %q, %s, %wb, %ws : tensor<1x64xi8>, tensor<1xf32>, !w64, tensor<1xf32> -> tensor<1x64xf32>
  %r = arith.addf %h, %b : tensor<1x64xf32>
  %y8 = pquant.int8_linear %q, %s, %w8, %s8 : tensor<1x64xi8>, tensor<1xf32>, tensor<16x64xi8>, tensor<16xf32> -> tensor<1x16xf32>
  return %a, %r, %y8 : tensor<1x32xf32>, tensor<1x64xf32>, tensor<1x16xf32>
}

// -----

// Decode FFN: gate and up whose only user is a SiLU product are one GEMV
// that stores silu(gate) · up (a warp takes a gate tile and the up tile of
// the same rows); the quantize of the product is the down GEMV's prologue;
// q and s, which an int8 linear also reads, are stored by block 0 of the
// GEMV that quantizes them. The down GEMV and the int8 linear are
// independent: one launch, block 0 the GEMV's (1024 threads), block 1 the
// int8 linear's blocks of 256 threads, four to a block.

!wg = tensor<5x1x8x4xi32, #pquant.packed<rows = 40, cols = 64, word = 32, tile = [8, 4], bit_order = lsb_first>>
!wd = tensor<8x1x8x4xi32, #pquant.packed<rows = 64, cols = 40, word = 32, tile = [8, 4], bit_order = lsb_first>>
// CHECK-LABEL: module attributes
// CHECK-SAME: pquant.gpu.kernels = ["bitlinear_k64_t1_b1024_qnorm_nw_eps0x3727c5ac_s_silu_n40_n40", "fused__bitlinear_k40_t1_b1024_q_n64__int8_linear_16x64_m1"]
// CHECK-LABEL: func.func @pquant_gpu_entry_ffn(
// CHECK: call @pquant_gpu_launch(
// The fused launch: 2 blocks of 1024 threads, 10 parameters (4 + 5 buffers, M).
// CHECK: call @pquant_gpu_launch(%{{.*}}, %{{.*}}, %c2_i64{{.*}}, %{{.*}}, %{{.*}}, %c1024_i64{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c10_i32{{.*}}, %{{.*}})
// CHECK-NOT: call @pquant_gpu_launch
// CHECK: gpu.func @bitlinear_k64_t1_b1024_qnorm_nw_eps0x3727c5ac_s_silu_n40_n40(
// CHECK: nvvm.griddepcontrol wait
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 4 : i64} : f32, !llvm.ptr<1>
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 1 : i64} : i8, !llvm.ptr<1>
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 1 : i64} : i8, !llvm.ptr<3>
// CHECK: nvvm.dot.accumulate.4way
// CHECK: arith.negf
// CHECK: arith.divf
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 4 : i64} : f32, !llvm.ptr<1>
// CHECK-LABEL: gpu.func @fused__bitlinear_k40_t1_b1024_q_n64__int8_linear_16x64_m1(
// CHECK-SAME: known_block_size = array<i32: 1024, 1, 1>, nvvm.minctasm = 1 : i32
// CHECK: %[[BID:.*]] = arith.index_castui %block_id_x
// CHECK: %[[TID:.*]] = arith.index_castui %thread_id_x
// CHECK: %[[GEMV:.*]] = arith.cmpi ult, %[[BID]], %c1_i32
// CHECK: scf.if %[[GEMV]] {
// CHECK-NOT: gpu.block_id
// CHECK: nvvm.griddepcontrol wait
// CHECK: gpu.barrier
// CHECK: nvvm.dot.accumulate.4way %{{.*}} <unsigned>
// CHECK: %[[INT8:.*]] = arith.cmpi uge, %[[BID]], %c1_i32
// CHECK: scf.if %[[INT8]] {
// CHECK: %[[LOCAL:.*]] = arith.subi %[[BID]], %c1_i32
// CHECK: %[[GROUP:.*]] = arith.divui %[[TID]], %c256_i32
// CHECK: %[[GROUP_TID:.*]] = arith.remui %[[TID]], %c256_i32
// CHECK: %[[FIRST:.*]] = arith.muli %[[LOCAL]], %c4_i32
// CHECK: %[[V:.*]] = arith.addi %[[FIRST]], %[[GROUP]]
// CHECK: %[[SOME:.*]] = arith.cmpi ult, %[[V]], %c1_i32
// CHECK: scf.if %[[SOME]] {
// CHECK: nvvm.griddepcontrol wait
// CHECK: arith.index_castui %[[GROUP_TID]] : i32 to index
// CHECK: nvvm.dot.accumulate.4way %{{.*}} <signed>
// CHECK: gpu.return
func.func @ffn(%x: tensor<1x64xf32>, %wg: !wg, %wu: !wg, %wd: !wd, %ws: tensor<1xf32>,
               %w8: tensor<16x64xi8>, %s8: tensor<16xf32>) -> (tensor<1x64xf32>, tensor<1x16xf32>) {
  %n = pquant.rms_norm %x {eps = 1.0e-05 : f32} : tensor<1x64xf32>
  %q, %s = pquant.quantize %n : tensor<1x64xf32> -> tensor<1x64xi8>, tensor<1xf32>
  %g = pquant.bitlinear %q, %s, %wg, %ws : tensor<1x64xi8>, tensor<1xf32>, !wg, tensor<1xf32> -> tensor<1x40xf32>
  %u = pquant.bitlinear %q, %s, %wu, %ws : tensor<1x64xi8>, tensor<1xf32>, !wg, tensor<1xf32> -> tensor<1x40xf32>
  %a = pquant.silu_mul %g, %u : tensor<1x40xf32>
  %q2, %s2 = pquant.quantize %a : tensor<1x40xf32> -> tensor<1x40xi8>, tensor<1xf32>
  %y = pquant.bitlinear %q2, %s2, %wd, %ws : tensor<1x40xi8>, tensor<1xf32>, !wd, tensor<1xf32> -> tensor<1x64xf32>
  %y8 = pquant.int8_linear %q, %s, %w8, %s8 : tensor<1x64xi8>, tensor<1xf32>, tensor<16x64xi8>, tensor<16xf32> -> tensor<1x16xf32>
  return %y, %y8 : tensor<1x64xf32>, tensor<1x16xf32>
}

// -----

// A persistent entry point: one kernel of 1024-thread blocks whose stages
// are the kernels above, each called for every block of its grid by the
// resident blocks: the norm's and the BitLinear's (1024 threads) by whole
// blocks, the int8 linear's (256 threads) by groups of 256 threads, whose
// barriers become the group's own (barrier.sync 1 + group, 256). Block and
// thread indices and shared memory become the stage's last arguments. The
// BitLinear reads what the norm wrote and the int8 linear what the
// BitLinear stored, so grid barriers separate them; the residual add is in
// the BitLinear's epilogue. Buffers written in the same kernel are loaded
// without `invariant` (ld.global, not ld.global.nc); weights keep it.

// The runtime chooses: the persistent kernel or the kernels one by one.
// PERSISTENT: pquant.gpu.kernels = ["persistent_block", "rms_norm_64_nw_eps0x3727c5ac", "bitlinear_k64_t1_b1024_qs_n32_n64a", "int8_linear_16x64_m1"]
// PERSISTENT: func.func private @pquant_gpu_launch_persistent(!llvm.ptr, i32, i64, i64, i32, !llvm.ptr)
// PERSISTENT: func.func private @pquant_gpu_persistent(!llvm.ptr) -> i32
// PERSISTENT-LABEL: func.func @pquant_gpu_entry_block(
// PERSISTENT: call @pquant_gpu_scratch
// PERSISTENT: %[[CHOICE:.*]] = call @pquant_gpu_persistent(%{{.*}}) : (!llvm.ptr) -> i32
// PERSISTENT: %[[ON:.*]] = arith.cmpi ne, %[[CHOICE]]
// PERSISTENT: scf.if %[[ON]] {
// PERSISTENT: call @pquant_gpu_launch_persistent(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, i32, i64, i64, i32, !llvm.ptr) -> ()
// PERSISTENT: } else {
// PERSISTENT-COUNT-3: call @pquant_gpu_launch(
// PERSISTENT: gpu.module @pquant_kernels
// PERSISTENT: llvm.mlir.global internal @persistent_block_shared() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<{{[0-9]+}} x i8>
// PERSISTENT-LABEL: gpu.func @persistent_block(
// PERSISTENT-SAME: kernel attributes {known_block_size = array<i32: 1024, 1, 1>, nvvm.minctasm = 1 : i32}
// PERSISTENT: gpu.grid_dim x
// PERSISTENT: scf.for
// PERSISTENT: llvm.call @rms_norm_64_nw_eps0x3727c5ac_stage_
// PERSISTENT: gpu.barrier
// PERSISTENT: gpu.barrier
// PERSISTENT: llvm.fence syncscope("device") acq_rel
// PERSISTENT: llvm.atomicrmw add %{{.*}}, %{{.*}} syncscope("device") acq_rel
// PERSISTENT: scf.while
// PERSISTENT: llvm.load %{{.*}} atomic syncscope("device") acquire
// PERSISTENT: gpu.barrier
// PERSISTENT: scf.for
// PERSISTENT: llvm.call @bitlinear_k64_t1_b1024_qs_n32_n64a_stage_
// PERSISTENT: llvm.atomicrmw add %{{.*}}, %{{.*}} syncscope("device") acq_rel
// PERSISTENT: scf.for
// PERSISTENT: llvm.call @int8_linear_16x64_m1_group_stage_
// PERSISTENT: llvm.call_intrinsic "llvm.nvvm.barrier.cta.sync.count"
// PERSISTENT-NOT: llvm.atomicrmw
// PERSISTENT: gpu.return
// PERSISTENT: llvm.func internal @rms_norm_64_nw_eps0x3727c5ac_stage_{{[rw]+}}({{.*}}) attributes {no_inline}
// PERSISTENT-NOT: gpu.block_id
// PERSISTENT: llvm.return
// PERSISTENT: llvm.func internal @bitlinear_k64_t1_b1024_qs_n32_n64a_stage_{{[rw]+}}({{.*}}) attributes {no_inline}
// PERSISTENT-NOT: nvvm.griddepcontrol
// PERSISTENT: llvm.load %{{.*}} invariant {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// PERSISTENT-NOT: nvvm.griddepcontrol
// PERSISTENT: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// PERSISTENT: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<4xi32>
// PERSISTENT: llvm.func internal @int8_linear_16x64_m1_group_stage_{{[rw]+}}({{.*}}) attributes {no_inline}
// PERSISTENT-NOT: gpu.barrier
// PERSISTENT: llvm.return

// -----

// The FFN of a pQuant layer in decode: the norm (with its weight) feeds the
// router and the weightless subln norm, whose quantize is the gate/up GEMV's
// prologue. That prologue computes both norms from x (two f64 reductions),
// so the GEMV does not read the norm kernel's output and the norm + router
// kernel runs beside it, as block 0 of one launch; the experts' gate/up
// (reading q and s, stored by the GEMV's block 0, and the router's experts)
// runs beside the down GEMV. 3 launches, 8 kernels before.

!wg = tensor<5x1x8x4xi32, #pquant.packed<rows = 40, cols = 64, word = 32, tile = [8, 4], bit_order = lsb_first>>
!wd = tensor<8x1x8x4xi32, #pquant.packed<rows = 64, cols = 40, word = 32, tile = [8, 4], bit_order = lsb_first>>
// CHECK-LABEL: pquant.gpu.kernels = ["fused__rms_norm_64_wf16_eps0x3727c5ac_router_4x64_k1__bitlinear_k64_t1_b1024_qnorm_wf16_eps0x3727c5ac_norm_nw_eps0x3727c5ac_s_silu_n40_n40", "fused__bitlinear_k40_t1_b1024_q_n64__expert_linear_4x16x64_k1_slot0_m2", "expert_linear_4x64x16_k1_slot0_m1_qsilu_mul__combine_a0x40000000_b0x3e800000_gated_residual"]
// CHECK-LABEL: func.func @pquant_gpu_entry_moe(
// CHECK-COUNT-3: call @pquant_gpu_launch(
// CHECK-NOT: call @pquant_gpu_launch(
// CHECK-LABEL: gpu.func @fused__rms_norm_64_wf16_eps0x3727c5ac_router_4x64_k1__bitlinear
// CHECK-SAME: known_block_size = array<i32: 1024, 1, 1>
// CHECK: %[[BID:.*]] = arith.index_castui %block_id_x
// CHECK: %[[ROUTER:.*]] = arith.cmpi ult, %[[BID]], %c1_i32
// CHECK: scf.if %[[ROUTER]] {
// The router's weights, then the norm's (f16), before the wait.
// CHECK: llvm.load %{{.*}} invariant {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// CHECK: llvm.load %{{.*}} invariant {alignment = 2 : i64} : !llvm.ptr<1> -> f16
// CHECK: nvvm.griddepcontrol wait
// CHECK: llvm.call_intrinsic "llvm.nvvm.sqrt.rn.f"
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 4 : i64} : i32, !llvm.ptr<1>
// CHECK: %[[GEMV:.*]] = arith.cmpi uge, %[[BID]], %c1_i32
// CHECK: scf.if %[[GEMV]] {
// CHECK: %[[V:.*]] = arith.subi %[[BID]], %c1_i32
// Weights and the norm's weight before the wait; then x, not h: two norms.
// CHECK: llvm.load %{{.*}} invariant {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
// CHECK: llvm.load %{{.*}} invariant {alignment = 2 : i64} : !llvm.ptr<1> -> f16
// CHECK: nvvm.griddepcontrol wait
// CHECK: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> f32
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f64
// CHECK: llvm.call_intrinsic "llvm.nvvm.sqrt.rn.f"
// CHECK: arith.mulf %{{.*}}, %{{.*}} : f64
// CHECK: llvm.call_intrinsic "llvm.nvvm.sqrt.rn.f"
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 1 : i64} : i8, !llvm.ptr<3>
// CHECK: nvvm.dot.accumulate.4way
// CHECK: gpu.return
// CHECK-LABEL: gpu.func @fused__bitlinear_k40_t1_b1024_q_n64__expert_linear_4x16x64_k1_slot0_m2(
func.func @moe(%x: tensor<1x64xf32>, %nw: tensor<64xf16>, %wr: tensor<4x64xf32>, %wg: !wg, %wu: !wg, %wd: !wd,
               %ws: tensor<1xf32>, %eg: tensor<4x16x64xi8>, %eu: tensor<4x16x64xi8>, %es: tensor<4x16xf32>,
               %ed: tensor<4x64x16xi8>, %eds: tensor<4x64xf32>) -> tensor<1x64xf32> {
  %h = pquant.rms_norm %x weight(%nw) {eps = 1.0e-05 : f32} : tensor<1x64xf32>, tensor<64xf16>
  %ids, %g = pquant.router %h, %wr {top_k = 1 : i64} : tensor<1x64xf32>, tensor<4x64xf32> -> tensor<1x1xi32>, tensor<1x1xf32>
  %n = pquant.rms_norm %h {eps = 1.0e-05 : f32} : tensor<1x64xf32>
  %q, %s = pquant.quantize %n : tensor<1x64xf32> -> tensor<1x64xi8>, tensor<1xf32>
  %a1 = pquant.bitlinear %q, %s, %wg, %ws : tensor<1x64xi8>, tensor<1xf32>, !wg, tensor<1xf32> -> tensor<1x40xf32>
  %b1 = pquant.bitlinear %q, %s, %wu, %ws : tensor<1x64xi8>, tensor<1xf32>, !wg, tensor<1xf32> -> tensor<1x40xf32>
  %p1 = pquant.silu_mul %a1, %b1 : tensor<1x40xf32>
  %q2, %s2 = pquant.quantize %p1 : tensor<1x40xf32> -> tensor<1x40xi8>, tensor<1xf32>
  %y1 = pquant.bitlinear %q2, %s2, %wd, %ws : tensor<1x40xi8>, tensor<1xf32>, !wd, tensor<1xf32> -> tensor<1x64xf32>
  %a8 = pquant.expert_linear %q, %s, %eg, %es, %ids {slot = 0 : i64} : tensor<1x64xi8>, tensor<1xf32>, tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<1x1xi32> -> tensor<1x16xf32>
  %b8 = pquant.expert_linear %q, %s, %eu, %es, %ids {slot = 0 : i64} : tensor<1x64xi8>, tensor<1xf32>, tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<1x1xi32> -> tensor<1x16xf32>
  %p8 = pquant.silu_mul %a8, %b8 : tensor<1x16xf32>
  %q8, %s8 = pquant.quantize %p8 : tensor<1x16xf32> -> tensor<1x16xi8>, tensor<1xf32>
  %y8 = pquant.expert_linear %q8, %s8, %ed, %eds, %ids {slot = 0 : i64} : tensor<1x16xi8>, tensor<1xf32>, tensor<4x64x16xi8>, tensor<4x64xf32>, tensor<1x1xi32> -> tensor<1x64xf32>
  %c = pquant.combine binary(%y1) experts(%y8) gates(%g) {alpha = 2.0 : f32, beta = 0.25 : f32, gate_weighting} : tensor<1x64xf32>, experts(tensor<1x64xf32>), gates(tensor<1x1xf32>)
  %r = arith.addf %x, %c : tensor<1x64xf32>
  return %r : tensor<1x64xf32>
}

// -----

// A kernel of 256-thread blocks beside one of 1024 (a BitLinear GEMV and an
// RMS norm, independent): four of its blocks run in one of 1024 threads, a
// group of 256 each, with the group's own barrier (barrier 1 + group, 256
// threads) and its own part of the shared memory; its register budget is a
// quarter's. With M unknown (prefill), independent neighbours stay apart.

!w32 = tensor<4x1x8x4xi32, #pquant.packed<rows = 32, cols = 64, word = 32, tile = [8, 4], bit_order = lsb_first>>
// CHECK-LABEL: pquant.gpu.kernels = ["bitlinear_prepare_64", "fused__bitlinear_k64_t1_n32__rms_norm_64_nw_eps0x3727c5ac", "rms_norm_64_nw_eps0x3727c5ac"]
// CHECK-LABEL: func.func @pquant_gpu_entry_grouped(
// CHECK-COUNT-2: call @pquant_gpu_launch(
// CHECK-NOT: call @pquant_gpu_launch(
// CHECK-LABEL: func.func @pquant_gpu_entry_prefill(
// CHECK-COUNT-2: call @pquant_gpu_launch(%{{.*}}, %c2_i32
// CHECK-NOT: call @pquant_gpu_launch(
// CHECK: llvm.mlir.global internal @fused__bitlinear_k64_t1_n32__rms_norm_64_nw_eps0x3727c5ac_part0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<1024 x i8>
// CHECK-LABEL: gpu.func @fused__bitlinear_k64_t1_n32__rms_norm_64_nw_eps0x3727c5ac(
// CHECK-SAME: known_block_size = array<i32: 1024, 1, 1>, nvvm.minctasm = 1 : i32
// CHECK: %[[BID:.*]] = arith.index_castui %block_id_x
// CHECK: %[[TID:.*]] = arith.index_castui %thread_id_x
// CHECK: %[[GEMV:.*]] = arith.cmpi ult, %[[BID]], %c1_i32
// CHECK: %[[POOL:.*]] = llvm.mlir.addressof @fused__bitlinear_k64_t1_n32__rms_norm_64_nw_eps0x3727c5ac_part0
// CHECK: scf.if %[[GEMV]] {
// CHECK: %[[GROUP:.*]] = arith.divui %[[TID]], %c256_i32
// CHECK: %[[BYTES:.*]] = arith.muli %[[GROUP]], %c256_i32
// CHECK: %[[MINE:.*]] = llvm.getelementptr %[[POOL]][%[[BYTES]]]
// CHECK-NOT: gpu.barrier
// CHECK-NOT: @bitlinear_k64_t1_n32_partial
// CHECK: nvvm.griddepcontrol wait
// CHECK: %[[ID:.*]] = arith.addi %[[GROUP]], %c1_i32
// CHECK: llvm.call_intrinsic "llvm.nvvm.barrier.cta.sync.count"(%[[ID]], %c256_i32{{.*}})
// CHECK-NOT: gpu.barrier
// CHECK: %[[NORM:.*]] = arith.cmpi uge, %[[BID]], %c1_i32
// CHECK: scf.if %[[NORM]] {
// CHECK: nvvm.griddepcontrol wait
// CHECK: gpu.barrier
// CHECK: gpu.return
func.func @grouped(%q: tensor<1x64xi8>, %s: tensor<1xf32>, %w: !w32, %ws: tensor<1xf32>, %x: tensor<1x64xf32>) -> (tensor<1x32xf32>, tensor<1x64xf32>) {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x64xi8>, tensor<1xf32>, !w32, tensor<1xf32> -> tensor<1x32xf32>
  %n = pquant.rms_norm %x {eps = 1.0e-05 : f32} : tensor<1x64xf32>
  return %y, %n : tensor<1x32xf32>, tensor<1x64xf32>
}
func.func @prefill(%x: tensor<?x64xf32>, %x2: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %a = pquant.rms_norm %x {eps = 1.0e-05 : f32} : tensor<?x64xf32>
  %b = pquant.rms_norm %x2 {eps = 1.0e-05 : f32} : tensor<?x64xf32>
  return %a, %b : tensor<?x64xf32>, tensor<?x64xf32>
}
