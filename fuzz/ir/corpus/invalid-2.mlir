func.func @bad_shape(%w: tensor<1x1x1x1xi8, #pquant.packed<rows = 0, cols = 8, word = 8, tile = [1, 1], bit_order = lsb_first>>)
