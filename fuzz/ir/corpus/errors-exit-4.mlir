func.func @syntax(%x: tensor<4x64xf32>) {
  %q, %s = pquant.quantize %x tensor<4x64xf32>
  return
}
