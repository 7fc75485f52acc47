// RUN: pquant-opt %s --pquant-lower-to-gpu="chip=sm_90" -split-input-file | FileCheck %s

// A layer with its weight as an argument: one kernel, host code that loads
// the buffer addresses, asks for no scratch (nothing intermediate) and
// launches kernel 0 with grid ceil(N / 8 rows / 8 row tiles), 256 threads.

// CHECK-LABEL: module attributes {gpu.container_module, pquant.gpu.chip = "sm_90", pquant.gpu.kernels = ["bitlinear_64x200_t1_rowscale"]}
// CHECK: func.func private @pquant_gpu_launch(!llvm.ptr, i32, i64, i64, i64, i64, i64, i64, i64, i32, !llvm.ptr)
// CHECK-LABEL: func.func @pquant_gpu_entry_layer(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: !llvm.ptr)
// CHECK-NOT: call @pquant_gpu_scratch
// CHECK: call @pquant_gpu_launch
// CHECK-NOT: call @pquant_gpu_launch
// CHECK: gpu.module @pquant_kernels [#nvvm.target<O = 3, chip = "sm_90">]
// CHECK: gpu.func @bitlinear_64x200_t1_rowscale(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: i64) kernel attributes {known_block_size = array<i32: 256, 1, 1>}
// CHECK: llvm.load %{{.*}} invariant {alignment = 16 : i64} : !llvm.ptr<1> -> vector<4xi32>
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
// is only known at run time; prefill kernels take 4 tokens per block.

// CHECK-LABEL: module attributes
// CHECK-SAME: pquant.gpu.kernels = ["rms_norm_64_wf32_eps0x3727c5ac", "quantize_64", "bitlinear_32x64_t4"]
// CHECK-SAME: pquant.weights = {size = 832 : i64, tensors = [{name = "norm", offset = 0 : i64, type = tensor<64xf32>}, {name = "w", offset = 256 : i64, type = tensor<4x1x8x4xi32, #pquant.packed<rows = 32, cols = 64, word = 32, tile = [8, 4], bit_order = lsb_first>>}, {name = "ws", offset = 768 : i64, type = tensor<1xf32>}]}
// CHECK-LABEL: func.func @pquant_gpu_entry_prefill(
// CHECK: %[[SCRATCH:.*]] = call @pquant_gpu_scratch
// CHECK-COUNT-3: call @pquant_gpu_launch
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
// written by its own kernel before the attention kernel reads it.

// CHECK-LABEL: module attributes
// CHECK-SAME: pquant.gpu.kernels = ["positions", "rope_2x16_theta0x461c4000", "cache_write_2x1x16_s8_l1", "attention_2x1x16_s8_l1"]
// CHECK: gpu.func @attention_2x1x16_s8_l1
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
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
