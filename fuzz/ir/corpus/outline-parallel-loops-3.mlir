func.func private @dynamic_scratch(%n: index, %f: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %buffer = memref.alloca(%i) : memref<?xf32>
    memref.store %f, %buffer[%c0] : memref<?xf32>
    scf.reduce
  }
  return
}
