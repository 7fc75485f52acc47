func.func @attr(%w: tensor<1x1x1x1xi7, #pquant.packed<rows = 1, cols = 1, word = 7, tile = [1, 1], bit_order = lsb_first>>)
