// RUN: pquant-opt %s --split-input-file --pquant-decompose-decoupled | FileCheck %s
// The pass also runs nested on functions only, as pipelines schedule it.
// RUN: pquant-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(pquant-decompose-decoupled))' | FileCheck %s

// Four experts, top-2, gate weighting and subln: the router reads the
// un-normed input, each slot reads only its expert's weights, and combine
// applies alpha, beta and the gates.
// CHECK-LABEL: func.func @routed
// CHECK-SAME: (%[[H:[^:]+]]: tensor<4x64xf32>, %[[G1:[^:]+]]: tensor<96x64xi1>, %[[U1:[^:]+]]: tensor<96x64xi1>, %[[D1:[^:]+]]: tensor<64x96xi1>, %[[S1:[^:]+]]: tensor<1xf32>, %[[SD1:[^:]+]]: tensor<64xf32>, %[[G8:[^:]+]]: tensor<4x16x64xi8>, %[[U8:[^:]+]]: tensor<4x16x64xi8>, %[[D8:[^:]+]]: tensor<4x64x16xi8>, %[[SG8:[^:]+]]: tensor<4x16xf32>, %[[SD8:[^:]+]]: tensor<4x64xf32>, %[[R:[^:]+]]: tensor<4x64xf32>)
// CHECK:      %[[X:.*]] = pquant.rms_norm %[[H]] {eps = 9.99999997E-7 : f32} : tensor<4x64xf32>
// CHECK-NEXT: %[[Q:.*]], %[[S:.*]] = pquant.quantize %[[X]] : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4xf32>
// CHECK-NEXT: %[[A:.*]] = pquant.bitlinear %[[Q]], %[[S]], %[[G1]], %[[S1]] : {{.*}} -> tensor<4x96xf32>
// CHECK-NEXT: %[[B:.*]] = pquant.bitlinear %[[Q]], %[[S]], %[[U1]], %[[S1]] : {{.*}} -> tensor<4x96xf32>
// CHECK-NEXT: %[[AB:.*]] = pquant.silu_mul %[[A]], %[[B]] : tensor<4x96xf32>
// CHECK-NEXT: %[[Q1:.*]], %[[S1Q:.*]] = pquant.quantize %[[AB]] : tensor<4x96xf32> -> tensor<4x96xi8>, tensor<4xf32>
// CHECK-NEXT: %[[Y1:.*]] = pquant.bitlinear %[[Q1]], %[[S1Q]], %[[D1]], %[[SD1]] : {{.*}} -> tensor<4x64xf32>
// CHECK-NEXT: %[[IDS:.*]], %[[GATES:.*]] = pquant.router %[[H]], %[[R]] {top_k = 2 : i64} : tensor<4x64xf32>, tensor<4x64xf32> -> tensor<4x2xi32>, tensor<4x2xf32>
// CHECK-NEXT: %[[E0G:.*]] = pquant.expert_linear %[[Q]], %[[S]], %[[G8]], %[[SG8]], %[[IDS]] {slot = 0 : i64} {{.*}} -> tensor<4x16xf32>
// CHECK-NEXT: %[[E0U:.*]] = pquant.expert_linear %[[Q]], %[[S]], %[[U8]], %[[SG8]], %[[IDS]] {slot = 0 : i64} {{.*}} -> tensor<4x16xf32>
// CHECK-NEXT: %[[E0H:.*]] = pquant.silu_mul %[[E0G]], %[[E0U]] : tensor<4x16xf32>
// CHECK-NEXT: %[[E0Q:.*]], %[[E0S:.*]] = pquant.quantize %[[E0H]]
// CHECK-NEXT: %[[E0:.*]] = pquant.expert_linear %[[E0Q]], %[[E0S]], %[[D8]], %[[SD8]], %[[IDS]] {slot = 0 : i64} {{.*}} -> tensor<4x64xf32>
// CHECK-NEXT: %[[E1G:.*]] = pquant.expert_linear %[[Q]], %[[S]], %[[G8]], %[[SG8]], %[[IDS]] {slot = 1 : i64}
// CHECK-NEXT: %[[E1U:.*]] = pquant.expert_linear %[[Q]], %[[S]], %[[U8]], %[[SG8]], %[[IDS]] {slot = 1 : i64}
// CHECK-NEXT: %[[E1H:.*]] = pquant.silu_mul %[[E1G]], %[[E1U]]
// CHECK-NEXT: %[[E1Q:.*]], %[[E1S:.*]] = pquant.quantize %[[E1H]]
// CHECK-NEXT: %[[E1:.*]] = pquant.expert_linear %[[E1Q]], %[[E1S]], %[[D8]], %[[SD8]], %[[IDS]] {slot = 1 : i64}
// CHECK-NEXT: %[[Y:.*]] = pquant.combine binary(%[[Y1]]) experts(%[[E0]], %[[E1]]) gates(%[[GATES]]) {alpha = 2.000000e+00 : f32, beta = 2.000000e-01 : f32, gate_weighting}
// CHECK-NEXT: return %[[Y]]
// CHECK-NOT: pquant.decoupled_ffn
func.func @routed(%h: tensor<4x64xf32>,
    %g1: tensor<96x64xi1>, %u1: tensor<96x64xi1>, %d1: tensor<64x96xi1>,
    %s1: tensor<1xf32>, %sd1: tensor<64xf32>,
    %g8: tensor<4x16x64xi8>, %u8: tensor<4x16x64xi8>, %d8: tensor<4x64x16xi8>,
    %sg8: tensor<4x16xf32>, %sd8: tensor<4x64xf32>, %r: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %u1, %s1, %d1, %sd1)
      int8(%g8, %sg8, %u8, %sg8, %d8, %sd8) router(%r)
      {alpha = 2.0 : f32, beta = 0.2 : f32, top_k = 2 : i64, gate_weighting, subln, eps = 1.0e-6 : f32}
      : tensor<4x64xf32>,
        binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<64xf32>),
        int8(tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<4x64x16xi8>, tensor<4x64xf32>),
        router(tensor<4x64xf32>) -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// -----

// One expert, no subln, packed 1-bit weights and a dynamic token count: no
// router, the expert dimension is collapsed away, the int8 branch is a plain
// int8_linear, and combine has no gates (gate_weighting is dropped since the
// single expert's gate is 1).
// CHECK-LABEL: func.func @dense
// CHECK-SAME: (%[[H:[^:]+]]: tensor<?x64xf32>, %{{[^:]+}}: {{.*}}, %{{[^:]+}}: {{.*}}, %{{[^:]+}}: tensor<1xf32>, %[[G8:[^:]+]]: tensor<1x16x64xi8>, %[[D8:[^:]+]]: tensor<1x64x16xi8>, %[[SG8:[^:]+]]: tensor<1x16xf32>, %[[SD8:[^:]+]]: tensor<1x64xf32>)
// CHECK-NOT:  pquant.rms_norm
// CHECK:      %[[Q:.*]], %[[S:.*]] = pquant.quantize %[[H]] : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
// CHECK:      pquant.bitlinear %[[Q]], %[[S]], {{.*}}#pquant.packed{{.*}} -> tensor<?x96xf32>
// CHECK-NOT:  pquant.router
// CHECK:      %[[GW:.*]] = tensor.collapse_shape %[[G8]] {{\[\[}}0, 1], [2]] : tensor<1x16x64xi8> into tensor<16x64xi8>
// CHECK-NEXT: %[[GS:.*]] = tensor.collapse_shape %[[SG8]] {{\[\[}}0, 1]] : tensor<1x16xf32> into tensor<16xf32>
// CHECK:      %[[DW:.*]] = tensor.collapse_shape %[[D8]] {{\[\[}}0, 1], [2]] : tensor<1x64x16xi8> into tensor<64x16xi8>
// CHECK-NEXT: %[[DS:.*]] = tensor.collapse_shape %[[SD8]] {{\[\[}}0, 1]] : tensor<1x64xf32> into tensor<64xf32>
// CHECK-NEXT: pquant.int8_linear %[[Q]], %[[S]], %[[GW]], %[[GS]] : tensor<?x64xi8>, tensor<?xf32>, tensor<16x64xi8>, tensor<16xf32> -> tensor<?x16xf32>
// CHECK:      %[[HQ:.*]], %[[HS:.*]] = pquant.quantize %{{.*}} : tensor<?x16xf32> -> tensor<?x16xi8>, tensor<?xf32>
// CHECK-NEXT: pquant.int8_linear %[[HQ]], %[[HS]], %[[DW]], %[[DS]] : {{.*}} -> tensor<?x64xf32>
// CHECK:      pquant.combine binary(%{{.*}}) experts(%{{.*}}) {alpha = 1.500000e+00 : f32, beta = 5.000000e-01 : f32} : tensor<?x64xf32>, experts(tensor<?x64xf32>)
// CHECK-NOT:  pquant.decoupled_ffn
func.func @dense(%h: tensor<?x64xf32>,
    %g1: tensor<24x1x4x2xi32, #pquant.packed<rows = 96, cols = 64, word = 32, tile = [4, 2], bit_order = lsb_first>>,
    %d1: tensor<16x2x4x1xi64, #pquant.packed<rows = 64, cols = 96, word = 64, tile = [4, 1], bit_order = lsb_first>>,
    %s1: tensor<1xf32>,
    %g8: tensor<1x16x64xi8>, %d8: tensor<1x64x16xi8>, %sg8: tensor<1x16xf32>, %sd8: tensor<1x64xf32>) -> tensor<?x64xf32> {
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %g1, %s1, %d1, %s1)
      int8(%g8, %sg8, %g8, %sg8, %d8, %sd8) {alpha = 1.5 : f32, beta = 0.5 : f32, gate_weighting}
      : tensor<?x64xf32>,
        binary(tensor<24x1x4x2xi32, #pquant.packed<rows = 96, cols = 64, word = 32, tile = [4, 2], bit_order = lsb_first>>, tensor<1xf32>,
               tensor<24x1x4x2xi32, #pquant.packed<rows = 96, cols = 64, word = 32, tile = [4, 2], bit_order = lsb_first>>, tensor<1xf32>,
               tensor<16x2x4x1xi64, #pquant.packed<rows = 64, cols = 96, word = 64, tile = [4, 1], bit_order = lsb_first>>, tensor<1xf32>),
        int8(tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x64x16xi8>, tensor<1x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
