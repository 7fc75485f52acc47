func.func @embedding_int8_without_scales(%t: tensor<256x64xi8>, %tok: tensor<4xi32>) {
  %x = pquant.embedding %t, %tok : tensor<256x64xi8>, tensor<4xi32> -> tensor<4x64xf32>
  return
}
