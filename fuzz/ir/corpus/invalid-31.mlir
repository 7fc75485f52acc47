func.func @weight_dynamic() {
  %w = pquant.weight "embed.weight" : tensor<?x4xf32>
  return
}
