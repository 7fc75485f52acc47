// Each op becomes a call on buffers; results are fresh buffers; BitLinear
// gets its scratch (bit-planes, activation sums) from the caller. Two ops of
// the same types share one kernel.
// The weight constant loses its encoding: the kernel holds the layout.


// Bit-planes: compare 64 activations with a bit mask, read the predicates as a word.
// The popcount loop: one vector of 4 rows' words against each plane, and a
// prefetch of the same word in the last tile (the tiles are 64 bytes here, so
// 16 KB ahead is past the end, and the index is clamped to the last one).
// 10 rows in tiles of 4: the last tile's store is masked.
#packed = #pquant.packed<rows = 10, cols = 128, word = 64, tile = [4, 1], bit_order = lsb_first>
func.func @layer(%x: tensor<?x128xf32>) -> (tensor<?x10xf32>, tensor<?x10xf32>) {
  %q, %s = pquant.quantize %x : tensor<?x128xf32> -> tensor<?x128xi8>, tensor<?xf32>
  %w = arith.constant dense<6148914691236517205> : tensor<3x2x4x1xi64, #packed>
  %ws = arith.constant dense<1.0> : tensor<1xf32>
  %a = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<3x2x4x1xi64, #packed>, tensor<1xf32> -> tensor<?x10xf32>
  %b = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<3x2x4x1xi64, #packed>, tensor<1xf32> -> tensor<?x10xf32>
  return %a, %b : tensor<?x10xf32>, tensor<?x10xf32>
}
