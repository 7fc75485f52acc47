func.func @float_linear_k(%x: tensor<1x64xf32>, %w: tensor<256x32xf16>) {
  %y = pquant.float_linear %x, %w : tensor<1x64xf32>, tensor<256x32xf16> -> tensor<1x256xf32>
  return
}
