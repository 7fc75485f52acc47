// RUN: pquant-opt %s --split-input-file --verify-diagnostics --pquant-quantize-lm-head | FileCheck %s

// The float lm_head becomes a quantize of its input and an int8 linear over
// the weight's per-row int8 form and scales; the f32 weight goes.
// CHECK-LABEL: func.func @head(
// CHECK-SAME:    %[[X:.*]]: tensor<?x64xf32>
// CHECK-NOT:     pquant.weight "lm_head.weight" :
// CHECK-DAG:     %[[W:.*]] = pquant.weight "lm_head.weight" quantized int8_rows : tensor<256x64xi8>
// CHECK-DAG:     %[[S:.*]] = pquant.weight "lm_head.weight" quantized int8_row_scales : tensor<256xf32>
// CHECK:         %[[Q:.*]], %[[QS:.*]] = pquant.quantize %[[X]] : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
// CHECK:         %[[Y:.*]] = pquant.int8_linear %[[Q]], %[[QS]], %[[W]], %[[S]] : tensor<?x64xi8>, tensor<?xf32>, tensor<256x64xi8>, tensor<256xf32> -> tensor<?x256xf32>
// CHECK:         return %[[Y]]
// CHECK-NOT:     pquant.float_linear
func.func @head(%x: tensor<?x64xf32>) -> tensor<?x256xf32> {
  %w = pquant.weight "lm_head.weight" : tensor<256x64xf16>
  %y = pquant.float_linear %x, %w : tensor<?x64xf32>, tensor<256x64xf16> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// A tied table also feeds the embedding: it stays for it.
// CHECK-LABEL: func.func @tied(
// CHECK:         pquant.weight "embed.weight" : tensor<256x64xf32>
// CHECK:         pquant.embedding
// CHECK:         pquant.int8_linear
func.func @tied(%t: tensor<1xi32>) -> tensor<1x256xf32> {
  %w = pquant.weight "embed.weight" : tensor<256x64xf32>
  %x = pquant.embedding %w, %t : tensor<256x64xf32>, tensor<1xi32> -> tensor<1x64xf32>
  %y = pquant.float_linear %x, %w : tensor<1x64xf32>, tensor<256x64xf32> -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}

// -----

func.func @constant(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  // expected-note @+1 {{the weight comes from here}}
  %w = arith.constant dense<1.0> : tensor<2x4xf32>
  // expected-error @+1 {{cannot take an int8 lm_head: its weight is not a float pquant.weight read from the checkpoint}}
  %y = pquant.float_linear %x, %w : tensor<1x4xf32>, tensor<2x4xf32> -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
