func.func @bitlinear_weight_type(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<32x64xi8>, %ws: tensor<1xf32>) {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<32x64xi8>, tensor<1xf32> -> tensor<4x32xf32>
  return
}
