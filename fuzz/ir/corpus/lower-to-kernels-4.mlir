// Attention forms q·k and Σ p·v in f64, rounding each once to f32 as the
// reference does. With Dh = 16, each key row folds into 8 f64 lanes (two
// FMAs) and 8 rows are summed by one shuffle tree (3 halving steps across
// rows, then 1 within); the remaining rows are reduced one by one.
func.func @attention(%q: tensor<1x2x16xf32>, %k: tensor<1x1x16xf32>, %v: tensor<1x1x16xf32>,
                     %start: index, %kc: memref<2x8x1x16xf32>, %vc: memref<2x8x1x16xf32>) -> tensor<1x2x16xf32> {
  %o = pquant.attention %q, %k, %v cache(%kc, %vc) layer 1 at %start : tensor<1x2x16xf32>, tensor<1x1x16xf32>, tensor<1x1x16xf32>, memref<2x8x1x16xf32>
  return %o : tensor<1x2x16xf32>
}
