func.func @attention_head_dim(%q: tensor<4x8x16xf32>, %k: tensor<4x2x8xf32>, %c: memref<1x64x2x8xf32>, %pos: index) {
  %o = pquant.attention %q, %k, %k cache(%c, %c) layer 0 at %pos
      : tensor<4x8x16xf32>, tensor<4x2x8xf32>, tensor<4x2x8xf32>, memref<1x64x2x8xf32>
  return
}
