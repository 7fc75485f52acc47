// Repacking an already packed constant gives the same words as packing the bits directly.

// The 3 x 10 matrix (1 = +1), columns 0..9:
//   row 0: 1 0 0 0 0 0 0 0 1 1
//   row 1: 0 1 0 0 0 0 0 1 0 1
//   row 2: 1 1 1 1 1 1 1 1 1 1
// Bytes, LSB first:  row 0 = 01 03, row 1 = 82 02, row 2 = FF 03.
// Tiles of 2 rows x 1 byte, storage [2, 2, 2, 1]: (r0 w0, r1 w0), (r0 w1, r1 w1),
// (r2 w0, pad), (r2 w1, pad) = 01 82 03 02 FF 00 03 00; blobs start with
// their alignment (16 = 10 00 00 00).
// MSB first: row 0 = 80 C0, row 1 = 41 40, row 2 = FF C0.
// 16-bit words, LSB first, little endian: row 0 = 0x0301, row 1 = 0x0282, row 2 = 0x03FF.

func.func @constant(%q: tensor<1x10xi8>, %s: tensor<1xf32>, %ws: tensor<1xf32>) -> tensor<1x3xf32> {
  %w = arith.constant dense<[[true, false, false, false, false, false, false, false, true, true],
                             [false, true, false, false, false, false, false, true, false, true],
                             [true, true, true, true, true, true, true, true, true, true]]> : tensor<3x10xi1>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x10xi8>, tensor<1xf32>, tensor<3x10xi1>, tensor<1xf32> -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}
