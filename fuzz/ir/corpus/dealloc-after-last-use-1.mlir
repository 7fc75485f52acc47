func.func private @use(memref<4xf32>)

// A use nested in a loop counts as the loop's.
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
