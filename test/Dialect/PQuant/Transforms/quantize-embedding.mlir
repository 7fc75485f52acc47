// RUN: pquant-opt %s --split-input-file --verify-diagnostics --pquant-quantize-embedding | FileCheck %s

// The float table becomes its per-row int8 form and scales; the float
// weight goes.
// CHECK-LABEL: func.func @embed(
// CHECK-SAME:    %[[T:.*]]: tensor<?xi32>
// CHECK-NOT:     pquant.weight "embed.weight" :
// CHECK-DAG:     %[[W:.*]] = pquant.weight "embed.weight" quantized int8_rows : tensor<256x64xi8>
// CHECK-DAG:     %[[S:.*]] = pquant.weight "embed.weight" quantized int8_row_scales : tensor<256xf32>
// CHECK:         %[[X:.*]] = pquant.embedding %[[W]], %[[T]] scales(%[[S]]) : tensor<256x64xi8>, tensor<?xi32>, tensor<256xf32> -> tensor<?x64xf32>
// CHECK:         return %[[X]]
func.func @embed(%t: tensor<?xi32>) -> tensor<?x64xf32> {
  %w = pquant.weight "embed.weight" : tensor<256x64xf16>
  %x = pquant.embedding %w, %t : tensor<256x64xf16>, tensor<?xi32> -> tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}

// -----

// A tied table also feeds the lm_head: it stays for it.
// CHECK-LABEL: func.func @tied(
// CHECK:         %[[F:.*]] = pquant.weight "embed.weight" : tensor<256x64xf32>
// CHECK:         pquant.embedding %{{.*}} scales(%{{.*}})
// CHECK:         pquant.float_linear %{{.*}}, %[[F]]
func.func @tied(%t: tensor<1xi32>) -> tensor<1x256xf32> {
  %w = pquant.weight "embed.weight" : tensor<256x64xf32>
  %x = pquant.embedding %w, %t : tensor<256x64xf32>, tensor<1xi32> -> tensor<1x64xf32>
  %y = pquant.float_linear %x, %w : tensor<1x64xf32>, tensor<256x64xf32> -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}

// -----

func.func @constant(%t: tensor<1xi32>) -> tensor<1x4xf32> {
  // expected-note @+1 {{the weight comes from here}}
  %w = arith.constant dense<1.0> : tensor<2x4xf32>
  // expected-error @+1 {{cannot take an int8 embedding: its weight is not a float pquant.weight read from the checkpoint}}
  %x = pquant.embedding %w, %t : tensor<2x4xf32>, tensor<1xi32> -> tensor<1x4xf32>
  return %x : tensor<1x4xf32>
}
