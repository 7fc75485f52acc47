func.func @attention_groups(%q: tensor<4x8x16xf32>, %k: tensor<4x3x16xf32>, %c: memref<1x64x3x16xf32>, %pos: index) {
  %o = pquant.attention %q, %k, %k cache(%c, %c) layer 0 at %pos
      : tensor<4x8x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, memref<1x64x3x16xf32>
  return
}
