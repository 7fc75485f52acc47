func.func @storage_type(%w: tensor<3x4x4x2xi64, #pquant.packed<rows = 11, cols = 200, word = 32, tile = [4, 2], bit_order = lsb_first>>)
