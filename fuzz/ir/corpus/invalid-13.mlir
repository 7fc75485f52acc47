func.func @int8_scale(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<16x64xi8>, %ws: tensor<1xf32>) {
  // Int8 weights always carry one scale per output row.
  %y = pquant.int8_linear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<16x64xi8>, tensor<1xf32> -> tensor<4x16xf32>
  return
}
