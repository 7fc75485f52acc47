// Every verifier error of the pquant dialect, one case per split.

func.func @bad_word(%w: tensor<1x1x1x1xi12, #pquant.packed<rows = 1, cols = 1, word = 12, tile = [1, 1], bit_order = lsb_first>>)
