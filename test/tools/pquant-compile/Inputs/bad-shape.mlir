// A K mismatch between activations and weights.
func.func @layer(%q: tensor<1x64xi8>, %s: tensor<1xf32>, %ws: tensor<1xf32>) -> tensor<1x32xf32> {
  %w = arith.constant dense<true> : tensor<32x63xi1>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x64xi8>, tensor<1xf32>, tensor<32x63xi1>, tensor<1xf32> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
