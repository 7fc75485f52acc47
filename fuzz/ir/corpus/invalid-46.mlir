func.func @dot4_lanes(%acc: vector<16xi32>, %a: vector<32xi8>) {
  %r = pquant.dot4 %acc, %a, %a : vector<16xi32>, vector<32xi8>
  return
}
