func.func @router_slots(%h: tensor<4x64xf32>, %r: tensor<8x64xf32>) {
  %ids, %g = pquant.router %h, %r {top_k = 2 : i64} : tensor<4x64xf32>, tensor<8x64xf32> -> tensor<4x1xi32>, tensor<4x2xf32>
  return
}
