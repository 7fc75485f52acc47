func.func @prefill(%x: tensor<?x64xf32>, %w: tensor<256x64xf32>) -> tensor<?x256xf32> {
  %y = pquant.float_linear %x, %w : tensor<?x64xf32>, tensor<256x64xf32> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
func.func private @prefill_last()
