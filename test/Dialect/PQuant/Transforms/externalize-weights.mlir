// RUN: pquant-opt %s --pquant-externalize-weights | FileCheck %s

// Each entry point gets the weights buffer first; a weight used by two entry
// points has one offset; offsets are 64-byte aligned (64 x 4 bytes = 256,
// then a 10-byte tensor rounds up to 64).
// CHECK: module attributes {pquant.weights = {size = 384 : i64, tensors = [
// CHECK-SAME: {name = "norm.weight", offset = 0 : i64, type = tensor<64xf32>},
// CHECK-SAME: {name = "small", offset = 256 : i64, type = tensor<10xi8>},
// CHECK-SAME: {name = "packed", offset = 320 : i64, type = tensor<1x1x8x1xi64, #pquant.packed<rows = 3, cols = 10, word = 64, tile = [8, 1], bit_order = lsb_first>>}]}}

// CHECK-LABEL: func.func @prefill
// CHECK-SAME:    (%[[BLOB:.*]]: memref<?xi8>, %{{.*}}: tensor<4x64xf32>)
// CHECK:         %[[VIEW:.*]] = memref.view %[[BLOB]][%c0{{.*}}][] : memref<?xi8> to memref<64xf32>
// CHECK:         %[[T:.*]] = bufferization.to_tensor %[[VIEW]] restrict : memref<64xf32> to tensor<64xf32>
// CHECK:         pquant.rms_norm %{{.*}} weight(%[[T]])
// A weight feeding a kernel is the view itself: no tensor round trip.
// CHECK:         %[[PACKED:.*]] = memref.view %[[BLOB]][%c320{{.*}}][] : memref<?xi8> to memref<1x1x8x1xi64>
// CHECK:         call @kernel(%[[PACKED]])
// CHECK-NOT:     pquant.weight
// CHECK-LABEL: func.func @decode
// CHECK-SAME:    (%[[BLOB2:.*]]: memref<?xi8>, %{{.*}}: tensor<1x64xf32>)
// CHECK:         memref.view %[[BLOB2]][%c0{{.*}}][] : memref<?xi8> to memref<64xf32>
// CHECK-LABEL: func.func @no_weights
// CHECK-SAME:    (%{{.*}}: tensor<1x64xf32>)
#packed = #pquant.packed<rows = 3, cols = 10, word = 64, tile = [8, 1], bit_order = lsb_first>
func.func private @kernel(memref<1x1x8x1xi64>)
func.func @prefill(%x: tensor<4x64xf32>) -> (tensor<4x64xf32>, tensor<10xi8>) {
  %w = pquant.weight "norm.weight" : tensor<64xf32>
  %y = pquant.rms_norm %x weight(%w) : tensor<4x64xf32>, tensor<64xf32>
  %s = pquant.weight "small" : tensor<10xi8>
  %p = pquant.weight "packed" : tensor<1x1x8x1xi64, #packed>
  %b = bufferization.to_buffer %p read_only : tensor<1x1x8x1xi64, #packed> to memref<1x1x8x1xi64>
  call @kernel(%b) : (memref<1x1x8x1xi64>) -> ()
  return %y, %s : tensor<4x64xf32>, tensor<10xi8>
}
func.func @decode(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %w = pquant.weight "norm.weight" : tensor<64xf32>
  %y = pquant.rms_norm %x weight(%w) : tensor<1x64xf32>, tensor<64xf32>
  return %y : tensor<1x64xf32>
}
func.func @no_weights(%x: tensor<1x64xf32>) -> tensor<1x64xf32> {
  return %x : tensor<1x64xf32>
}
