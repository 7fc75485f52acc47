// The unpack-dot kernel: (token group, tile) pairs in parallel, each tile
// unpacked into bytes on its thread's stack (4 rows x 128 bytes), then dot
// products for every token of the group, summed on the stack (240 tokens x
// 4 rows).
// Each token's 4 row accumulators meet in one reduction tree: 2 halving
// steps across rows, 2 within, giving the tile's 4 sums.

// The cost model: with a fast vector popcount, bit-serial for one token and
// the dot product for several while a tile of unpacked bytes (4 x 128 here)
// fits in L1.
// Without fast popcount, the dot instruction for every token count.
#layout = #pquant.packed<rows = 4, cols = 128, word = 64, tile = [4, 1], bit_order = lsb_first>
func.func @auto(%q1: tensor<1x128xi8>, %s1: tensor<1xf32>, %q: tensor<?x128xi8>, %s: tensor<?xf32>, %ws: tensor<1xf32>) -> (tensor<1x4xf32>, tensor<?x4xf32>) {
  %w = arith.constant dense<0> : tensor<1x2x4x1xi64, #layout>
  %a = pquant.bitlinear %q1, %s1, %w, %ws : tensor<1x128xi8>, tensor<1xf32>, tensor<1x2x4x1xi64, #layout>, tensor<1xf32> -> tensor<1x4xf32>
  %b = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<1x2x4x1xi64, #layout>, tensor<1xf32> -> tensor<?x4xf32>
  return %a, %b : tensor<1x4xf32>, tensor<?x4xf32>
}
