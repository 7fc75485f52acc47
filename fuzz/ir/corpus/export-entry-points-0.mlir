func.func @entry(%x: memref<4xf32>) {
  call @kernel(%x) : (memref<4xf32>) -> ()
  return
}
func.func private @kernel(%x: memref<4xf32>) {
  return
}
