// Malformed pquant IR gets a located diagnostic and exit status 1, never a
// crash: a shape mismatch, a bad element type, a bad attribute, an unknown op
// and a syntax error, each in its own split.
// RUN: %expect_exit 1 pquant-opt %s -split-input-file 2>&1 | FileCheck %s

func.func @shape(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<32x63xi1>, %ws: tensor<1xf32>) {
  // CHECK: errors-exit.mlir:[[@LINE+1]]:8: error: 'pquant.bitlinear' op dimension K mismatch: 'weight' dim 1 is 63 but 'input' dim 1 is 64
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<32x63xi1>, tensor<1xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @element_type(%x: tensor<4x64xf16>) {
  // CHECK: errors-exit.mlir:[[@LINE+1]]:12: error: 'pquant.quantize' op operand #0 must be 2D tensor of 32-bit float values
  %q, %s = pquant.quantize %x : tensor<4x64xf16> -> tensor<4x64xi8>, tensor<4xf32>
  return
}

// -----

// CHECK: errors-exit.mlir:[[@LINE+1]]:54: error: packed word width must be 8, 16, 32 or 64 bits, got 7
func.func @attr(%w: tensor<1x1x1x1xi7, #pquant.packed<rows = 1, cols = 1, word = 7, tile = [1, 1], bit_order = lsb_first>>)

// -----

func.func @unknown(%x: tensor<4x64xf32>) {
  // CHECK: errors-exit.mlir:[[@LINE+1]]:8: error: custom op 'pquant.nonsense' is unknown
  %y = pquant.nonsense %x : tensor<4x64xf32>
  return
}

// -----

func.func @syntax(%x: tensor<4x64xf32>) {
  // CHECK: errors-exit.mlir:[[@LINE+1]]:30: error: expected ':'
  %q, %s = pquant.quantize %x tensor<4x64xf32>
  return
}
