func.func @expert_slot(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<8x16x64xi8>, %ws: tensor<8x16xf32>, %ids: tensor<4x1xi32>) {
  %y = pquant.expert_linear %q, %s, %w, %ws, %ids {slot = 1 : i64} : tensor<4x64xi8>, tensor<4xf32>, tensor<8x16x64xi8>, tensor<8x16xf32>, tensor<4x1xi32> -> tensor<4x16xf32>
  return
}
