// RUN: pquant-opt %s --split-input-file --verify-diagnostics --pquant-add-last-token-prefill | FileCheck %s

// prefill stays; prefill_last takes the last row before the final norm and
// the lm_head, which then run on one row.
// CHECK-LABEL: func.func @prefill(
// CHECK:         pquant.rms_norm %{{.*}} : tensor<?x64xf32>, tensor<64xf32>
// CHECK:         pquant.float_linear {{.*}} -> tensor<?x256xf32>
// CHECK-LABEL: func.func @prefill_last(
// CHECK-SAME:    %[[T:.*]]: tensor<?xi32>, %[[E:.*]]: tensor<256x64xf32>, %[[N:.*]]: tensor<64xf32>) -> tensor<1x256xf32>
// CHECK:         %[[X:.*]] = pquant.embedding %[[E]], %[[T]]
// CHECK:         %[[H:.*]] = arith.addf %[[X]], %[[X]] : tensor<?x64xf32>
// CHECK:         %[[M:.*]] = tensor.dim %[[H]], %{{.*}} : tensor<?x64xf32>
// CHECK:         %[[LAST:.*]] = arith.subi %[[M]], %{{.*}} : index
// CHECK:         %[[ROW:.*]] = tensor.extract_slice %[[H]][%[[LAST]], 0] [1, 64] [1, 1] : tensor<?x64xf32> to tensor<1x64xf32>
// CHECK:         %[[NORMED:.*]] = pquant.rms_norm %[[ROW]] weight(%[[N]]) : tensor<1x64xf32>, tensor<64xf32>
// CHECK:         %[[Y:.*]] = pquant.float_linear %[[NORMED]], %[[E]] : tensor<1x64xf32>, tensor<256x64xf32> -> tensor<1x256xf32>
// CHECK:         return %[[Y]] : tensor<1x256xf32>
func.func @prefill(%t: tensor<?xi32>, %e: tensor<256x64xf32>, %n: tensor<64xf32>) -> tensor<?x256xf32> {
  %x = pquant.embedding %e, %t : tensor<256x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %h = arith.addf %x, %x : tensor<?x64xf32>
  %normed = pquant.rms_norm %h weight(%n) : tensor<?x64xf32>, tensor<64xf32>
  %y = pquant.float_linear %normed, %e : tensor<?x64xf32>, tensor<256x64xf32> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// Without a prefill (a single layer, a kernel test) nothing changes.
// CHECK-LABEL: func.func @decode(
// CHECK-NOT:   prefill_last
func.func @decode(%x: tensor<1x64xf32>, %w: tensor<256x64xf32>) -> tensor<1x256xf32> {
  %y = pquant.float_linear %x, %w : tensor<1x64xf32>, tensor<256x64xf32> -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}

// -----

// Nor without row-wise ops at the end of prefill.
// CHECK-LABEL: func.func @prefill(
// CHECK-NOT:   prefill_last
func.func @prefill(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %y = arith.addf %x, %x : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// A row-wise op whose result has other uses ends the copied tail: here
// only the lm_head runs on the last row.
// CHECK-LABEL: func.func @prefill_last(
// CHECK:         %[[N:.*]] = pquant.rms_norm %{{.*}} : tensor<?x64xf32>, tensor<64xf32>
// CHECK-DAG:     pquant.float_linear %[[N]], {{.*}} -> tensor<?x8xf32>
// CHECK-DAG:     %[[ROW:.*]] = tensor.extract_slice %[[N]]
// CHECK:         pquant.float_linear %[[ROW]], {{.*}} -> tensor<1x256xf32>
func.func @prefill(%x: tensor<?x64xf32>, %n: tensor<64xf32>, %w: tensor<256x64xf32>, %probe: tensor<8x64xf32>) -> tensor<?x256xf32> {
  %normed = pquant.rms_norm %x weight(%n) : tensor<?x64xf32>, tensor<64xf32>
  %other = pquant.float_linear %normed, %probe : tensor<?x64xf32>, tensor<8x64xf32> -> tensor<?x8xf32>
  %y = pquant.float_linear %normed, %w : tensor<?x64xf32>, tensor<256x64xf32> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// expected-error @below {{'func.func' op cannot get a 'prefill_last': the module already has a symbol of that name}}
func.func @prefill(%x: tensor<?x64xf32>, %w: tensor<256x64xf32>) -> tensor<?x256xf32> {
  %y = pquant.float_linear %x, %w : tensor<?x64xf32>, tensor<256x64xf32> -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
func.func private @prefill_last()
