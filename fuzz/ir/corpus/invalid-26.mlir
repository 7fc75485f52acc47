func.func @combine_gates(%y1: tensor<4x16xf32>, %a: tensor<4x16xf32>, %g: tensor<4x2xf32>) {
  %y = pquant.combine binary(%y1) experts(%a) gates(%g) {alpha = 2.0 : f32, beta = 0.2 : f32}
      : tensor<4x16xf32>, experts(tensor<4x16xf32>), gates(tensor<4x2xf32>)
  return
}
