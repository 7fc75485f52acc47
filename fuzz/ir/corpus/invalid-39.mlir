func.func @rope_theta(%x: tensor<4x8x16xf32>, %p: tensor<4xi32>) {
  %y = pquant.rope %x, %p {theta = 0.0 : f32} : tensor<4x8x16xf32>, tensor<4xi32>
  return
}
