// A weight not packed for the bit-serial kernel is an error that says what to run.
// RUN: %expect_exit 1 pquant-opt %s --pquant-lower-to-kernels -o /dev/null 2>&1 | FileCheck %s --check-prefix=ERR
// ERR: error: 'pquant.bitlinear' op needs its weight packed in 64-bit words, lsb_first, with tile = [R, 1] for the BitLinear kernels
// ERR: note: run pquant-pack-weights with word=64 tile-words=1 first
func.func @unpacked(%q: tensor<?x64xi8>, %s: tensor<?xf32>, %w: tensor<8x64xi1>, %ws: tensor<1xf32>) -> tensor<?x8xf32> {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x64xi8>, tensor<?xf32>, tensor<8x64xi1>, tensor<1xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
