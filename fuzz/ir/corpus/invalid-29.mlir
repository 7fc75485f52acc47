func.func @combine_empty(%y1: tensor<4x16xf32>) {
  // The custom syntax cannot even spell an empty list; the generic form can.
  %y = "pquant.combine"(%y1) <{alpha = 2.0 : f32, beta = 0.2 : f32, operandSegmentSizes = array<i32: 1, 0, 0>}>
      : (tensor<4x16xf32>) -> tensor<4x16xf32>
  return
}
