func.func @rms_norm_eps(%x: tensor<4x64xf32>) {
  %y = pquant.rms_norm %x {eps = -1.0e-5 : f32} : tensor<4x64xf32>
  return
}
