func.func @bad_tile(%w: tensor<1x1x1x1xi8, #pquant.packed<rows = 1, cols = 1, word = 8, tile = [0, 1], bit_order = lsb_first>>)
