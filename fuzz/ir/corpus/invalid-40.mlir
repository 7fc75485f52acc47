func.func @rope_positions(%x: tensor<4x8x16xf32>, %p: tensor<3xi32>) {
  %y = pquant.rope %x, %p : tensor<4x8x16xf32>, tensor<3xi32>
  return
}
