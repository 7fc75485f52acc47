// prefill stays; prefill_last takes the last row before the final norm and
// the lm_head, which then run on one row.
func.func @prefill(%t: tensor<?xi32>, %e: tensor<256x64xf32>, %n: tensor<64xf32>) -> tensor<?x256xf32> {
  %x = pquant.embedding %e, %t : tensor<256x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %h = arith.addf %x, %x : tensor<?x64xf32>
  %normed = pquant.rms_norm %h weight(%n) : tensor<?x64xf32>, tensor<64xf32>
  %y = pquant.float_linear %normed, %e : tensor<?x64xf32>, tensor<256x64xf32> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
