func.func @weight_row_scales_not_vector() -> tensor<4x8xf32> {
  %w = pquant.weight "lm_head.weight" quantized int8_row_scales : tensor<4x8xf32>
  return %w : tensor<4x8xf32>
}
