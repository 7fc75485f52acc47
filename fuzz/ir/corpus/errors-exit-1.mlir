func.func @element_type(%x: tensor<4x64xf16>) {
  %q, %s = pquant.quantize %x : tensor<4x64xf16> -> tensor<4x64xi8>, tensor<4xf32>
  return
}
