func.func @attention_layer(%q: tensor<4x8x16xf32>, %k: tensor<4x2x16xf32>, %c: memref<2x64x2x16xf32>, %pos: index) {
  %o = pquant.attention %q, %k, %k cache(%c, %c) layer 2 at %pos
      : tensor<4x8x16xf32>, tensor<4x2x16xf32>, tensor<4x2x16xf32>, memref<2x64x2x16xf32>
  return
}
