// A weight not packed for the bit-serial kernel is an error that says what to run.
func.func @unpacked(%q: tensor<?x64xi8>, %s: tensor<?xf32>, %w: tensor<8x64xi1>, %ws: tensor<1xf32>) -> tensor<?x8xf32> {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x64xi8>, tensor<?xf32>, tensor<8x64xi1>, tensor<1xf32> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
