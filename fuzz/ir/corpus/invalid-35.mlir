func.func @embedding_scales_rows(%t: tensor<256x64xi8>, %tok: tensor<4xi32>, %s: tensor<128xf32>) {
  %x = pquant.embedding %t, %tok scales(%s) : tensor<256x64xi8>, tensor<4xi32>, tensor<128xf32> -> tensor<4x64xf32>
  return
}
