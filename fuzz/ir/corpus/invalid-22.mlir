func.func @router_top_k(%h: tensor<4x64xf32>, %r: tensor<2x64xf32>) {
  %ids, %g = pquant.router %h, %r {top_k = 3 : i64} : tensor<4x64xf32>, tensor<2x64xf32> -> tensor<4x3xi32>, tensor<4x3xf32>
  return
}
