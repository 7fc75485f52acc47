// A BitLinear's own `kernel` attribute (#pquant.kernel, what
// pquant-compile --tune writes) wins over pquant-lower-to-kernels' strategy,
// forced or auto; ops without one keep the pass's choice.
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="strategy=bitserial dot=vnni" | FileCheck %s --check-prefix=FORCED
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="dot=vnni fast-popcount=true" | FileCheck %s --check-prefix=AUTO
// RUN: pquant-opt %s --split-input-file --pquant-lower-to-kernels="strategy=unpack-dot dot=vnni" | FileCheck %s --check-prefix=UNPACK

// The attribute prints back as it was written.
// RUN: pquant-opt %s --split-input-file | FileCheck %s --check-prefix=ROUNDTRIP
// ROUNDTRIP: pquant.bitlinear {{.*}} {kernel = #pquant.kernel<unpack_dot, chunk_words = 8>}
// ROUNDTRIP: pquant.bitlinear {{.*}} {kernel = #pquant.kernel<bitserial>}
// ROUNDTRIP-NOT: kernel =

// FORCED-LABEL: func.func @choices
// The forced strategy is bit-serial, but the first op asks for unpack-dot
// with chunks of 8 words: a kernel of its own, named after the chunk.
// FORCED:         call @pquant_bitlinear_unpackdot_vnni_chunk8_1x1024xi8
// FORCED:         call @pquant_bitlinear_bitserial_Dx1024xi8
// FORCED:         call @pquant_bitlinear_bitserial_Dx1024xi8
// FORCED:       func.func private @pquant_bitlinear_unpackdot_vnni_chunk8_1x1024xi8
// Tiles of 4 rows, 8 words (512 bytes) of each unpacked at a time.
// FORCED:         memref.alloca() {alignment = 64 : i64} : memref<4x512xi8>

// AUTO-LABEL: func.func @choices
// AUTO:         call @pquant_bitlinear_unpackdot_vnni_chunk8_1x1024xi8
// AUTO:         call @pquant_bitlinear_bitserial_Dx1024xi8
// AUTO:         call @pquant_bitlinear_unpackdot_vnni_Dx1024xi8

// UNPACK-LABEL: func.func @choices
// UNPACK:         call @pquant_bitlinear_unpackdot_vnni_chunk8_1x1024xi8
// UNPACK:         call @pquant_bitlinear_bitserial_Dx1024xi8
// UNPACK:         call @pquant_bitlinear_unpackdot_vnni_Dx1024xi8
// The default chunk is 32 words, 2 KB per row.
// UNPACK:       func.func private @pquant_bitlinear_unpackdot_vnni_Dx1024xi8
// UNPACK:         memref.alloca() {alignment = 64 : i64} : memref<4x1024xi8>
#layout = #pquant.packed<rows = 4, cols = 1024, word = 64, tile = [4, 1], bit_order = lsb_first>
func.func @choices(%q1: tensor<1x1024xi8>, %s1: tensor<1xf32>, %q: tensor<?x1024xi8>, %s: tensor<?xf32>, %ws: tensor<1xf32>)
    -> (tensor<1x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) {
  %w = arith.constant dense<0> : tensor<1x16x4x1xi64, #layout>
  %a = pquant.bitlinear %q1, %s1, %w, %ws {kernel = #pquant.kernel<unpack_dot, chunk_words = 8>} : tensor<1x1024xi8>, tensor<1xf32>, tensor<1x16x4x1xi64, #layout>, tensor<1xf32> -> tensor<1x4xf32>
  %b = pquant.bitlinear %q, %s, %w, %ws {kernel = #pquant.kernel<bitserial>} : tensor<?x1024xi8>, tensor<?xf32>, tensor<1x16x4x1xi64, #layout>, tensor<1xf32> -> tensor<?x4xf32>
  %c = pquant.bitlinear %q, %s, %w, %ws : tensor<?x1024xi8>, tensor<?xf32>, tensor<1x16x4x1xi64, #layout>, tensor<1xf32> -> tensor<?x4xf32>
  return %a, %b, %c : tensor<1x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>
}
