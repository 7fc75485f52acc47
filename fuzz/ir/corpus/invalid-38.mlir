func.func @rope_odd(%x: tensor<4x8x15xf32>, %p: tensor<4xi32>) {
  %y = pquant.rope %x, %p : tensor<4x8x15xf32>, tensor<4xi32>
  return
}
