func.func private @use(memref<4xf32>)
func.func private @use2(memref<2x2xf32>)

// Each buffer is freed right after its last use, a view of it counting as a
// use: %a after its only call, %b after the call on its reshaped view.
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
