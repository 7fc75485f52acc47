func.func @layer(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %y = pquant.rms_norm %x : tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}
