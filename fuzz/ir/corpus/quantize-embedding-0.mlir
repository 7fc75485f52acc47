// The float table becomes its per-row int8 form and scales; the float
// weight goes.
func.func @embed(%t: tensor<?xi32>) -> tensor<?x64xf32> {
  %w = pquant.weight "embed.weight" : tensor<256x64xf16>
  %x = pquant.embedding %w, %t : tensor<256x64xf16>, tensor<?xi32> -> tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}
