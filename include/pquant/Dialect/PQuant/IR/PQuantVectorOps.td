//===- PQuantVectorOps.td - vector ops of generated kernels -*- tablegen -*-===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTVECTOROPS_TD
#define PQUANT_DIALECT_PQUANT_IR_PQUANTVECTOROPS_TD

include "pquant/Dialect/PQuant/IR/PQuantDialect.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def PQuant_Dot4Op : PQuant_Op<"dot4", [Pure, AllTypesMatch<["acc", "result"]>,
                                       AllTypesMatch<["lhs", "rhs"]>]> {
  let summary = "Accumulate dot products of groups of four bytes";
  let description = [{
    `result[i] = acc[i] + Σ_{j<4} lhs[4i + j] · rhs[4i + j]`, with `rhs` signed
    and `lhs` unsigned when `unsigned_lhs` is set, signed otherwise; exact in
    i32. It is what x86 `vpdpbusd` (unsigned lhs, 16 lanes) and aarch64
    `sdot` (signed, 4 lanes) compute, so kernels use it inside their loops and
    `pquant-lower-dot4` picks the instruction for the target once buffers are
    settled.

    ```mlir
    %acc2 = pquant.dot4 %acc, %w, %q {unsigned_lhs} : vector<16xi32>, vector<64xi8>
    ```
  }];
  let arguments = (ins VectorOfRankAndType<[1], [I32]>:$acc,
                       VectorOfRankAndType<[1], [I8]>:$lhs,
                       VectorOfRankAndType<[1], [I8]>:$rhs,
                       UnitAttr:$unsigned_lhs);
  let results = (outs VectorOfRankAndType<[1], [I32]>:$result);
  let assemblyFormat = [{
    $acc `,` $lhs `,` $rhs attr-dict `:` type($acc) `,` type($lhs)
  }];
  let hasVerifier = 1;
}

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTVECTOROPS_TD
