func.func @weight_name() {
  %w = pquant.weight "" : tensor<4xf32>
  return
}
