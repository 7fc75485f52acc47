func.func @rms_norm_weight(%x: tensor<4x64xf32>, %w: tensor<32xf32>) {
  %y = pquant.rms_norm %x weight(%w) : tensor<4x64xf32>, tensor<32xf32>
  return
}
