func.func @embedding_float_with_scales(%t: tensor<256x64xf32>, %tok: tensor<4xi32>, %s: tensor<256xf32>) {
  %x = pquant.embedding %t, %tok scales(%s) : tensor<256x64xf32>, tensor<4xi32>, tensor<256xf32> -> tensor<4x64xf32>
  return
}
