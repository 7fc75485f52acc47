// The loop body moves into a task taking (context, begin, end); the values it
// uses from above travel in a context struct filled at the call: the memref
// as its descriptor, the index as i64, the f32 as is. The constant is cloned
// into the task, not passed.
// Iterations: ceil((n - 2) / 3), none if n < 2.

func.func private @scale(%x: memref<?xf32>, %y: memref<?xf32>, %n: index, %f: f32) {
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %start = arith.subi %n, %c2 : index
  scf.parallel (%i) = (%start) to (%n) step (%c3) {
    %v = memref.load %x[%i] : memref<?xf32>
    %w = arith.mulf %v, %f : f32
    memref.store %w, %y[%i] : memref<?xf32>
    scf.reduce
  }
  return
}
