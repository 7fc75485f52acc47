// Tiles of 3 rows (a pquant-pack-weights option, not a pipeline default)
// cannot meet in one reduction tree: each row's accumulator is reduced on
// its own (this crashed the pass when the tree was taken for any rows).
#rows3 = #pquant.packed<rows = 6, cols = 128, word = 64, tile = [3, 1], bit_order = lsb_first>
func.func @rows3(%q: tensor<?x128xi8>, %s: tensor<?xf32>, %ws: tensor<1xf32>) -> tensor<?x6xf32> {
  %w = arith.constant dense<-1> : tensor<2x2x3x1xi64, #rows3>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<2x2x3x1xi64, #rows3>, tensor<1xf32> -> tensor<?x6xf32>
  return %y : tensor<?x6xf32>
}
