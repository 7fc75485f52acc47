func.func @weight_int8_rows_not_i8() -> tensor<4x8xf32> {
  %w = pquant.weight "lm_head.weight" quantized int8_rows : tensor<4x8xf32>
  return %w : tensor<4x8xf32>
}
