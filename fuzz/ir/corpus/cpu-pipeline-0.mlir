// pquant-cpu-pipeline takes pquant IR to the LLVM dialect; the target
// decides the packing (8 rows of 64-bit words per zmm on znver4, 2 per NEON
// register) and, per op, the BitLinear kernel.

// The tile loops run as tasks on the runtime's threads.

func.func @decode(%x: tensor<1x128xf32>) -> tensor<1x16xf32> {
  %q, %s = pquant.quantize %x : tensor<1x128xf32> -> tensor<1x128xi8>, tensor<1xf32>
  %w = arith.constant dense<true> : tensor<16x128xi1>
  %ws = arith.constant dense<0.5> : tensor<1xf32>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x128xi8>, tensor<1xf32>, tensor<16x128xi1>, tensor<1xf32> -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

func.func @prefill(%x: tensor<?x128xf32>) -> tensor<?x16xf32> {
  %q, %s = pquant.quantize %x : tensor<?x128xf32> -> tensor<?x128xi8>, tensor<?xf32>
  %w = arith.constant dense<true> : tensor<16x128xi1>
  %ws = arith.constant dense<0.5> : tensor<1xf32>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x128xi8>, tensor<?xf32>, tensor<16x128xi1>, tensor<1xf32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
