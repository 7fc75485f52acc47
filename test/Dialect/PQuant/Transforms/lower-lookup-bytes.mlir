// RUN: pquant-opt %s --pquant-lower-lookup-bytes="instruction=vbmi" | FileCheck %s --check-prefix=VBMI
// RUN: pquant-opt %s --pquant-lower-lookup-bytes | FileCheck %s --check-prefix=GENERIC
// RUN: %expect_exit 1 pquant-opt %s --pquant-lower-lookup-bytes="instruction=sse" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: error: pquant-lower-lookup-bytes: unknown instruction 'sse', expected 'generic' or 'vbmi'

// VBMI-LABEL: func.func @bytes64
// VBMI:       %[[R:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpermi2var.qi.512"(%arg0, %arg1, %arg2) : (vector<64xi8>, vector<64xi8>, vector<64xi8>) -> vector<64xi8>
// VBMI:       return %[[R]]
// The generic form: the 128-entry table, then lane by lane the index masked
// to 7 bits, the entry extracted at it and inserted.
// GENERIC-LABEL: func.func @bytes64
// GENERIC:       %[[T:.*]] = vector.shuffle %arg0, %arg2 [0, 1, 2,
// GENERIC-SAME:    126, 127] : vector<64xi8>, vector<64xi8>
// GENERIC:       %[[M:.*]] = arith.constant 127 : i8
// GENERIC:       %[[I0:.*]] = vector.extract %arg1[0] : i8 from vector<64xi8>
// GENERIC:       %[[A0:.*]] = arith.andi %[[I0]], %[[M]] : i8
// GENERIC:       %[[P0:.*]] = arith.index_castui %[[A0]] : i8 to index
// GENERIC:       %[[E0:.*]] = vector.extract %[[T]][%[[P0]]] : i8 from vector<128xi8>
// GENERIC:       %[[R0:.*]] = vector.insert %[[E0]], %arg1 [0] : i8 into vector<64xi8>
// GENERIC-COUNT-63: vector.insert
// GENERIC-NOT:   pquant.lookup_bytes
func.func @bytes64(%low: vector<64xi8>, %index: vector<64xi8>, %high: vector<64xi8>) -> vector<64xi8> {
  %r = pquant.lookup_bytes %low, %index, %high : vector<64xi8>
  return %r : vector<64xi8>
}

// Only 64 lanes are vpermi2b: 16 take the generic form with vbmi too.
// VBMI-LABEL: func.func @bytes16
// VBMI-NOT:   llvm.call_intrinsic
// VBMI:       arith.constant 31 : i8
func.func @bytes16(%low: vector<16xi8>, %index: vector<16xi8>, %high: vector<16xi8>) -> vector<16xi8> {
  %r = pquant.lookup_bytes %low, %index, %high : vector<16xi8>
  return %r : vector<16xi8>
}
