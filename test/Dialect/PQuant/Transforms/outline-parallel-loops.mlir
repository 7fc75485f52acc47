// RUN: pquant-opt %s --split-input-file --verify-diagnostics --pquant-outline-parallel-loops | FileCheck %s

// The loop body moves into a task taking (context, begin, end); the values it
// uses from above travel in a context struct filled at the call: the memref
// as its descriptor, the index as i64, the f32 as is. The constant is cloned
// into the task, not passed.
// CHECK-LABEL: func.func private @scale(
// CHECK-SAME:    %[[X:.*]]: memref<?xf32>, %[[Y:.*]]: memref<?xf32>, %[[N:.*]]: index, %[[F:.*]]: f32)
// CHECK:         %[[CTX:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, f32, struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, i64)>
// CHECK:         %[[XD:.*]] = builtin.unrealized_conversion_cast %[[X]] : memref<?xf32> to !llvm.struct
// CHECK:         llvm.store %[[XD]]
// CHECK:         llvm.store %[[F]]
// CHECK:         %[[LOW:.*]] = arith.index_cast %{{.*}} : index to i64
// CHECK:         llvm.store %[[LOW]]
// Iterations: ceil((n - 2) / 3), none if n < 2.
// CHECK:         %[[SPAN:.*]] = arith.subi %[[N]], %{{.*}} : index
// CHECK:         %[[NONNEG:.*]] = arith.maxsi %[[SPAN]], %{{.*}} : index
// CHECK:         %[[COUNT:.*]] = arith.ceildivui %[[NONNEG]], %{{.*}} : index
// CHECK:         %[[TASK:.*]] = constant @scale_task : (!llvm.ptr, i64, i64) -> ()
// CHECK:         %[[COUNT64:.*]] = arith.index_cast %[[COUNT]] : index to i64
// CHECK:         call @pquant_parallel_for(%[[TASK]], %[[CTX]], %[[COUNT64]])
// CHECK-NOT:     scf.parallel
// CHECK:         return

// CHECK-LABEL: func.func private @scale_task(
// CHECK-SAME:    %[[C:.*]]: !llvm.ptr, %[[BEGIN:.*]]: i64, %[[END:.*]]: i64)
// CHECK-SAME:    llvm.linkage = #llvm.linkage<internal>
// CHECK:         llvm.getelementptr %[[C]][0, 0]
// CHECK:         %[[XS:.*]] = llvm.load
// CHECK:         %[[XM:.*]] = builtin.unrealized_conversion_cast %[[XS]] : !llvm.struct<{{.*}}> to memref<?xf32>
// CHECK:         %[[FV:.*]] = llvm.load %{{.*}} : !llvm.ptr -> f32
// CHECK:         %[[LOW64:.*]] = llvm.load %{{.*}} : !llvm.ptr -> i64
// CHECK:         %[[LOWI:.*]] = arith.index_cast %[[LOW64]] : i64 to index
// CHECK:         %[[STEP:.*]] = arith.constant 3 : index
// CHECK:         scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:           %[[IS:.*]] = arith.muli %[[I]], %[[STEP]] : index
// CHECK:           %[[IV:.*]] = arith.addi %[[LOWI]], %[[IS]] : index
// CHECK:           memref.load %[[XM]][%[[IV]]]
// CHECK:           arith.mulf %{{.*}}, %[[FV]]
// CHECK:           memref.store
// CHECK:       func.func private @pquant_parallel_for((!llvm.ptr, i64, i64) -> (), !llvm.ptr, i64)
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

// -----

func.func @two_dimensions(%y: memref<4x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %zero = arith.constant 0.0 : f32
  // expected-error @+1 {{takes one-dimensional loops without reductions; this one has 2 dimensions and 0 reductions}}
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c4) step (%c1, %c1) {
    memref.store %zero, %y[%i, %j] : memref<4x4xf32>
    scf.reduce
  }
  return
}

// -----

// An iteration's stack buffer is taken once per task, before its loop.
// CHECK-LABEL: func.func private @scratch_task(
// CHECK:         %[[BUF:.*]] = memref.alloca() : memref<16xf32>
// CHECK:         scf.for
// CHECK-NOT:       memref.alloca
// CHECK:           memref.store %{{.*}}, %[[BUF]]
func.func private @scratch(%n: index, %f: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %buffer = memref.alloca() : memref<16xf32>
    memref.store %f, %buffer[%c0] : memref<16xf32>
    scf.reduce
  }
  return
}

// -----

func.func private @dynamic_scratch(%n: index, %f: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    // expected-error @+1 {{of a dynamic size in a parallel loop: pquant-outline-parallel-loops takes only static buffers}}
    %buffer = memref.alloca(%i) : memref<?xf32>
    memref.store %f, %buffer[%c0] : memref<?xf32>
    scf.reduce
  }
  return
}
