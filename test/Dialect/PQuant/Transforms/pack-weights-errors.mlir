// RUN: pquant-opt %s --split-input-file --pquant-pack-weights -verify-diagnostics
// RUN: %expect_exit 1 pquant-opt %s --pquant-pack-weights="bit-order=sideways" -o /dev/null 2>&1 | FileCheck %s --check-prefix=ORDER
// RUN: %expect_exit 1 pquant-opt %s --pquant-pack-weights="word=12" -o /dev/null 2>&1 | FileCheck %s --check-prefix=WORD

// ORDER: error: pquant-pack-weights: unknown bit-order 'sideways', expected 'lsb_first' or 'msb_first'
// WORD: error: 'pquant.bitlinear' op cannot pack its weight: packed word width must be 8, 16, 32 or 64 bits, got 12

func.func @argument(%q: tensor<1x10xi8>, %s: tensor<1xf32>, %w: tensor<3x10xi1>, %ws: tensor<1xf32>) -> tensor<1x3xf32> {
  // expected-error @+2 {{'pquant.bitlinear' op cannot pack a 1-bit weight that is neither a constant nor a pquant.weight}}
  // expected-note @+1 {{the weight is a block argument; pass it already packed, or as a pquant.weight}}
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x10xi8>, tensor<1xf32>, tensor<3x10xi1>, tensor<1xf32> -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}
