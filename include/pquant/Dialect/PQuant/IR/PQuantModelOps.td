//===- PQuantModelOps.td - decoder ops around the linear layers -*- tablegen -*-===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTMODELOPS_TD
#define PQUANT_DIALECT_PQUANT_IR_PQUANTMODELOPS_TD

include "pquant/Dialect/PQuant/IR/PQuantAttributes.td"
include "pquant/Dialect/PQuant/IR/PQuantDialect.td"
include "pquant/Dialect/PQuant/IR/PQuantTypeConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def PQuant_WeightOp : PQuant_Op<"weight", [Pure]> {
  let summary = "A model parameter referenced by its checkpoint name";
  let description = [{
    The tensor stored under `name` in the model's checkpoint. Keeping weights
    out of the IR keeps the `.mlir` of a large model small; the compiler reads
    the data when it packs weights or writes the artifact.

    With `quantized`, the result is a form of the tensor computed when the
    artifact is written: `int8_rows` quantizes each row of an `[N, K]` float
    tensor to int8 with its absmax (`s = max|w| / 127`,
    `q = clamp(round_half_away(w / s), -127, 127)`, the rule of int8
    activations) and `int8_row_scales` is the `[N]` f32 vector of those `s`.

    ```mlir
    %w = pquant.weight "layers.0.attn.q.weight" : tensor<64x64xi1>
    %q = pquant.weight "lm_head.weight" quantized int8_rows : tensor<256x64xi8>
    %s = pquant.weight "lm_head.weight" quantized int8_row_scales : tensor<256xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name,
                       OptionalAttr<PQuant_WeightQuantization>:$quantization);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$name (`quantized` $quantization^)? attr-dict `:` type($result)";
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "::llvm::StringRef":$name), [{
      build($_builder, $_state, type, name, WeightQuantizationAttr());
    }]>
  ];
  let hasVerifier = 1;
}

def PQuant_EmbeddingOp : PQuant_Op<"embedding", [Pure]> {
  let summary = "Token embedding lookup";
  let description = [{
    `result[m, :] = table[tokens[m], :]`, widened to f32. An int8 table
    (`pquant-quantize-embedding`) comes with its per-row scales:
    `result[m, :] = f32(table[t, :]) · scales[t]` for `t = tokens[m]`, one
    f32 product per element. A token outside `[0, V)` is undefined behaviour
    at this level; the runtime rejects such tokens before calling compiled
    code.

    ```mlir
    %x = pquant.embedding %table, %tokens : tensor<256x64xf16>, tensor<4xi32> -> tensor<4x64xf32>
    %y = pquant.embedding %q, %tokens scales(%s) : tensor<256x64xi8>, tensor<4xi32>, tensor<256xf32> -> tensor<4x64xf32>
    ```
  }];
  let arguments = (ins AnyTypeOf<[PQuant_FloatMatrix, PQuant_I8Matrix]>:$table,
                       PQuant_I32Vector:$tokens,
                       Optional<PQuant_F32Vector>:$scales);
  let results = (outs PQuant_F32Matrix:$result);
  let assemblyFormat = [{
    $table `,` $tokens (`scales` `(` $scales^ `)`)? attr-dict `:` type($table)
    `,` type($tokens) (`,` type($scales)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def PQuant_RMSNormOp : PQuant_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMS normalization of each row, with an optional weight";
  let description = [{
    `result[m, :] = input[m, :] / sqrt(mean(input[m, :]²) + eps) · weight`.
    Without `weight` (as for subln) the product is skipped.

    ```mlir
    %y = pquant.rms_norm %x weight(%w) {eps = 1.0e-05 : f32} : tensor<4x64xf32>, tensor<64xf32>
    %z = pquant.rms_norm %x {eps = 1.0e-05 : f32} : tensor<4x64xf32>
    ```
  }];
  let arguments = (ins PQuant_F32Matrix:$input, Optional<PQuant_FloatVector>:$weight,
                       DefaultValuedAttr<F32Attr, "1.0e-5f">:$eps);
  let results = (outs PQuant_F32Matrix:$result);
  let assemblyFormat = [{
    $input (`weight` `(` $weight^ `)`)? attr-dict `:` type($input) (`,` type($weight)^)?
  }];
  let hasVerifier = 1;
}

def PQuant_RoPEOp : PQuant_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Rotary position embedding (rotate-half convention)";
  let description = [{
    For token `m` at position `p = positions[m]` and each head, pairs
    `(a, b) = (x[i], x[i + Dh/2])` for `i < Dh/2` are rotated by
    `p · theta^(−2i/Dh)`: `(a cos − b sin, b cos + a sin)`.

    ```mlir
    %y = pquant.rope %x, %pos {theta = 1.0e+04 : f32} : tensor<4x8x16xf32>, tensor<4xi32>
    ```
  }];
  let arguments = (ins PQuant_F32Tensor3D:$input, PQuant_I32Vector:$positions,
                       DefaultValuedAttr<F32Attr, "10000.0f">:$theta);
  let results = (outs PQuant_F32Tensor3D:$result);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` type($input) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def PQuant_AttentionOp : PQuant_Op<"attention", [
    AllTypesMatch<["query", "result"]>,
    AllTypesMatch<["key_cache", "value_cache"]>]> {
  let summary = "Causal multi-head attention over a KV cache (prefill and decode)";
  let description = [{
    The KV cache is model state that outlives a call, so it is a buffer: the
    caches hold every layer, `[layers, S, Hkv, Dh]`, and this op uses layer
    `layer`. The M new tokens occupy positions `position .. position + M − 1`:
    their keys and values are written into the caches at those rows. The
    `Mq <= M` queries are those of the last Mq new tokens: query `m` is new
    token `M − Mq + m` and attends to cache rows `0 .. position + M − Mq + m`
    with scores scaled by `1/sqrt(Dh)` and an f32 softmax. Usually `Mq = M`;
    a prefill whose last layer needs the last token's output only has
    `Mq = 1` there (`pquant-add-last-token-prefill`). Query head `h` reads
    key/value head `h / (H / Hkv)` (grouped-query attention). Prefill is
    `M > 1`, a decode step `M = 1`. Rows at or past `S` are neither written
    nor read; callers keep `position + M <= S`.

    ```mlir
    %o = pquant.attention %q, %k, %v cache(%kc, %vc) layer 0 at %pos
        : tensor<4x8x16xf32>, tensor<4x2x16xf32>, tensor<4x2x16xf32>, memref<2x64x2x16xf32>
    ```
  }];
  let arguments = (ins PQuant_F32Tensor3D:$query, PQuant_F32Tensor3D:$key,
                       PQuant_F32Tensor3D:$value,
                       Arg<MemRefRankOf<[F32, F16], [4]>, "key cache",
                           [MemRead, MemWrite]>:$key_cache,
                       Arg<MemRefRankOf<[F32, F16], [4]>, "value cache",
                           [MemRead, MemWrite]>:$value_cache,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$layer,
                       Index:$position);
  let results = (outs PQuant_F32Tensor3D:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `cache` `(` $key_cache `,` $value_cache `)`
    `layer` $layer `at` $position
    attr-dict `:` type($query) `,` type($key) `,` type($value) `,` type($key_cache)
  }];
  let hasVerifier = 1;
}

def PQuant_SiluMulOp : PQuant_Op<"silu_mul", [
    Pure, AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "SwiGLU gating: silu(gate) · up";
  let description = [{
    Elementwise `gate / (1 + exp(−gate)) · up`.

    ```mlir
    %h = pquant.silu_mul %g, %u : tensor<4x96xf32>
    ```
  }];
  let arguments = (ins PQuant_F32Matrix:$gate, PQuant_F32Matrix:$up);
  let results = (outs PQuant_F32Matrix:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($gate)";
}

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTMODELOPS_TD
