// RUN: pquant-opt %s --split-input-file --pquant-pack-weights="word=8 tile-rows=2" | FileCheck %s --check-prefix=W8
// RUN: pquant-opt %s --split-input-file --pquant-pack-weights="word=8 tile-rows=2 bit-order=msb_first" | FileCheck %s --check-prefix=MSB
// RUN: pquant-opt %s --split-input-file --pquant-pack-weights="word=16 tile-rows=1" | FileCheck %s --check-prefix=W16
// Repacking an already packed constant gives the same words as packing the bits directly.
// RUN: pquant-opt %s --split-input-file --pquant-pack-weights="word=8 tile-rows=2" --pquant-pack-weights="word=16 tile-rows=1" | FileCheck %s --check-prefix=W16
// RUN: pquant-opt %s --split-input-file --pquant-pack-weights="word=8 tile-rows=2" --verify-roundtrip -o /dev/null
// RUN: pquant-opt %s --split-input-file --pquant-pack-weights="word=64 tile-rows=8" --pquant-pack-weights="word=8 tile-rows=2" | FileCheck %s --check-prefix=W8

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

// W8-LABEL: func.func @constant
// W8:  %[[W:.*]] = arith.constant dense_resource<packed_weight{{(_[0-9]+)?}}> : tensor<2x2x2x1xi8, #pquant.packed<rows = 3, cols = 10, word = 8, tile = [2, 1], bit_order = lsb_first>>
// W8:  pquant.bitlinear %{{.*}}, %{{.*}}, %[[W]], %{{.*}}
// W8:  packed_weight{{(_[0-9]+)?}}: "0x1000000001820302FF000300"
// MSB: packed_weight: "0x100000008041C040FF00C000"
// W16-LABEL: func.func @constant
// W16: tensor<3x1x1x1xi16, #pquant.packed<rows = 3, cols = 10, word = 16, tile = [1, 1], bit_order = lsb_first>>
// W16: packed_weight{{(_[0-9]+)?}}: "0x1000000001038202FF03"
func.func @constant(%q: tensor<1x10xi8>, %s: tensor<1xf32>, %ws: tensor<1xf32>) -> tensor<1x3xf32> {
  %w = arith.constant dense<[[true, false, false, false, false, false, false, false, true, true],
                             [false, true, false, false, false, false, false, true, false, true],
                             [true, true, true, true, true, true, true, true, true, true]]> : tensor<3x10xi1>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x10xi8>, tensor<1xf32>, tensor<3x10xi1>, tensor<1xf32> -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}

// -----

// A checkpoint reference keeps its name and gets the target type; two users
// share one repacked reference.
// W8-LABEL: func.func @reference
// W8:      %[[W:.*]] = pquant.weight "layers.0.attn.q.weight" : tensor<2x2x2x1xi8, #pquant.packed<rows = 3, cols = 10, word = 8, tile = [2, 1], bit_order = lsb_first>>
// W8-NEXT: pquant.bitlinear %{{.*}}, %{{.*}}, %[[W]]
// W8-NEXT: pquant.bitlinear %{{.*}}, %{{.*}}, %[[W]]
// W8-NOT:  pquant.weight
func.func @reference(%q: tensor<1x10xi8>, %s: tensor<1xf32>, %ws: tensor<1xf32>) -> (tensor<1x3xf32>, tensor<1x3xf32>) {
  %w = pquant.weight "layers.0.attn.q.weight" : tensor<3x2x1x1xi8, #pquant.packed<rows = 3, cols = 10, word = 8, tile = [1, 1], bit_order = lsb_first>>
  %a = pquant.bitlinear %q, %s, %w, %ws : tensor<1x10xi8>, tensor<1xf32>, tensor<3x2x1x1xi8, #pquant.packed<rows = 3, cols = 10, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x3xf32>
  %b = pquant.bitlinear %q, %s, %w, %ws : tensor<1x10xi8>, tensor<1xf32>, tensor<3x2x1x1xi8, #pquant.packed<rows = 3, cols = 10, word = 8, tile = [1, 1], bit_order = lsb_first>>, tensor<1xf32> -> tensor<1x3xf32>
  return %a, %b : tensor<1x3xf32>, tensor<1x3xf32>
}
