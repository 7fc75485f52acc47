// Expert dispatch: token m reads the rows of expert experts[m, slot] only;
// without sdot the weights enter the byte dot product offset by 128.
func.func @experts(%q: tensor<?x64xi8>, %s: tensor<?xf32>, %w: tensor<4x16x64xi8>, %ws: tensor<4x16xf32>, %ids: tensor<?x2xi32>) -> tensor<?x16xf32> {
  %y = pquant.expert_linear %q, %s, %w, %ws, %ids {slot = 1 : i64} : tensor<?x64xi8>, tensor<?xf32>, tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<?x2xi32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
