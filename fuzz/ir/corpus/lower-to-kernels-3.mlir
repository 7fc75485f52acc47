// A tile too large for L1 (8 rows x 8192 bytes) stays bit-serial even for
// several tokens.
#wide = #pquant.packed<rows = 8, cols = 8192, word = 64, tile = [8, 1], bit_order = lsb_first>
func.func @wide(%q: tensor<?x8192xi8>, %s: tensor<?xf32>, %ws: tensor<1xf32>) -> tensor<?x8xf32> {
  %w = arith.constant dense<0> : tensor<1x128x8x1xi64, #wide>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x8192xi8>, tensor<?xf32>, tensor<1x128x8x1xi64, #wide>, tensor<1xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
