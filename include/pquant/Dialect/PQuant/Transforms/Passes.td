//===- Passes.td - pquant dialect passes -------------------*- tablegen -*-===//

#ifndef PQUANT_DIALECT_PQUANT_TRANSFORMS_PASSES_TD
#define PQUANT_DIALECT_PQUANT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def DecomposeDecoupled : Pass<"pquant-decompose-decoupled"> {
  let summary = "Split each decoupled FFN into its 1-bit branch and routed int8 experts";
  let description = [{
    Rewrites every `pquant.decoupled_ffn` into the finer ops that later passes
    lower one by one:

    - the optional subln (`pquant.rms_norm` without weight) and one shared
      `pquant.quantize` of the FFN input;
    - the 1-bit SwiGLU branch: two `pquant.bitlinear`, `pquant.silu_mul`, a
      requantize and the `down1` `pquant.bitlinear`;
    - with E > 1 experts, a `pquant.router` on the un-normed input and, per
      routing slot, the int8 SwiGLU branch through `pquant.expert_linear`
      (only the selected expert's weights are read); with a single expert,
      plain `pquant.int8_linear` on expert 0's weights;
    - `pquant.combine`, which applies `alpha`, `beta` and the gates.

    ```mlir
    %y = pquant.decoupled_ffn %h binary(...) int8(...) router(%r) {...}
    // becomes
    %q, %s = pquant.quantize %x ...
    %g1 = pquant.bitlinear %q, %s, %wg1, %sg1 ...
    ...
    %ids, %gates = pquant.router %h, %r {top_k = 1 : i64} ...
    %g8 = pquant.expert_linear %q, %s, %wg8, %sg8, %ids {slot = 0 : i64} ...
    ...
    %y = pquant.combine binary(%y1) experts(%y8) gates(%gates) {...}
    ```
  }];
  let dependentDialects = ["::pquant::PQuantDialect", "::mlir::tensor::TensorDialect"];
}

#endif // PQUANT_DIALECT_PQUANT_TRANSFORMS_PASSES_TD
