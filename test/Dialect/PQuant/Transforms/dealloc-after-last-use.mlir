// RUN: pquant-opt %s --split-input-file --pquant-dealloc-after-last-use | FileCheck %s

func.func private @use(memref<4xf32>)
func.func private @use2(memref<2x2xf32>)

// Each buffer is freed right after its last use, a view of it counting as a
// use: %a after its only call, %b after the call on its reshaped view.
// CHECK-LABEL: func.func @chain(
// CHECK:         %[[A:.*]] = memref.alloc() : memref<4xf32>
// CHECK:         %[[B:.*]] = memref.alloc() : memref<4xf32>
// CHECK:         call @use(%[[A]])
// CHECK-NEXT:    memref.dealloc %[[A]]
// CHECK:         %[[V:.*]] = memref.expand_shape %[[B]]
// CHECK-NEXT:    call @use(%[[B]])
// CHECK-NEXT:    call @use2(%[[V]])
// CHECK-NEXT:    memref.dealloc %[[B]]
// CHECK-NEXT:    return
func.func @chain() {
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  call @use(%a) : (memref<4xf32>) -> ()
  %v = memref.expand_shape %b [[0, 1]] output_shape [2, 2] : memref<4xf32> into memref<2x2xf32>
  call @use(%b) : (memref<4xf32>) -> ()
  call @use2(%v) : (memref<2x2xf32>) -> ()
  memref.dealloc %a : memref<4xf32>
  memref.dealloc %b : memref<4xf32>
  return
}

// -----

func.func private @use(memref<4xf32>)

// A use nested in a loop counts as the loop's.
// CHECK-LABEL: func.func @loop(
// CHECK:         scf.for
// CHECK:           call @use
// CHECK:         }
// CHECK-NEXT:    memref.dealloc
// CHECK-NEXT:    arith.constant
// CHECK-NEXT:    return
func.func @loop(%n: index) -> index {
  %a = memref.alloc() : memref<4xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    func.call @use(%a) : (memref<4xf32>) -> ()
  }
  %c7 = arith.constant 7 : index
  memref.dealloc %a : memref<4xf32>
  return %c7 : index
}

// -----

// A view that reaches the terminator keeps its buffer's dealloc in place.
// CHECK-LABEL: func.func @escapes(
// CHECK:         memref.cast
// CHECK-NEXT:    arith.constant
// CHECK-NEXT:    memref.dealloc
// CHECK-NEXT:    return
func.func @escapes() -> memref<?xf32> {
  %a = memref.alloc() : memref<4xf32>
  %v = memref.cast %a : memref<4xf32> to memref<?xf32>
  %c = arith.constant 0 : index
  memref.dealloc %a : memref<4xf32>
  return %v : memref<?xf32>
}
