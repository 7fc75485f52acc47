func.func @unknown(%x: tensor<4x64xf32>) {
  %y = pquant.nonsense %x : tensor<4x64xf32>
  return
}
