// The bit-serial BitLinear kernel uses the instructions it promises: vector
// popcount over 64-bit words and bit-planes built from byte-compare masks.
// RUN: pquant-compile %s -target=x86_64 -mcpu=znver4 --emit=asm -o - | FileCheck %s --check-prefix=ZNVER4
// RUN: pquant-compile %s -target=x86_64 -mcpu=haswell --emit=asm -o - | FileCheck %s --check-prefix=AVX2
// RUN: pquant-compile %s -target=aarch64 -mcpu=neoverse-n1 --emit=asm -o - | FileCheck %s --check-prefix=A64

// ZNVER4: vptestmb {{.*}}%zmm
// ZNVER4: kmovq
// ZNVER4: vpandq {{.*}}%zmm
// ZNVER4: vpopcntq {{.*}}%zmm
// Without vpopcntq, LLVM counts nibbles with a table lookup.
// AVX2: vpshufb {{.*}}%ymm
// A64: cnt v{{[0-9]+}}.16b
// A64: uaddlp

func.func @layer(%q: tensor<?x256xi8>, %s: tensor<?xf32>) -> tensor<?x16xf32> {
  %w = arith.constant dense<true> : tensor<16x256xi1>
  %ws = arith.constant dense<0.5> : tensor<1xf32>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x256xi8>, tensor<?xf32>, tensor<16x256xi1>, tensor<1xf32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
