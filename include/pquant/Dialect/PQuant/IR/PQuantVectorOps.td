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

def PQuant_LookupBytesOp : PQuant_Op<"lookup_bytes",
    [Pure, AllTypesMatch<["low", "index", "high", "result"]>]> {
  let summary = "Look up bytes in a table of twice the vector's width";
  let description = [{
    `result[i] = table[index[i] mod 2N]` where `table` is `low` followed by
    `high` (N lanes each): only the low log2(2N) bits of an index count. It
    is what x86 `vpermi2b` computes for N = 64 (AVX-512 VBMI): the lookup
    GEMV looks up 64 weight nibbles in the 128-entry tables of 8 column
    groups at once. `pquant-lower-lookup-bytes` picks the instruction once
    buffers are settled.

    ```mlir
    %r = pquant.lookup_bytes %low, %index, %high : vector<64xi8>
    ```
  }];
  let arguments = (ins VectorOfRankAndType<[1], [I8]>:$low,
                       VectorOfRankAndType<[1], [I8]>:$index,
                       VectorOfRankAndType<[1], [I8]>:$high);
  let results = (outs VectorOfRankAndType<[1], [I8]>:$result);
  let assemblyFormat = [{
    $low `,` $index `,` $high attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTVECTOROPS_TD
