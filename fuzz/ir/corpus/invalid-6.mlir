func.func @quantize_rows(%x: tensor<4x64xf32>) {
  %q, %s = pquant.quantize %x : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<3xf32>
  return
}
