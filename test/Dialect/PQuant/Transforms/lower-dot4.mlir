// RUN: pquant-opt %s --pquant-lower-dot4="instruction=vnni" | FileCheck %s --check-prefix=VNNI
// RUN: pquant-opt %s --pquant-lower-dot4="instruction=sdot" | FileCheck %s --check-prefix=SDOT
// RUN: pquant-opt %s --pquant-lower-dot4 | FileCheck %s --check-prefix=GENERIC
// RUN: %expect_exit 1 pquant-opt %s --pquant-lower-dot4="instruction=mmx" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: pquant-lower-dot4: unknown instruction 'mmx', expected 'generic', 'vnni' or 'sdot'

// VNNI-LABEL: func.func @unsigned16
// VNNI:       %[[R:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%arg0, %arg1, %arg2) : (vector<16xi32>, vector<64xi8>, vector<64xi8>) -> vector<16xi32>
// VNNI:       return %[[R]]
// An sdot target has no unsigned 16-lane form: the generic expansion.
// SDOT-LABEL: func.func @unsigned16
// SDOT-NOT:   llvm.call_intrinsic
// SDOT:       arith.extui %arg1 : vector<64xi8> to vector<64xi32>
// GENERIC-LABEL: func.func @unsigned16
// GENERIC:       %[[L:.*]] = arith.extui %arg1 : vector<64xi8> to vector<64xi32>
// GENERIC:       %[[R:.*]] = arith.extsi %arg2 : vector<64xi8> to vector<64xi32>
// GENERIC:       %[[P:.*]] = arith.muli %[[L]], %[[R]] : vector<64xi32>
// GENERIC:       %[[G0:.*]] = vector.shuffle %[[P]], %[[P]] [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60]
// GENERIC:       %[[S0:.*]] = arith.addi %arg0, %[[G0]] : vector<16xi32>
// GENERIC:       vector.shuffle %[[P]], %[[P]] [1, 5, 9,
// GENERIC:       vector.shuffle %[[P]], %[[P]] [2, 6, 10,
// GENERIC:       vector.shuffle %[[P]], %[[P]] [3, 7, 11,
// GENERIC-NOT:   pquant.dot4
func.func @unsigned16(%acc: vector<16xi32>, %a: vector<64xi8>, %b: vector<64xi8>) -> vector<16xi32> {
  %r = pquant.dot4 %acc, %a, %b {unsigned_lhs} : vector<16xi32>, vector<64xi8>
  return %r : vector<16xi32>
}

// SDOT-LABEL: func.func @signed4
// SDOT:       llvm.call_intrinsic "llvm.aarch64.neon.sdot.v4i32.v16i8"(%arg0, %arg1, %arg2) : (vector<4xi32>, vector<16xi8>, vector<16xi8>) -> vector<4xi32>
// VNNI-LABEL: func.func @signed4
// VNNI:       arith.extsi %arg1 : vector<16xi8> to vector<16xi32>
func.func @signed4(%acc: vector<4xi32>, %a: vector<16xi8>, %b: vector<16xi8>) -> vector<4xi32> {
  %r = pquant.dot4 %acc, %a, %b : vector<4xi32>, vector<16xi8>
  return %r : vector<4xi32>
}
