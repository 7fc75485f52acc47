// Each entry point gets the weights buffer first; a weight used by two entry
// points has one offset; offsets are 64-byte aligned (64 x 4 bytes = 256,
// then a 10-byte tensor rounds up to 64).

// A weight feeding a kernel is the view itself: no tensor round trip.
#packed = #pquant.packed<rows = 3, cols = 10, word = 64, tile = [8, 1], bit_order = lsb_first>
func.func private @kernel(memref<1x1x8x1xi64>)
func.func @prefill(%x: tensor<4x64xf32>) -> (tensor<4x64xf32>, tensor<10xi8>) {
  %w = pquant.weight "norm.weight" : tensor<64xf32>
  %y = pquant.rms_norm %x weight(%w) : tensor<4x64xf32>, tensor<64xf32>
  %s = pquant.weight "small" : tensor<10xi8>
  %p = pquant.weight "packed" : tensor<1x1x8x1xi64, #packed>
  %b = bufferization.to_buffer %p read_only : tensor<1x1x8x1xi64, #packed> to memref<1x1x8x1xi64>
  call @kernel(%b) : (memref<1x1x8x1xi64>) -> ()
  return %y, %s : tensor<4x64xf32>, tensor<10xi8>
}
func.func @decode(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %w = pquant.weight "norm.weight" : tensor<64xf32>
  %y = pquant.rms_norm %x weight(%w) : tensor<1x64xf32>, tensor<64xf32>
  return %y : tensor<1x64xf32>
}
func.func @no_weights(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  return %x : tensor<1x64xf32>
}
