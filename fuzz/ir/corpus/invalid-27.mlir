func.func @combine_weighting(%y1: tensor<4x16xf32>, %a: tensor<4x16xf32>) {
  %y = pquant.combine binary(%y1) experts(%a) {alpha = 2.0 : f32, beta = 0.2 : f32, gate_weighting}
      : tensor<4x16xf32>, experts(tensor<4x16xf32>)
  return
}
