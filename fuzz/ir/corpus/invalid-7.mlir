func.func @quantize_type(%x: tensor<4x64xi32>) {
  %q, %s = pquant.quantize %x : tensor<4x64xi32> -> tensor<4x64xi8>, tensor<4xf32>
  return
}
