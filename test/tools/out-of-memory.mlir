// Running out of memory is an error with exit status 1 and a message, not a
// crash: packing this 10^12-bit weight needs a terabyte. The address space
// limit makes the allocation fail at once on any machine. ASan reports
// failed allocations itself, so the check runs in the normal build only.
// UNSUPPORTED: sanitizer
// RUN: rm -rf %t && mkdir -p %t
// RUN: ulimit -v 4000000 && %expect_exit 1 pquant-opt %s --pquant-pack-weights="word=8 tile-rows=2" -o %t/packed.mlir 2>&1 | FileCheck %s --check-prefix=OPT
// OPT: pquant-opt: error: out of memory (Allocation failed)
// RUN: not test -e %t/packed.mlir
// RUN: ulimit -v 4000000 && %expect_exit 1 pquant-compile %s -target=x86_64 -mcpu=znver4 -o %t/huge.o 2>&1 | FileCheck %s --check-prefix=COMPILE
// COMPILE: pquant-compile: error: out of memory (Allocation failed)
// RUN: not test -e %t/huge.o

func.func @huge(%q: tensor<1x1000000xi8>, %s: tensor<1xf32>, %ws: tensor<1xf32>) -> tensor<1x1000000xf32> {
  %w = arith.constant dense<true> : tensor<1000000x1000000xi1>
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x1000000xi8>, tensor<1xf32>, tensor<1000000x1000000xi1>, tensor<1xf32> -> tensor<1x1000000xf32>
  return %y : tensor<1x1000000xf32>
}
