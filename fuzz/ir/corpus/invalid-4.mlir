// 11 rows in tiles of 4 need 3 row blocks; 200 columns are 7 words, 4 blocks of 2.
func.func @storage_shape(%w: tensor<3x3x4x2xi32, #pquant.packed<rows = 11, cols = 200, word = 32, tile = [4, 2], bit_order = lsb_first>>)
