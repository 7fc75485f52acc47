//===- PQuantLinearOps.td - quantize and linear layers -----*- tablegen -*-===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTLINEAROPS_TD
#define PQUANT_DIALECT_PQUANT_IR_PQUANTLINEAROPS_TD

include "pquant/Dialect/PQuant/IR/PQuantDialect.td"
include "pquant/Dialect/PQuant/IR/PQuantAttributes.td"
include "pquant/Dialect/PQuant/IR/PQuantTypeConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def PQuant_QuantizeOp : PQuant_Op<"quantize", [Pure]> {
  let summary = "Per-token int8 absmax quantization";
  let description = [{
    Quantizes each row `u` of `input` to int8 with its own scale:
    `s = max|u| / 127` and `q = clamp(round_half_away(u / s), −127, 127)`,
    all in f32. An all-zero row gives `s = 1` and `q = 0`.

    ```mlir
    %q, %s = pquant.quantize %x : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<4xf32>
    ```
  }];
  let arguments = (ins PQuant_F32Matrix:$input);
  let results = (outs PQuant_I8Matrix:$output, PQuant_F32Vector:$scale);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($output) `,` type($scale)
  }];
  let hasVerifier = 1;
}

def PQuant_BitLinearOp : PQuant_Op<"bitlinear", [Pure]> {
  let summary = "1-bit linear layer on int8 activations (W1A8)";
  let description = [{
    `result[m, n] = (Σ_k B[n, k] · input[m, k]) · weight_scale[n] · input_scale[m]`
    where `B` is the ±1 matrix held by `weight` and the sum is an exact integer.
    `weight` is `tensor<NxKxi1>` (1 = +1, 0 = −1) or a packed tensor with a
    `#pquant.packed` encoding whose `rows`/`cols` are N/K. `weight_scale` is
    per tensor (`tensor<1xf32>`) or per output channel (`tensor<Nxf32>`).
    An optional `kernel` (`#pquant.kernel`) fixes the CPU kernel this op is
    lowered to, over the lowering's global strategy.

    ```mlir
    %y = pquant.bitlinear %q, %s, %w, %ws
        : tensor<4x64xi8>, tensor<4xf32>, tensor<32x64xi1>, tensor<1xf32> -> tensor<4x32xf32>
    ```
  }];
  let arguments = (ins PQuant_I8Matrix:$input, PQuant_F32Vector:$input_scale,
                       PQuant_BinaryWeight:$weight, PQuant_F32Vector:$weight_scale,
                       OptionalAttr<PQuant_KernelChoiceAttr>:$kernel);
  let results = (outs PQuant_F32Matrix:$result);
  // Without a kernel choice: the lowering's strategy decides.
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$input_scale, "::mlir::Value":$weight,
                   "::mlir::Value":$weight_scale), [{
      build($_builder, $_state, result, input, input_scale, weight,
            weight_scale, /*kernel=*/nullptr);
    }]>
  ];
  let assemblyFormat = [{
    $input `,` $input_scale `,` $weight `,` $weight_scale attr-dict `:`
    type($input) `,` type($input_scale) `,` type($weight) `,` type($weight_scale)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

def PQuant_Int8LinearOp : PQuant_Op<"int8_linear", [Pure]> {
  let summary = "Int8 linear layer on int8 activations (W8A8)";
  let description = [{
    `result[m, n] = (Σ_k weight[n, k] · input[m, k]) · weight_scale[n] · input_scale[m]`
    with an exact integer sum; weights lie in [−127, 127] with one scale per
    output row.

    ```mlir
    %y = pquant.int8_linear %q, %s, %w, %ws
        : tensor<4x64xi8>, tensor<4xf32>, tensor<16x64xi8>, tensor<16xf32> -> tensor<4x16xf32>
    ```
  }];
  let arguments = (ins PQuant_I8Matrix:$input, PQuant_F32Vector:$input_scale,
                       PQuant_I8Matrix:$weight, PQuant_F32Vector:$weight_scale);
  let results = (outs PQuant_F32Matrix:$result);
  let assemblyFormat = [{
    $input `,` $input_scale `,` $weight `,` $weight_scale attr-dict `:`
    type($input) `,` type($input_scale) `,` type($weight) `,` type($weight_scale)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

def PQuant_FloatLinearOp : PQuant_Op<"float_linear", [Pure]> {
  let summary = "Floating-point linear layer, for the lm_head";
  let description = [{
    `result[m, n] = Σ_k input[m, k] · weight[n, k]`, accumulated in f32. The
    weight is stored `[N, K]` (one row per output, as in checkpoints) in f32 or
    f16; f16 weights are widened before multiplying. Used for the lm_head,
    which stays in floating point.

    ```mlir
    %logits = pquant.float_linear %x, %w : tensor<1x64xf32>, tensor<256x64xf16> -> tensor<1x256xf32>
    ```
  }];
  let arguments = (ins PQuant_F32Matrix:$input, PQuant_FloatMatrix:$weight);
  let results = (outs PQuant_F32Matrix:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTLINEAROPS_TD
