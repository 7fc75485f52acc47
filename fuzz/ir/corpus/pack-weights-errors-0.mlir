func.func @argument(%q: tensor<1x10xi8>, %s: tensor<1xf32>, %w: tensor<3x10xi1>, %ws: tensor<1xf32>) -> tensor<1x3xf32> {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x10xi8>, tensor<1xf32>, tensor<3x10xi1>, tensor<1xf32> -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}
