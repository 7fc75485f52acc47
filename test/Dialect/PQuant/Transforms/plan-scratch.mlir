// RUN: pquant-opt %s --split-input-file --pquant-plan-scratch="functions=decode,prefill" | FileCheck %s
// RUN: pquant-opt %s --split-input-file --pquant-plan-scratch | FileCheck %s --check-prefix=NONE

func.func private @use(memref<16xf32>)
func.func private @use8(memref<8xi8>)

// Buffers alive at the same time get disjoint 64-byte aligned places; %c,
// allocated after %a is freed, takes %a's. The 8-byte %d goes to the first
// gap after %b (offset 64 is %b's, 128 is free). The scratch is asked for at
// the start; the deallocs go; the size, 192 bytes, is exported.
// CHECK-LABEL: func.func @decode(
// CHECK-NEXT:    %[[BYTES:.*]] = arith.constant 192 : i64
// CHECK-NEXT:    %[[S:.*]] = call @pquant_scratch(%[[BYTES]]) : (i64) -> memref<?xi8>
// CHECK-NEXT:    %[[O0:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[A:.*]] = memref.view %[[S]][%[[O0]]][] : memref<?xi8> to memref<16xf32>
// CHECK-NEXT:    %[[O1:.*]] = arith.constant 64 : index
// CHECK-NEXT:    %[[B:.*]] = memref.view %[[S]][%[[O1]]][] : memref<?xi8> to memref<16xf32>
// CHECK-NEXT:    call @use(%[[A]])
// CHECK-NEXT:    %[[O2:.*]] = arith.constant 0 : index
// CHECK-NEXT:    %[[C:.*]] = memref.view %[[S]][%[[O2]]][] : memref<?xi8> to memref<16xf32>
// CHECK-NEXT:    %[[O3:.*]] = arith.constant 128 : index
// CHECK-NEXT:    %[[D:.*]] = memref.view %[[S]][%[[O3]]][] : memref<?xi8> to memref<8xi8>
// CHECK-NEXT:    call @use(%[[B]])
// CHECK-NEXT:    call @use(%[[C]])
// CHECK-NEXT:    call @use8(%[[D]])
// CHECK-NEXT:    return
// CHECK:       func.func private @pquant_scratch(i64) -> memref<?xi8> attributes {llvm.emit_c_interface}
// CHECK:       llvm.mlir.global external constant @pquant_scratch_bytes(192 : i64)
// NONE-LABEL:  func.func @decode(
// NONE-COUNT-4:  memref.alloc
// NONE-NOT:    pquant_scratch
func.func @decode() {
  %a = memref.alloc() {alignment = 64 : i64} : memref<16xf32>
  %b = memref.alloc() {alignment = 64 : i64} : memref<16xf32>
  call @use(%a) : (memref<16xf32>) -> ()
  memref.dealloc %a : memref<16xf32>
  %c = memref.alloc() {alignment = 64 : i64} : memref<16xf32>
  %d = memref.alloc() : memref<8xi8>
  call @use(%b) : (memref<16xf32>) -> ()
  memref.dealloc %b : memref<16xf32>
  call @use(%c) : (memref<16xf32>) -> ()
  memref.dealloc %c : memref<16xf32>
  call @use8(%d) : (memref<8xi8>) -> ()
  memref.dealloc %d : memref<8xi8>
  return
}

// -----

func.func private @use(memref<?xf32>)

// The returned buffer of static shape comes from the caller's result buffer
// (pquant_result). Left as allocations: a dynamic shape, one freed in a
// nested region, and any buffer of a function not named.
// CHECK-LABEL: func.func @prefill(
// CHECK-NOT:     pquant_scratch
// CHECK:         memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK:         %[[BYTES:.*]] = arith.constant 16 : i64
// CHECK-NEXT:    %[[R:.*]] = call @pquant_result(%[[BYTES]]) : (i64) -> memref<?xi8>
// CHECK:         %[[V:.*]] = memref.view %[[R]][%{{.*}}][] : memref<?xi8> to memref<4xf32>
// CHECK:         memref.alloc() : memref<4xf32>
// CHECK:         scf.if
// CHECK-NEXT:      memref.dealloc
// CHECK:         return %[[V]]
// CHECK-LABEL: func.func @other(
// CHECK:         memref.alloc() : memref<4xf32>
// CHECK-NOT:   pquant_scratch_bytes

func.func @prefill(%n: index, %flag: i1) -> memref<4xf32> {
  %a = memref.alloc(%n) : memref<?xf32>
  call @use(%a) : (memref<?xf32>) -> ()
  memref.dealloc %a : memref<?xf32>
  %r = memref.alloc() : memref<4xf32>
  %f = memref.alloc() : memref<4xf32>
  scf.if %flag {
    memref.dealloc %f : memref<4xf32>
  }
  return %r : memref<4xf32>
}

func.func @other() {
  %a = memref.alloc() : memref<4xf32>
  memref.dealloc %a : memref<4xf32>
  return
}

// -----

// Of two static results, only the first takes the caller's result buffer.
// CHECK-LABEL: func.func @decode(
// CHECK:         %[[R:.*]] = call @pquant_result(
// CHECK-NEXT:    %{{.*}} = arith.constant 0 : index
// CHECK-NEXT:    %[[A:.*]] = memref.view %[[R]]
// CHECK-NEXT:    %[[B:.*]] = memref.alloc() : memref<4xf32>
// CHECK-NEXT:    return %[[A]], %[[B]]
func.func @decode() -> (memref<4xf32>, memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  return %a, %b : memref<4xf32>, memref<4xf32>
}
