// Every pquant op parses, verifies, prints, and parses back to the same IR.
// RUN: pquant-opt %s | pquant-opt | FileCheck %s
// RUN: pquant-opt --verify-roundtrip %s -o /dev/null
// RUN: pquant-opt --mlir-print-op-generic %s | pquant-opt | FileCheck %s

#packed = #pquant.packed<rows = 11, cols = 200, word = 32, tile = [4, 2], bit_order = lsb_first>

// CHECK-LABEL: func.func @linear_ops
func.func @linear_ops(%x: tensor<4x200xf32>, %w1: tensor<11x200xi1>,
                      %wp: tensor<3x4x4x2xi32, #packed>, %ws: tensor<1xf32>,
                      %wsn: tensor<11xf32>, %w8: tensor<11x200xi8>,
                      %wf: tensor<256x200xf16>)
    -> (tensor<4x11xf32>, tensor<4x11xf32>, tensor<4x11xf32>, tensor<4x256xf32>) {
  // CHECK: %[[Q:.*]], %[[S:.*]] = pquant.quantize %{{.*}} : tensor<4x200xf32> -> tensor<4x200xi8>, tensor<4xf32>
  %q, %s = pquant.quantize %x : tensor<4x200xf32> -> tensor<4x200xi8>, tensor<4xf32>
  // CHECK: pquant.bitlinear %[[Q]], %[[S]], %{{.*}}, %{{.*}} : tensor<4x200xi8>, tensor<4xf32>, tensor<11x200xi1>, tensor<1xf32> -> tensor<4x11xf32>
  %a = pquant.bitlinear %q, %s, %w1, %ws : tensor<4x200xi8>, tensor<4xf32>, tensor<11x200xi1>, tensor<1xf32> -> tensor<4x11xf32>
  // CHECK: pquant.bitlinear {{.*}} : tensor<4x200xi8>, tensor<4xf32>, tensor<3x4x4x2xi32, #pquant.packed<rows = 11, cols = 200, word = 32, tile = [4, 2], bit_order = lsb_first>>, tensor<11xf32> -> tensor<4x11xf32>
  %b = pquant.bitlinear %q, %s, %wp, %wsn : tensor<4x200xi8>, tensor<4xf32>, tensor<3x4x4x2xi32, #packed>, tensor<11xf32> -> tensor<4x11xf32>
  // CHECK: pquant.int8_linear {{.*}} : tensor<4x200xi8>, tensor<4xf32>, tensor<11x200xi8>, tensor<11xf32> -> tensor<4x11xf32>
  %c = pquant.int8_linear %q, %s, %w8, %wsn : tensor<4x200xi8>, tensor<4xf32>, tensor<11x200xi8>, tensor<11xf32> -> tensor<4x11xf32>
  // CHECK: pquant.float_linear {{.*}} : tensor<4x200xf32>, tensor<256x200xf16> -> tensor<4x256xf32>
  %d = pquant.float_linear %x, %wf : tensor<4x200xf32>, tensor<256x200xf16> -> tensor<4x256xf32>
  return %a, %b, %c, %d : tensor<4x11xf32>, tensor<4x11xf32>, tensor<4x11xf32>, tensor<4x256xf32>
}

// Dynamic token counts verify too: prefill lengths vary at run time.
// CHECK-LABEL: func.func @dynamic_tokens
func.func @dynamic_tokens(%x: tensor<?x64xf32>, %w: tensor<32x64xi1>, %ws: tensor<1xf32>) -> tensor<?x32xf32> {
  // CHECK: pquant.quantize %{{.*}} : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %q, %s = pquant.quantize %x : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x64xi8>, tensor<?xf32>, tensor<32x64xi1>, tensor<1xf32> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// CHECK-LABEL: func.func @decoupled_ffn
func.func @decoupled_ffn(%h: tensor<4x64xf32>,
    %g1: tensor<96x64xi1>, %u1: tensor<96x64xi1>, %d1: tensor<64x96xi1>,
    %s1: tensor<1xf32>, %sd1: tensor<64xf32>,
    %g8: tensor<4x16x64xi8>, %u8: tensor<4x16x64xi8>, %d8: tensor<4x64x16xi8>,
    %sg8: tensor<4x16xf32>, %sd8: tensor<4x64xf32>, %r: tensor<4x64xf32>,
    %dg8: tensor<1x16x64xi8>, %du8: tensor<1x16x64xi8>, %dd8: tensor<1x64x16xi8>,
    %dsg8: tensor<1x16xf32>, %dsd8: tensor<1x64xf32>)
    -> (tensor<4x64xf32>, tensor<4x64xf32>) {
  // CHECK: pquant.decoupled_ffn %{{.*}} binary(%{{.*}}) int8(%{{.*}}) router(%{{.*}}) {alpha = 2.000000e+00 : f32, beta = 2.000000e-01 : f32, gate_weighting, subln, top_k = 2 : i64}
  // CHECK-SAME: : tensor<4x64xf32>, binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<64xf32>), int8(tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<4x64x16xi8>, tensor<4x64xf32>), router(tensor<4x64xf32>) -> tensor<4x64xf32>
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %u1, %s1, %d1, %sd1)
      int8(%g8, %sg8, %u8, %sg8, %d8, %sd8) router(%r)
      {alpha = 2.0 : f32, beta = 0.2 : f32, top_k = 2 : i64, gate_weighting, subln}
      : tensor<4x64xf32>,
        binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<64xf32>),
        int8(tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<4x64x16xi8>, tensor<4x64xf32>),
        router(tensor<4x64xf32>) -> tensor<4x64xf32>
  // A single expert needs no router.
  // CHECK: pquant.decoupled_ffn %{{.*}} binary(%{{.*}}) int8(%{{.*}}) {alpha = 1.500000e+00 : f32, beta = 5.000000e-01 : f32}
  // CHECK-NOT: router
  // CHECK-SAME: -> tensor<4x64xf32>
  %z = pquant.decoupled_ffn %h binary(%g1, %s1, %u1, %s1, %d1, %sd1)
      int8(%dg8, %dsg8, %du8, %dsg8, %dd8, %dsd8) {alpha = 1.5 : f32, beta = 0.5 : f32}
      : tensor<4x64xf32>,
        binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<64xf32>),
        int8(tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x64x16xi8>, tensor<1x64xf32>)
        -> tensor<4x64xf32>
  return %y, %z : tensor<4x64xf32>, tensor<4x64xf32>
}

// CHECK-LABEL: func.func @routing
func.func @routing(%h: tensor<4x64xf32>, %r: tensor<8x64xf32>, %q: tensor<4x64xi8>,
                   %s: tensor<4xf32>, %w: tensor<8x16x64xi8>, %ws: tensor<8x16xf32>,
                   %y1: tensor<4x16xf32>) -> tensor<4x16xf32> {
  // CHECK: %[[IDS:.*]], %[[GATES:.*]] = pquant.router %{{.*}}, %{{.*}} {top_k = 2 : i64} : tensor<4x64xf32>, tensor<8x64xf32> -> tensor<4x2xi32>, tensor<4x2xf32>
  %ids, %gates = pquant.router %h, %r {top_k = 2 : i64} : tensor<4x64xf32>, tensor<8x64xf32> -> tensor<4x2xi32>, tensor<4x2xf32>
  // CHECK: pquant.expert_linear %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[IDS]] {slot = 0 : i64}
  %a = pquant.expert_linear %q, %s, %w, %ws, %ids {slot = 0 : i64} : tensor<4x64xi8>, tensor<4xf32>, tensor<8x16x64xi8>, tensor<8x16xf32>, tensor<4x2xi32> -> tensor<4x16xf32>
  // CHECK: pquant.expert_linear {{.*}} {slot = 1 : i64}
  %b = pquant.expert_linear %q, %s, %w, %ws, %ids {slot = 1 : i64} : tensor<4x64xi8>, tensor<4xf32>, tensor<8x16x64xi8>, tensor<8x16xf32>, tensor<4x2xi32> -> tensor<4x16xf32>
  // CHECK: pquant.combine binary(%{{.*}}) experts(%{{.*}}, %{{.*}}) gates(%[[GATES]]) {alpha = 2.000000e+00 : f32, beta = 2.000000e-01 : f32, gate_weighting} : tensor<4x16xf32>, experts(tensor<4x16xf32>, tensor<4x16xf32>), gates(tensor<4x2xf32>)
  %c = pquant.combine binary(%y1) experts(%a, %b) gates(%gates) {alpha = 2.0 : f32, beta = 0.2 : f32, gate_weighting}
      : tensor<4x16xf32>, experts(tensor<4x16xf32>, tensor<4x16xf32>), gates(tensor<4x2xf32>)
  // CHECK: pquant.combine binary(%{{.*}}) experts(%{{.*}}) {alpha = 2.000000e+00 : f32, beta = 2.000000e-01 : f32} : tensor<4x16xf32>, experts(tensor<4x16xf32>)
  %d = pquant.combine binary(%c) experts(%a) {alpha = 2.0 : f32, beta = 0.2 : f32} : tensor<4x16xf32>, experts(tensor<4x16xf32>)
  return %d : tensor<4x16xf32>
}

// CHECK-LABEL: func.func @decoder_ops
func.func @decoder_ops(%tok: tensor<4xi32>, %pos: tensor<4xi32>, %start: index,
                       %kc: memref<2x64x2x16xf16>, %vc: memref<2x64x2x16xf16>)
    -> (tensor<4x8x16xf32>, tensor<4x64xf32>) {
  // CHECK: pquant.weight "embed.weight" : tensor<256x64xf16>
  %table = pquant.weight "embed.weight" : tensor<256x64xf16>
  %nw = pquant.weight "layers.0.attn_norm.weight" : tensor<64xf32>
  // CHECK: pquant.weight "lm_head.weight" quantized int8_rows : tensor<256x64xi8>
  %hq = pquant.weight "lm_head.weight" quantized int8_rows : tensor<256x64xi8>
  // CHECK: pquant.weight "lm_head.weight" quantized int8_row_scales : tensor<256xf32>
  %hs = pquant.weight "lm_head.weight" quantized int8_row_scales : tensor<256xf32>
  // CHECK: pquant.embedding %{{.*}}, %{{.*}} : tensor<256x64xf16>, tensor<4xi32> -> tensor<4x64xf32>
  %x = pquant.embedding %table, %tok : tensor<256x64xf16>, tensor<4xi32> -> tensor<4x64xf32>
  %eq = pquant.weight "embed.weight" quantized int8_rows : tensor<256x64xi8>
  %es = pquant.weight "embed.weight" quantized int8_row_scales : tensor<256xf32>
  // CHECK: pquant.embedding %{{.*}}, %{{.*}} scales(%{{.*}}) : tensor<256x64xi8>, tensor<4xi32>, tensor<256xf32> -> tensor<4x64xf32>
  %xq = pquant.embedding %eq, %tok scales(%es) : tensor<256x64xi8>, tensor<4xi32>, tensor<256xf32> -> tensor<4x64xf32>
  // CHECK: pquant.rms_norm %{{.*}} weight(%{{.*}}) {eps = 9.99999997E-7 : f32} : tensor<4x64xf32>, tensor<64xf32>
  %n = pquant.rms_norm %x weight(%nw) {eps = 1.0e-6 : f32} : tensor<4x64xf32>, tensor<64xf32>
  // CHECK: pquant.rms_norm %{{.*}} : tensor<4x64xf32>
  %n2 = pquant.rms_norm %n : tensor<4x64xf32>
  // CHECK: pquant.silu_mul %{{.*}}, %{{.*}} : tensor<4x64xf32>
  %g = pquant.silu_mul %n, %n2 : tensor<4x64xf32>
  %q = pquant.weight "q" : tensor<4x8x16xf32>
  %k = pquant.weight "k" : tensor<4x2x16xf32>
  // CHECK: pquant.rope %{{.*}}, %{{.*}} {theta = 5.000000e+05 : f32} : tensor<4x8x16xf32>, tensor<4xi32>
  %qr = pquant.rope %q, %pos {theta = 500000.0 : f32} : tensor<4x8x16xf32>, tensor<4xi32>
  // CHECK: pquant.rope %{{.*}}, %{{.*}} : tensor<4x2x16xf32>, tensor<4xi32>
  %kr = pquant.rope %k, %pos : tensor<4x2x16xf32>, tensor<4xi32>
  // CHECK: pquant.attention %{{.*}}, %{{.*}}, %{{.*}} cache(%{{.*}}, %{{.*}}) layer 1 at %{{.*}} : tensor<4x8x16xf32>, tensor<4x2x16xf32>, tensor<4x2x16xf32>, memref<2x64x2x16xf16>
  %o = pquant.attention %qr, %kr, %k cache(%kc, %vc) layer 1 at %start
      : tensor<4x8x16xf32>, tensor<4x2x16xf32>, tensor<4x2x16xf32>, memref<2x64x2x16xf16>
  return %o, %g : tensor<4x8x16xf32>, tensor<4x64xf32>
}

// CHECK-LABEL: func.func @kernel_vector_ops
func.func @kernel_vector_ops(%acc: vector<16xi32>, %a: vector<64xi8>, %b: vector<64xi8>) -> vector<16xi32> {
  // CHECK: pquant.dot4 %{{.*}}, %{{.*}}, %{{.*}} {unsigned_lhs} : vector<16xi32>, vector<64xi8>
  %r = pquant.dot4 %acc, %a, %b {unsigned_lhs} : vector<16xi32>, vector<64xi8>
  return %r : vector<16xi32>
}

// CHECK-LABEL: func.func @lookup_bytes
func.func @lookup_bytes(%low: vector<64xi8>, %index: vector<64xi8>, %high: vector<64xi8>) -> vector<64xi8> {
  // CHECK: pquant.lookup_bytes %{{.*}}, %{{.*}}, %{{.*}} : vector<64xi8>
  %r = pquant.lookup_bytes %low, %index, %high : vector<64xi8>
  return %r : vector<64xi8>
}
