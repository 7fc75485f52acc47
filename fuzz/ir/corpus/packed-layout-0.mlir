// The #pquant.packed encoding round-trips for every word width and bit
// order, and its storage shape accounts for padding rows and columns.

// 5 rows x 9 columns in bytes: 2 words per row, no tiling.
func.func @bytes(%w: tensor<5x2x1x1xi8, #pquant.packed<rows = 5, cols = 9, word = 8, tile = [1, 1], bit_order = msb_first>>) {
  return
}

// 2048 x 5460 in 64-bit words, 8 interleaved rows per tile: 86 words per row.
func.func @words64(%w: tensor<256x86x8x1xi64, #pquant.packed<rows = 2048, cols = 5460, word = 64, tile = [8, 1], bit_order = lsb_first>>) {
  return
}

// 16-bit words, tiles of 3 rows x 4 words: 10 rows pad to 12, 100 columns
// are 7 words that pad to 8.
func.func @words16(%w: tensor<4x2x3x4xi16, #pquant.packed<rows = 10, cols = 100, word = 16, tile = [3, 4], bit_order = lsb_first>>) {
  return
}
