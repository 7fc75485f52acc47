// A row-wise op whose result has other uses ends the copied tail: here
// only the lm_head runs on the last row.
func.func @prefill(%x: tensor<?x64xf32>, %n: tensor<64xf32>, %w: tensor<256x64xf32>, %probe: tensor<8x64xf32>) -> tensor<?x256xf32> {
  %normed = pquant.rms_norm %x weight(%n) : tensor<?x64xf32>, tensor<64xf32>
  %other = pquant.float_linear %normed, %probe : tensor<?x64xf32>, tensor<8x64xf32> -> tensor<?x8xf32>
  %y = pquant.float_linear %normed, %w : tensor<?x64xf32>, tensor<256x64xf32> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
