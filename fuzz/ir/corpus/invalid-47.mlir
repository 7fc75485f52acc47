func.func @unknown_op(%x: tensor<4x64xf32>) {
  %y = pquant.frobnicate %x : tensor<4x64xf32>
  return
}
