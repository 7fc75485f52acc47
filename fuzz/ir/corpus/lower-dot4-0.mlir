// An sdot target has no unsigned 16-lane form: the generic expansion.
func.func @unsigned16(%acc: vector<16xi32>, %a: vector<64xi8>, %b: vector<64xi8>) -> vector<16xi32> {
  %r = pquant.dot4 %acc, %a, %b {unsigned_lhs} : vector<16xi32>, vector<64xi8>
  return %r : vector<16xi32>
}

func.func @signed4(%acc: vector<4xi32>, %a: vector<16xi8>, %b: vector<16xi8>) -> vector<4xi32> {
  %r = pquant.dot4 %acc, %a, %b : vector<4xi32>, vector<16xi8>
  return %r : vector<4xi32>
}
