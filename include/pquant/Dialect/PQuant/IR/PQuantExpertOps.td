//===- PQuantExpertOps.td - decoupled FFN and expert routing *- tablegen -*-===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTEXPERTOPS_TD
#define PQUANT_DIALECT_PQUANT_IR_PQUANTEXPERTOPS_TD

include "pquant/Dialect/PQuant/IR/PQuantDialect.td"
include "pquant/Dialect/PQuant/IR/PQuantTypeConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def PQuant_DecoupledFFNOp : PQuant_Op<"decoupled_ffn", [
    Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "The pQuant feed-forward layer: 1-bit SwiGLU plus routed int8 experts";
  let description = [{
    With `h = input` (the block's normed hidden state, `[M, D]`):

    ```
    x     = subln ? rmsnorm(h, eps) : h          // rmsnorm without weight
    q, s  = quantize(x)
    y1    = down1(quantize(silu(gate1(q, s)) * up1(q, s)))      // BitLinear, width F1
    e_j,g_j = top_k(softmax(router · h))         // only when E > 1; else e = 0, g = 1
    y8    = Σ_j (gate_weighting ? g_j : 1) · down8[e_j](quantize(silu(gate8[e_j](q, s)) * up8[e_j](q, s)))
    result = alpha · y8 + beta · y1
    ```

    The 1-bit branch takes three BitLinear weights (`gate1`, `up1`: `[F1, D]`;
    `down1`: `[D, F1]`, unpacked or packed) each with a per-tensor or per-row
    scale. The int8 branch takes E experts: `gate8`, `up8` of type
    `tensor<ExRxDxi8>` with scales `tensor<ExRxf32>`, `down8` of type
    `tensor<ExDxRxi8>` with scales `tensor<ExDxf32>`. The f32 `router`
    (`[E, D]`) is present exactly when E > 1.

    ```mlir
    %y = pquant.decoupled_ffn %h
        binary(%g1, %g1s, %u1, %u1s, %d1, %d1s)
        int8(%g8, %g8s, %u8, %u8s, %d8, %d8s)
        router(%r)
        {alpha = 2.0 : f32, beta = 0.2 : f32, top_k = 1 : i64, gate_weighting, subln, eps = 1.0e-05 : f32}
        : tensor<4x64xf32>, ... -> tensor<4x64xf32>
    ```
  }];
  let arguments = (ins
    PQuant_F32Matrix:$input,
    PQuant_BinaryWeight:$gate1, PQuant_F32Vector:$gate1_scale,
    PQuant_BinaryWeight:$up1, PQuant_F32Vector:$up1_scale,
    PQuant_BinaryWeight:$down1, PQuant_F32Vector:$down1_scale,
    PQuant_ExpertWeight:$gate8, PQuant_F32Matrix:$gate8_scale,
    PQuant_ExpertWeight:$up8, PQuant_F32Matrix:$up8_scale,
    PQuant_ExpertWeight:$down8, PQuant_F32Matrix:$down8_scale,
    Optional<PQuant_F32Matrix>:$router,
    F32Attr:$alpha, F32Attr:$beta,
    DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>, "1">:$top_k,
    UnitAttr:$gate_weighting, UnitAttr:$subln,
    DefaultValuedAttr<F32Attr, "1.0e-5f">:$eps);
  let results = (outs PQuant_F32Matrix:$result);
  let assemblyFormat = [{
    $input
    `binary` `(` $gate1 `,` $gate1_scale `,` $up1 `,` $up1_scale `,` $down1 `,` $down1_scale `)`
    `int8` `(` $gate8 `,` $gate8_scale `,` $up8 `,` $up8_scale `,` $down8 `,` $down8_scale `)`
    (`router` `(` $router^ `)`)?
    attr-dict `:` type($input) `,`
    `binary` `(` type($gate1) `,` type($gate1_scale) `,` type($up1) `,` type($up1_scale) `,`
                 type($down1) `,` type($down1_scale) `)` `,`
    `int8` `(` type($gate8) `,` type($gate8_scale) `,` type($up8) `,` type($up8_scale) `,`
               type($down8) `,` type($down8_scale) `)`
    (`,` `router` `(` type($router)^ `)`)?
    `->` type($result)
  }];
  let extraClassDeclaration = [{
    /// Number of int8 experts (leading dimension of the expert weights).
    int64_t getNumExperts() { return getGate8().getType().getDimSize(0); }
  }];
  let hasVerifier = 1;
}

def PQuant_RouterOp : PQuant_Op<"router", [Pure]> {
  let summary = "Top-k expert router: softmax over a linear projection";
  let description = [{
    For each token, `p = softmax(weight · input[m])` over the E experts (f32).
    `experts[m, j]` is the expert with the j-th largest probability (ties go
    to the lower index) and `gates[m, j]` its probability, not renormalized
    over the k chosen experts.

    ```mlir
    %ids, %gates = pquant.router %h, %w {top_k = 2 : i64}
        : tensor<4x64xf32>, tensor<8x64xf32> -> tensor<4x2xi32>, tensor<4x2xf32>
    ```
  }];
  let arguments = (ins PQuant_F32Matrix:$input, PQuant_F32Matrix:$weight,
                       ConfinedAttr<I64Attr, [IntPositive]>:$top_k);
  let results = (outs PQuant_I32Matrix:$experts, PQuant_F32Matrix:$gates);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight)
    `->` type($experts) `,` type($gates)
  }];
  let hasVerifier = 1;
}

def PQuant_ExpertLinearOp : PQuant_Op<"expert_linear", [Pure]> {
  let summary = "Dispatch: int8 linear through each token's selected expert";
  let description = [{
    Token `m` is multiplied by the weights of expert `e = experts[m, slot]`
    only: `result[m, n] = (Σ_k weight[e, n, k] · input[m, k]) · weight_scale[e, n] · input_scale[m]`.
    Lowerings must read no weights of experts that no token selected.

    ```mlir
    %y = pquant.expert_linear %q, %s, %w, %ws, %ids {slot = 0 : i64}
        : tensor<4x64xi8>, tensor<4xf32>, tensor<8x16x64xi8>, tensor<8x16xf32>, tensor<4x1xi32>
        -> tensor<4x16xf32>
    ```
  }];
  let arguments = (ins PQuant_I8Matrix:$input, PQuant_F32Vector:$input_scale,
                       PQuant_ExpertWeight:$weight, PQuant_F32Matrix:$weight_scale,
                       PQuant_I32Matrix:$experts,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$slot);
  let results = (outs PQuant_F32Matrix:$result);
  let assemblyFormat = [{
    $input `,` $input_scale `,` $weight `,` $weight_scale `,` $experts attr-dict `:`
    type($input) `,` type($input_scale) `,` type($weight) `,` type($weight_scale) `,`
    type($experts) `->` type($result)
  }];
  let hasVerifier = 1;
}

def PQuant_CombineOp : PQuant_Op<"combine", [
    Pure, AttrSizedOperandSegments, AllTypesMatch<["binary", "result"]>]> {
  let summary = "Combine: weighted sum of the expert outputs and the 1-bit branch";
  let description = [{
    `result = alpha · Σ_j (gate_weighting ? gates[:, j] : 1) · experts_j + beta · binary`,
    one `experts_j` per routing slot. `gates` (`[M, k]`) is present when the
    layer has a router and is required by `gate_weighting`.

    ```mlir
    %y = pquant.combine binary(%y1) experts(%a, %b) gates(%g)
        {alpha = 2.0 : f32, beta = 0.2 : f32, gate_weighting}
        : tensor<4x64xf32>, experts(tensor<4x64xf32>, tensor<4x64xf32>), gates(tensor<4x2xf32>)
    ```
  }];
  let arguments = (ins PQuant_F32Matrix:$binary, Variadic<PQuant_F32Matrix>:$experts,
                       Optional<PQuant_F32Matrix>:$gates,
                       F32Attr:$alpha, F32Attr:$beta, UnitAttr:$gate_weighting);
  let results = (outs PQuant_F32Matrix:$result);
  let assemblyFormat = [{
    `binary` `(` $binary `)` `experts` `(` $experts `)` (`gates` `(` $gates^ `)`)?
    attr-dict `:` type($binary) `,` `experts` `(` type($experts) `)`
    (`,` `gates` `(` type($gates)^ `)`)?
  }];
  let hasVerifier = 1;
}

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTEXPERTOPS_TD
