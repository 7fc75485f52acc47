// RUN: pquant-opt %s --split-input-file --verify-diagnostics --pquant-add-last-token-prefill | FileCheck %s

// prefill stays; prefill_last takes the last row before the ops that only
// the last row's logits need (the residual add, the final norm and the
// lm_head), which then run on one row.
// CHECK-LABEL: func.func @prefill(
// CHECK:         pquant.rms_norm %{{.*}} : tensor<?x64xf32>, tensor<64xf32>
// CHECK:         pquant.float_linear {{.*}} -> tensor<?x256xf32>
// CHECK-LABEL: func.func @prefill_last(
// CHECK-SAME:    %[[T:.*]]: tensor<?xi32>, %[[E:.*]]: tensor<256x64xf32>, %[[N:.*]]: tensor<64xf32>) -> tensor<1x256xf32>
// CHECK:         %[[X:.*]] = pquant.embedding %[[E]], %[[T]]
// CHECK:         %[[M:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x64xf32>
// CHECK:         %[[LAST:.*]] = arith.subi %[[M]], %{{.*}} : index
// CHECK:         %[[ROW:.*]] = tensor.extract_slice %[[X]][%[[LAST]], 0] [1, 64] [1, 1] : tensor<?x64xf32> to tensor<1x64xf32>
// CHECK:         %[[H:.*]] = arith.addf %[[ROW]], %[[ROW]] : tensor<1x64xf32>
// CHECK:         %[[NORMED:.*]] = pquant.rms_norm %[[H]] weight(%[[N]]) : tensor<1x64xf32>, tensor<64xf32>
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

// A last layer: every token's key and value still go into the cache, but
// its query, attention, O projection, residual adds and FFN run on the last
// token only. The query's inputs that the keys and values also read are
// sliced; the attention attends with one query.
// CHECK-LABEL: func.func @prefill_last(
// CHECK:         %[[POS:.*]] = tensor.extract_slice %{{.*}} : tensor<?xi32> to tensor<1xi32>
// CHECK:         %[[Q:.*]], %[[S:.*]] = pquant.quantize %{{.*}} : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
// CHECK-DAG:     %[[SROW:.*]] = tensor.extract_slice %[[S]][%{{.*}}] [1] [1] : tensor<?xf32> to tensor<1xf32>
// CHECK-DAG:     %[[QROW:.*]] = tensor.extract_slice %[[Q]][%{{.*}}, 0] [1, 64] [1, 1] : tensor<?x64xi8> to tensor<1x64xi8>
// CHECK:         %[[QLIN:.*]] = pquant.bitlinear %[[QROW]], %[[SROW]], {{.*}} -> tensor<1x64xf32>
// CHECK:         %[[KLIN:.*]] = pquant.bitlinear %[[Q]], %[[S]], {{.*}} -> tensor<?x32xf32>
// CHECK:         %[[QH:.*]] = tensor.expand_shape %[[QLIN]] {{\[}}[0], [1, 2]] output_shape [1, 4, 16] : tensor<1x64xf32> into tensor<1x4x16xf32>
// CHECK:         %[[KH:.*]] = tensor.expand_shape %[[KLIN]] {{.*}} into tensor<?x2x16xf32>
// CHECK:         %[[QR:.*]] = pquant.rope %[[QH]], %[[POS]] : tensor<1x4x16xf32>, tensor<1xi32>
// CHECK:         %[[KR:.*]] = pquant.rope %[[KH]], %{{.*}} : tensor<?x2x16xf32>, tensor<?xi32>
// CHECK:         %[[O:.*]] = pquant.attention %[[QR]], %[[KR]], %[[KR]] cache({{.*}}) layer 0 at %{{.*}} : tensor<1x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>
// CHECK:         tensor.collapse_shape %[[O]] {{.*}} : tensor<1x4x16xf32> into tensor<1x64xf32>
// CHECK:         pquant.quantize %{{.*}} : tensor<1x64xf32> -> tensor<1x64xi8>, tensor<1xf32>
// CHECK:         pquant.bitlinear {{.*}} -> tensor<1x64xf32>
// CHECK:         arith.addf %{{.*}}, %{{.*}} : tensor<1x64xf32>
// CHECK:         pquant.rms_norm %{{.*}} : tensor<1x64xf32>, tensor<64xf32>
// CHECK:         pquant.float_linear {{.*}} -> tensor<1x256xf32>
func.func @prefill(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %start: index, %n: tensor<64xf32>,
                   %wq: tensor<64x64xi1>, %wk: tensor<32x64xi1>, %wo: tensor<64x64xi1>, %ws: tensor<1xf32>,
                   %kc: memref<1x64x2x16xf32>, %vc: memref<1x64x2x16xf32>, %head: tensor<256x64xf32>) -> tensor<?x256xf32> {
  %c0 = arith.constant 0 : index
  %m = tensor.dim %x, %c0 : tensor<?x64xf32>
  %normed = pquant.rms_norm %x weight(%n) : tensor<?x64xf32>, tensor<64xf32>
  %q, %s = pquant.quantize %normed : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %ql = pquant.bitlinear %q, %s, %wq, %ws : tensor<?x64xi8>, tensor<?xf32>, tensor<64x64xi1>, tensor<1xf32> -> tensor<?x64xf32>
  %kl = pquant.bitlinear %q, %s, %wk, %ws : tensor<?x64xi8>, tensor<?xf32>, tensor<32x64xi1>, tensor<1xf32> -> tensor<?x32xf32>
  %qh = tensor.expand_shape %ql [[0], [1, 2]] output_shape [%m, 4, 16] : tensor<?x64xf32> into tensor<?x4x16xf32>
  %kh = tensor.expand_shape %kl [[0], [1, 2]] output_shape [%m, 2, 16] : tensor<?x32xf32> into tensor<?x2x16xf32>
  %qr = pquant.rope %qh, %pos : tensor<?x4x16xf32>, tensor<?xi32>
  %kr = pquant.rope %kh, %pos : tensor<?x2x16xf32>, tensor<?xi32>
  %o = pquant.attention %qr, %kr, %kr cache(%kc, %vc) layer 0 at %start
      : tensor<?x4x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, memref<1x64x2x16xf32>
  %oc = tensor.collapse_shape %o [[0], [1, 2]] : tensor<?x4x16xf32> into tensor<?x64xf32>
  %oq, %os = pquant.quantize %oc : tensor<?x64xf32> -> tensor<?x64xi8>, tensor<?xf32>
  %ol = pquant.bitlinear %oq, %os, %wo, %ws : tensor<?x64xi8>, tensor<?xf32>, tensor<64x64xi1>, tensor<1xf32> -> tensor<?x64xf32>
  %h = arith.addf %x, %ol : tensor<?x64xf32>
  %final = pquant.rms_norm %h weight(%n) : tensor<?x64xf32>, tensor<64xf32>
  %y = pquant.float_linear %final, %head : tensor<?x64xf32>, tensor<256x64xf32> -> tensor<?x256xf32>
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

// A row-wise op whose result has other uses is not rewritten: here only
// the lm_head runs on the last row.
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
