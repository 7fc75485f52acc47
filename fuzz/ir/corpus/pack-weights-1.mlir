// A checkpoint reference keeps its name and gets the target type; two users
// share one repacked reference.
func.func @reference(%q: tensor<1x10xi8>, %s: tensor<1xf32>, %ws: tensor<1xf32>) -> (tensor<1x3xf32>, tensor<1x3xf32>) {
  %w = pquant.weight "layers.0.attn.q.weight" : tensor<3x2x1x1xi8, #pquant.packed<rows = 3, cols = 10, word = 8, tile = [1, 1], bit_order = lsb_first>>
  %a = pquant.bitlinear %q, %s, %w, %ws : tensor<1x10xi8>, tensor<1xf32>, tensor<3x2x1x1xi8, #pquant.packed<rows = 3, cols = 10, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x3xf32>
  %b = pquant.bitlinear %q, %s, %w, %ws : tensor<1x10xi8>, tensor<1xf32>, tensor<3x2x1x1xi8, #pquant.packed<rows = 3, cols = 10, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x3xf32>
  return %a, %b : tensor<1x3xf32>, tensor<1x3xf32>
}
