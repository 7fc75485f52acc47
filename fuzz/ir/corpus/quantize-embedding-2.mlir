func.func @constant(%t: tensor<1xi32>) -> tensor<1x4xf32> {
  %w = arith.constant dense<1.0> : tensor<2x4xf32>
  %x = pquant.embedding %w, %t : tensor<2x4xf32>, tensor<1xi32> -> tensor<1x4xf32>
  return %x : tensor<1x4xf32>
}
