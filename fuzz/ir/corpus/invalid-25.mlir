func.func @expert_count(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<8x16x64xi8>, %ws: tensor<4x16xf32>, %ids: tensor<4x1xi32>) {
  %y = pquant.expert_linear %q, %s, %w, %ws, %ids {slot = 0 : i64} : tensor<4x64xi8>, tensor<4xf32>, tensor<8x16x64xi8>, tensor<4x16xf32>, tensor<4x1xi32> -> tensor<4x16xf32>
  return
}
