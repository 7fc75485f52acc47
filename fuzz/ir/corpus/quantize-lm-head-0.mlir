// The float lm_head becomes a quantize of its input and an int8 linear over
// the weight's per-row int8 form and scales; the f32 weight goes.
func.func @head(%x: tensor<?x64xf32>) -> tensor<?x256xf32> {
  %w = pquant.weight "lm_head.weight" : tensor<256x64xf16>
  %y = pquant.float_linear %x, %w : tensor<?x64xf32>, tensor<256x64xf16> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
