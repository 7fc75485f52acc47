func.func @bitlinear_packed_k(%q: tensor<4x64xi8>, %s: tensor<4xf32>,
    %w: tensor<8x2x4x1xi32, #pquant.packed<rows = 32, cols = 60, word = 32, tile = [4, 1], bit_order = msb_first>>,
    %ws: tensor<1xf32>) {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<8x2x4x1xi32, #pquant.packed<rows = 32, cols = 60, word = 32, tile = [4, 1], bit_order = msb_first>>, tensor<1xf32> -> tensor<4x32xf32>
  return
}
