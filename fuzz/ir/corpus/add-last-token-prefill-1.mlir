// Without a prefill (a single layer, a kernel test) nothing changes.
func.func @decode(%x: tensor<1x64xf32>, %w: tensor<256x64xf32>) -> tensor<1x256xf32> {
  %y = pquant.float_linear %x, %w : tensor<1x64xf32>, tensor<256x64xf32> -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}
