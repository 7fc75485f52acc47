func.func @layer(%x: tensor<?x10xf32>) -> tensor<?x3xf32> {
  %q, %s = pquant.quantize %x : tensor<?x10xf32> -> tensor<?x10xi8>, tensor<?xf32>
  %w = arith.constant dense<[[true, false, false, false, false, false, false, false, true, true],
                             [false, true, false, false, false, false, false, true, false, true],
                             [true, true, true, true, true, true, true, true, true, true]]> : tensor<3x10xi1>
  %ws = arith.constant dense<[0.5]> : tensor<1xf32>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x10xi8>, tensor<?xf32>, tensor<3x10xi1>, tensor<1xf32> -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}
