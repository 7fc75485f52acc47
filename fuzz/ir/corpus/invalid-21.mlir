func.func @ffn_top_k_zero(%h: tensor<4x64xf32>, %g1: tensor<96x64xi1>, %d1: tensor<64x96xi1>, %s1: tensor<1xf32>,
    %g8: tensor<1x16x64xi8>, %d8: tensor<1x64x16xi8>, %sg8: tensor<1x16xf32>, %sd8: tensor<1x64xf32>) {
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %g1, %s1, %d1, %s1) int8(%g8, %sg8, %g8, %sg8, %d8, %sd8)
      {alpha = 2.0 : f32, beta = 0.2 : f32, top_k = 0 : i64}
      : tensor<4x64xf32>, binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<1xf32>),
        int8(tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x64x16xi8>, tensor<1x64xf32>) -> tensor<4x64xf32>
  return
}
