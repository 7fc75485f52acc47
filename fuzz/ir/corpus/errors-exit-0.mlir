// Malformed pquant IR gets a located diagnostic and exit status 1, never a
// crash: a shape mismatch, a bad element type, a bad attribute, an unknown op
// and a syntax error, each in its own split.

func.func @shape(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<32x63xi1>, %ws: tensor<1xf32>) {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<32x63xi1>, tensor<1xf32> -> tensor<4x32xf32>
  return
}
