// One expert, no subln, packed 1-bit weights and a dynamic token count: no
// router, the expert dimension is collapsed away, the int8 branch is a plain
// int8_linear, and combine has no gates (gate_weighting is dropped since the
// single expert's gate is 1).
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
