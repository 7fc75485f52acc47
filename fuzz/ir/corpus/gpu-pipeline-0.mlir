// pquant-gpu-pipeline: the kernels' PTX for sm_90 (and sm_80), with the
// instructions the kernels are built on: 16-byte loads of packed weights and
// of the permuted activations (only the weights, constants, through the
// non-coherent cache: ld.global.nc), dp4a with unsigned
// weight bytes for BitLinear and signed ones for the int8 linear, warp
// shuffles for the sums; the host code is plain LLVM calling the runtime.
// The decode entry point also becomes one persistent kernel with grid
// barriers, which the runtime may launch instead of its kernels.


// The decode entry point's persistent kernel; its stages are functions made
// from the kernels.
// Every kernel waits for the one before (programmatic dependent launch) and
// then lets the next one start; a GEMV loads its weights first.
// The grid barrier between the stages: release, arrive, spin on an acquire.
// The GEMV stage: weights through the non-coherent cache, activations
// (written by the stage before) not; no grid dependency control within the
// one launch; its barriers are its group's.




!w = tensor<256x16x8x4xi32, #pquant.packed<rows = 2048, cols = 2048, word = 32, tile = [8, 4], bit_order = lsb_first>>
func.func @decode(%q: tensor<1x2048xi8>, %s: tensor<1xf32>, %w: !w, %ws: tensor<1xf32>) -> tensor<1x2048xf32> {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x2048xi8>, tensor<1xf32>, !w, tensor<1xf32> -> tensor<1x2048xf32>
  return %y : tensor<1x2048xf32>
}
func.func @prefill(%q: tensor<?x2048xi8>, %s: tensor<?xf32>, %w: !w, %ws: tensor<1xf32>,
                   %w8: tensor<256x2048xi8>, %ws8: tensor<256xf32>) -> tensor<?x256xf32> {
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x2048xi8>, tensor<?xf32>, !w, tensor<1xf32> -> tensor<?x2048xf32>
  %q2, %s2 = pquant.quantize %y : tensor<?x2048xf32> -> tensor<?x2048xi8>, tensor<?xf32>
  %z = pquant.int8_linear %q2, %s2, %w8, %ws8 : tensor<?x2048xi8>, tensor<?xf32>, tensor<256x2048xi8>, tensor<256xf32> -> tensor<?x256xf32>
  return %z : tensor<?x256xf32>
}
