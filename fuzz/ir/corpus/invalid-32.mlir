func.func @embedding_width(%t: tensor<256x64xf32>, %tok: tensor<4xi32>) {
  %x = pquant.embedding %t, %tok : tensor<256x64xf32>, tensor<4xi32> -> tensor<4x32xf32>
  return
}
