// The pass also runs nested on functions only, as pipelines schedule it.

// Four experts, top-2, gate weighting and subln: the router reads the
// un-normed input, each slot reads only its expert's weights, and combine
// applies alpha, beta and the gates.
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
