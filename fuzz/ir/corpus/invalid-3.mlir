func.func @bad_order(%w: tensor<1x1x1x1xi8, #pquant.packed<rows = 1, cols = 8, word = 8, tile = [1, 1], bit_order = middle_first>>)
