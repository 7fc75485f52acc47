// RUN: pquant-opt %s --pquant-export-entry-points | FileCheck %s

// CHECK-LABEL: func.func @entry
// CHECK-SAME:    attributes {llvm.emit_c_interface}
func.func @entry(%x: memref<4xf32>) {
  call @kernel(%x) : (memref<4xf32>) -> ()
  return
}
// CHECK-LABEL: func.func private @kernel
// CHECK-NOT:     llvm.emit_c_interface
func.func private @kernel(%x: memref<4xf32>) {
  return
}
