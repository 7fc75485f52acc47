// Each BitLinear strategy uses the instructions it promises on each target.
// Bit-serial: vector popcount of 64-bit words, bit-planes from byte-compare masks.
// RUN: pquant-compile %s -target=x86_64 -mcpu=znver4 --strategy=bitserial --emit=asm -o - | FileCheck %s --check-prefix=BITSERIAL-ZNVER4
// RUN: pquant-compile %s -target=x86_64 -mcpu=haswell --strategy=bitserial --emit=asm -o - | FileCheck %s --check-prefix=BITSERIAL-AVX2
// RUN: pquant-compile %s -target=aarch64 -mcpu=neoverse-n1 --strategy=bitserial --emit=asm -o - | FileCheck %s --check-prefix=BITSERIAL-A64
// Unpack + dot product: vpdpbusd with AVX-512 VNNI, sdot with dotprod.
// RUN: pquant-compile %s -target=x86_64 -mcpu=znver4 --strategy=unpack-dot --emit=asm -o - | FileCheck %s --check-prefix=UNPACK-ZNVER4
// RUN: pquant-compile %s -target=aarch64 -mcpu=neoverse-n1 --strategy=unpack-dot --emit=asm -o - | FileCheck %s --check-prefix=UNPACK-A64
// Without a dot instruction the unpack kernel widens and multiplies; LLVM pairs
// the products into vpmaddwd on AVX2.
// RUN: pquant-compile %s -target=x86_64 -mcpu=haswell --strategy=unpack-dot --emit=asm -o - | FileCheck %s --check-prefix=UNPACK-AVX2

// BITSERIAL-ZNVER4: vptestmb {{.*}}%zmm
// BITSERIAL-ZNVER4: kmovq
// BITSERIAL-ZNVER4: vpandq {{.*}}%zmm
// BITSERIAL-ZNVER4: vpopcntq {{.*}}%zmm
// Without vpopcntq, LLVM counts with nibble tables (vpshufb) or the scalar
// popcnt, whichever its cost model prefers.
// BITSERIAL-AVX2-NOT: vpopcntq
// BITSERIAL-AVX2: {{vpshufb|popcntq}}
// BITSERIAL-A64: cnt v{{[0-9]+}}.16b
// BITSERIAL-A64: uaddlp
// UNPACK-ZNVER4: vpdpbusd {{.*}}%zmm
// UNPACK-ZNVER4-NOT: vpopcntq
// UNPACK-A64: sdot v{{[0-9]+}}.4s, v{{[0-9]+}}.16b, v{{[0-9]+}}.16b
// UNPACK-AVX2-NOT: vpdpbusd
// UNPACK-AVX2: vpmaddwd {{.*}}%ymm

func.func @layer(%q: tensor<?x256xi8>, %s: tensor<?xf32>) -> tensor<?x16xf32> {
  // Weights read at run time, so LLVM cannot fold the popcounts away.
  %w = pquant.weight "w" : tensor<16x256xi1>
  %ws = arith.constant dense<0.5> : tensor<1xf32>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<?x256xi8>, tensor<?xf32>, tensor<16x256xi1>, tensor<1xf32> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
