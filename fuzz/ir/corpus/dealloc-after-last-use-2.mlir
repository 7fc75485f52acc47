// A view that reaches the terminator keeps its buffer's dealloc in place.
func.func @escapes() -> memref<?xf32> {
  %a = memref.alloc() : memref<4xf32>
  %v = memref.cast %a : memref<4xf32> to memref<?xf32>
  %c = arith.constant 0 : index
  memref.dealloc %a : memref<4xf32>
  return %v : memref<?xf32>
}
