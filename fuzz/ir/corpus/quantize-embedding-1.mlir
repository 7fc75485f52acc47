// A tied table also feeds the lm_head: it stays for it.
func.func @tied(%t: tensor<1xi32>) -> tensor<1x256xf32> {
  %w = pquant.weight "embed.weight" : tensor<256x64xf32>
  %x = pquant.embedding %w, %t : tensor<256x64xf32>, tensor<1xi32> -> tensor<1x64xf32>
  %y = pquant.float_linear %x, %w : tensor<1x64xf32>, tensor<256x64xf32> -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}
