// Every verifier error of the pquant dialect, one case per split.
// RUN: pquant-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{packed word width must be 8, 16, 32 or 64 bits, got 12}}
func.func @bad_word(%w: tensor<1x1x1x1xi12, #pquant.packed<rows = 1, cols = 1, word = 12, tile = [1, 1], bit_order = lsb_first>>)

// -----

// expected-error @+1 {{packed tile sizes must be positive, got [0, 1]}}
func.func @bad_tile(%w: tensor<1x1x1x1xi8, #pquant.packed<rows = 1, cols = 1, word = 8, tile = [0, 1], bit_order = lsb_first>>)

// -----

// expected-error @+1 {{packed layout needs a positive logical shape, got 0x8}}
func.func @bad_shape(%w: tensor<1x1x1x1xi8, #pquant.packed<rows = 0, cols = 8, word = 8, tile = [1, 1], bit_order = lsb_first>>)

// -----

// expected-error @+1 {{unknown bit order 'middle_first', expected 'lsb_first' or 'msb_first'}}
func.func @bad_order(%w: tensor<1x1x1x1xi8, #pquant.packed<rows = 1, cols = 8, word = 8, tile = [1, 1], bit_order = middle_first>>)

// -----

// 11 rows in tiles of 4 need 3 row blocks; 200 columns are 7 words, 4 blocks of 2.
// expected-error @+2 {{packed weight storage shape [3, 3, 4, 2] does not match the [3, 4, 4, 2] required by #pquant.packed<rows = 11, cols = 200, word = 32, tile = [4, 2], bit_order = lsb_first>}}
// expected-note @+1 {{the storage shape is [ceil(rows / tile[0]), ceil(ceil(cols / word) / tile[1]), tile[0], tile[1]]}}
func.func @storage_shape(%w: tensor<3x3x4x2xi32, #pquant.packed<rows = 11, cols = 200, word = 32, tile = [4, 2], bit_order = lsb_first>>)

// -----

// expected-error @+1 {{packed weight elements must be 'i32' to match word = 32, got 'i64'}}
func.func @storage_type(%w: tensor<3x4x4x2xi64, #pquant.packed<rows = 11, cols = 200, word = 32, tile = [4, 2], bit_order = lsb_first>>)

// -----

func.func @quantize_rows(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{'pquant.quantize' op dimension M mismatch: 'scale' dim 0 is 3 but 'input' dim 0 is 4}}
  %q, %s = pquant.quantize %x : tensor<4x64xf32> -> tensor<4x64xi8>, tensor<3xf32>
  return
}

// -----

func.func @quantize_type(%x: tensor<4x64xi32>) {
  // expected-error @+1 {{'pquant.quantize' op operand #0 must be 2D tensor of 32-bit float values}}
  %q, %s = pquant.quantize %x : tensor<4x64xi32> -> tensor<4x64xi8>, tensor<4xf32>
  return
}

// -----

func.func @bitlinear_k(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<32x63xi1>, %ws: tensor<1xf32>) {
  // expected-error @+1 {{'pquant.bitlinear' op dimension K mismatch: 'weight' dim 1 is 63 but 'input' dim 1 is 64}}
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<32x63xi1>, tensor<1xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @bitlinear_packed_k(%q: tensor<4x64xi8>, %s: tensor<4xf32>,
    %w: tensor<8x2x4x1xi32, #pquant.packed<rows = 32, cols = 60, word = 32, tile = [4, 1], bit_order = msb_first>>,
    %ws: tensor<1xf32>) {
  // expected-error @+1 {{'pquant.bitlinear' op dimension K mismatch: 'weight' packed cols is 60 but 'input' dim 1 is 64}}
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<8x2x4x1xi32, #pquant.packed<rows = 32, cols = 60, word = 32, tile = [4, 1], bit_order = msb_first>>, tensor<1xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @bitlinear_scale(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<32x64xi1>, %ws: tensor<16xf32>) {
  // expected-error @+1 {{'pquant.bitlinear' op dimension N mismatch: 'weight_scale' dim 0 is 16 but 'weight' dim 0 is 32}}
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<32x64xi1>, tensor<16xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @bitlinear_result(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<32x64xi1>, %ws: tensor<1xf32>) {
  // expected-error @+1 {{'pquant.bitlinear' op dimension N mismatch: 'result' dim 1 is 31 but 'weight' dim 0 is 32}}
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<32x64xi1>, tensor<1xf32> -> tensor<4x31xf32>
  return
}

// -----

func.func @bitlinear_weight_type(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<32x64xi8>, %ws: tensor<1xf32>) {
  // expected-error @+1 {{'pquant.bitlinear' op operand #2 must be 1-bit weight: tensor<NxKxi1> or a tensor with a #pquant.packed encoding}}
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<32x64xi8>, tensor<1xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @int8_scale(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<16x64xi8>, %ws: tensor<1xf32>) {
  // Int8 weights always carry one scale per output row.
  // expected-error @+1 {{'pquant.int8_linear' op dimension N mismatch: 'weight_scale' dim 0 is 1 but 'weight' dim 0 is 16}}
  %y = pquant.int8_linear %q, %s, %w, %ws : tensor<4x64xi8>, tensor<4xf32>, tensor<16x64xi8>, tensor<1xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @float_linear_k(%x: tensor<1x64xf32>, %w: tensor<256x32xf16>) {
  // expected-error @+1 {{'pquant.float_linear' op dimension K mismatch: 'weight' dim 1 is 32 but 'input' dim 1 is 64}}
  %y = pquant.float_linear %x, %w : tensor<1x64xf32>, tensor<256x32xf16> -> tensor<1x256xf32>
  return
}

// -----

func.func @ffn_no_router(%h: tensor<4x64xf32>, %g1: tensor<96x64xi1>, %d1: tensor<64x96xi1>, %s1: tensor<1xf32>,
    %g8: tensor<4x16x64xi8>, %d8: tensor<4x64x16xi8>, %sg8: tensor<4x16xf32>, %sd8: tensor<4x64xf32>) {
  // expected-error @+1 {{'pquant.decoupled_ffn' op has 4 experts but no router; a router(...) operand is required when there is more than one expert}}
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %g1, %s1, %d1, %s1) int8(%g8, %sg8, %g8, %sg8, %d8, %sd8)
      {alpha = 2.0 : f32, beta = 0.2 : f32}
      : tensor<4x64xf32>, binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<1xf32>),
        int8(tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<4x16x64xi8>, tensor<4x16xf32>, tensor<4x64x16xi8>, tensor<4x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @ffn_dense_router(%h: tensor<4x64xf32>, %g1: tensor<96x64xi1>, %d1: tensor<64x96xi1>, %s1: tensor<1xf32>,
    %g8: tensor<1x16x64xi8>, %d8: tensor<1x64x16xi8>, %sg8: tensor<1x16xf32>, %sd8: tensor<1x64xf32>, %r: tensor<1x64xf32>) {
  // expected-error @+1 {{'pquant.decoupled_ffn' op has a router but a single expert; drop the router for a dense int8 branch}}
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %g1, %s1, %d1, %s1) int8(%g8, %sg8, %g8, %sg8, %d8, %sd8) router(%r)
      {alpha = 2.0 : f32, beta = 0.2 : f32}
      : tensor<4x64xf32>, binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<1xf32>),
        int8(tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x64x16xi8>, tensor<1x64xf32>),
        router(tensor<1x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @ffn_top_k(%h: tensor<4x64xf32>, %g1: tensor<96x64xi1>, %d1: tensor<64x96xi1>, %s1: tensor<1xf32>,
    %g8: tensor<2x16x64xi8>, %d8: tensor<2x64x16xi8>, %sg8: tensor<2x16xf32>, %sd8: tensor<2x64xf32>, %r: tensor<2x64xf32>) {
  // expected-error @+1 {{'pquant.decoupled_ffn' op top_k = 3 exceeds the 2 experts}}
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %g1, %s1, %d1, %s1) int8(%g8, %sg8, %g8, %sg8, %d8, %sd8) router(%r)
      {alpha = 2.0 : f32, beta = 0.2 : f32, top_k = 3 : i64}
      : tensor<4x64xf32>, binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<1xf32>),
        int8(tensor<2x16x64xi8>, tensor<2x16xf32>, tensor<2x16x64xi8>, tensor<2x16xf32>, tensor<2x64x16xi8>, tensor<2x64xf32>),
        router(tensor<2x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @ffn_width(%h: tensor<4x64xf32>, %g1: tensor<96x64xi1>, %d1: tensor<64x90xi1>, %s1: tensor<1xf32>,
    %g8: tensor<1x16x64xi8>, %d8: tensor<1x64x16xi8>, %sg8: tensor<1x16xf32>, %sd8: tensor<1x64xf32>) {
  // expected-error @+1 {{'pquant.decoupled_ffn' op dimension F1 mismatch: 'down1' dim 1 is 90 but 'gate1' dim 0 is 96}}
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %g1, %s1, %d1, %s1) int8(%g8, %sg8, %g8, %sg8, %d8, %sd8)
      {alpha = 2.0 : f32, beta = 0.2 : f32}
      : tensor<4x64xf32>, binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x90xi1>, tensor<1xf32>),
        int8(tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x64x16xi8>, tensor<1x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @ffn_expert_width(%h: tensor<4x64xf32>, %g1: tensor<96x64xi1>, %d1: tensor<64x96xi1>, %s1: tensor<1xf32>,
    %g8: tensor<1x16x64xi8>, %d8: tensor<1x64x8xi8>, %sg8: tensor<1x16xf32>, %sd8: tensor<1x64xf32>) {
  // expected-error @+1 {{'pquant.decoupled_ffn' op dimension R mismatch: 'down8' dim 2 is 8 but 'gate8' dim 1 is 16}}
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %g1, %s1, %d1, %s1) int8(%g8, %sg8, %g8, %sg8, %d8, %sd8)
      {alpha = 2.0 : f32, beta = 0.2 : f32}
      : tensor<4x64xf32>, binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<1xf32>),
        int8(tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x64x8xi8>, tensor<1x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @ffn_eps(%h: tensor<4x64xf32>, %g1: tensor<96x64xi1>, %d1: tensor<64x96xi1>, %s1: tensor<1xf32>,
    %g8: tensor<1x16x64xi8>, %d8: tensor<1x64x16xi8>, %sg8: tensor<1x16xf32>, %sd8: tensor<1x64xf32>) {
  // expected-error @+1 {{'pquant.decoupled_ffn' op eps must be non-negative}}
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %g1, %s1, %d1, %s1) int8(%g8, %sg8, %g8, %sg8, %d8, %sd8)
      {alpha = 2.0 : f32, beta = 0.2 : f32, subln, eps = -1.0 : f32}
      : tensor<4x64xf32>, binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<1xf32>),
        int8(tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x64x16xi8>, tensor<1x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @ffn_top_k_zero(%h: tensor<4x64xf32>, %g1: tensor<96x64xi1>, %d1: tensor<64x96xi1>, %s1: tensor<1xf32>,
    %g8: tensor<1x16x64xi8>, %d8: tensor<1x64x16xi8>, %sg8: tensor<1x16xf32>, %sd8: tensor<1x64xf32>) {
  // expected-error @+2 {{'pquant.decoupled_ffn' op attribute 'top_k' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %y = pquant.decoupled_ffn %h binary(%g1, %s1, %g1, %s1, %d1, %s1) int8(%g8, %sg8, %g8, %sg8, %d8, %sd8)
      {alpha = 2.0 : f32, beta = 0.2 : f32, top_k = 0 : i64}
      : tensor<4x64xf32>, binary(tensor<96x64xi1>, tensor<1xf32>, tensor<96x64xi1>, tensor<1xf32>, tensor<64x96xi1>, tensor<1xf32>),
        int8(tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x16x64xi8>, tensor<1x16xf32>, tensor<1x64x16xi8>, tensor<1x64xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @router_top_k(%h: tensor<4x64xf32>, %r: tensor<2x64xf32>) {
  // expected-error @+1 {{'pquant.router' op top_k = 3 exceeds the 2 experts of 'weight'}}
  %ids, %g = pquant.router %h, %r {top_k = 3 : i64} : tensor<4x64xf32>, tensor<2x64xf32> -> tensor<4x3xi32>, tensor<4x3xf32>
  return
}

// -----

func.func @router_slots(%h: tensor<4x64xf32>, %r: tensor<8x64xf32>) {
  // expected-error @+1 {{'pquant.router' op dimension k mismatch: 'experts' dim 1 is 1 but top_k is 2}}
  %ids, %g = pquant.router %h, %r {top_k = 2 : i64} : tensor<4x64xf32>, tensor<8x64xf32> -> tensor<4x1xi32>, tensor<4x2xf32>
  return
}

// -----

func.func @expert_slot(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<8x16x64xi8>, %ws: tensor<8x16xf32>, %ids: tensor<4x1xi32>) {
  // expected-error @+1 {{'pquant.expert_linear' op slot 1 is out of range for 1 routing slots in 'experts'}}
  %y = pquant.expert_linear %q, %s, %w, %ws, %ids {slot = 1 : i64} : tensor<4x64xi8>, tensor<4xf32>, tensor<8x16x64xi8>, tensor<8x16xf32>, tensor<4x1xi32> -> tensor<4x16xf32>
  return
}

// -----

func.func @expert_count(%q: tensor<4x64xi8>, %s: tensor<4xf32>, %w: tensor<8x16x64xi8>, %ws: tensor<4x16xf32>, %ids: tensor<4x1xi32>) {
  // expected-error @+1 {{'pquant.expert_linear' op dimension E mismatch: 'weight_scale' dim 0 is 4 but 'weight' dim 0 is 8}}
  %y = pquant.expert_linear %q, %s, %w, %ws, %ids {slot = 0 : i64} : tensor<4x64xi8>, tensor<4xf32>, tensor<8x16x64xi8>, tensor<4x16xf32>, tensor<4x1xi32> -> tensor<4x16xf32>
  return
}

// -----

func.func @combine_gates(%y1: tensor<4x16xf32>, %a: tensor<4x16xf32>, %g: tensor<4x2xf32>) {
  // expected-error @+1 {{'pquant.combine' op dimension k mismatch: 'gates' dim 1 is 2 but the number of expert outputs is 1}}
  %y = pquant.combine binary(%y1) experts(%a) gates(%g) {alpha = 2.0 : f32, beta = 0.2 : f32}
      : tensor<4x16xf32>, experts(tensor<4x16xf32>), gates(tensor<4x2xf32>)
  return
}

// -----

func.func @combine_weighting(%y1: tensor<4x16xf32>, %a: tensor<4x16xf32>) {
  // expected-error @+1 {{'pquant.combine' op gate_weighting needs a gates(...) operand}}
  %y = pquant.combine binary(%y1) experts(%a) {alpha = 2.0 : f32, beta = 0.2 : f32, gate_weighting}
      : tensor<4x16xf32>, experts(tensor<4x16xf32>)
  return
}

// -----

func.func @combine_shape(%y1: tensor<4x16xf32>, %a: tensor<4x8xf32>) {
  // expected-error @+1 {{'pquant.combine' op dimension D mismatch: 'experts#0' dim 1 is 8 but 'binary' dim 1 is 16}}
  %y = pquant.combine binary(%y1) experts(%a) {alpha = 2.0 : f32, beta = 0.2 : f32}
      : tensor<4x16xf32>, experts(tensor<4x8xf32>)
  return
}

// -----

func.func @combine_empty(%y1: tensor<4x16xf32>) {
  // The custom syntax cannot even spell an empty list; the generic form can.
  // expected-error @+1 {{'pquant.combine' op needs at least one expert output}}
  %y = "pquant.combine"(%y1) <{alpha = 2.0 : f32, beta = 0.2 : f32, operandSegmentSizes = array<i32: 1, 0, 0>}>
      : (tensor<4x16xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @weight_name() {
  // expected-error @+1 {{'pquant.weight' op needs a non-empty checkpoint tensor name}}
  %w = pquant.weight "" : tensor<4xf32>
  return
}

// -----

func.func @weight_dynamic() {
  // expected-error @+1 {{'pquant.weight' op result #0 must be statically shaped tensor of any type values}}
  %w = pquant.weight "embed.weight" : tensor<?x4xf32>
  return
}

// -----

func.func @embedding_width(%t: tensor<256x64xf32>, %tok: tensor<4xi32>) {
  // expected-error @+1 {{'pquant.embedding' op dimension D mismatch: 'result' dim 1 is 32 but 'table' dim 1 is 64}}
  %x = pquant.embedding %t, %tok : tensor<256x64xf32>, tensor<4xi32> -> tensor<4x32xf32>
  return
}

// -----

func.func @embedding_int8_without_scales(%t: tensor<256x64xi8>, %tok: tensor<4xi32>) {
  // expected-error @+1 {{'pquant.embedding' op an int8 table needs its per-row scales}}
  %x = pquant.embedding %t, %tok : tensor<256x64xi8>, tensor<4xi32> -> tensor<4x64xf32>
  return
}

// -----

func.func @embedding_float_with_scales(%t: tensor<256x64xf32>, %tok: tensor<4xi32>, %s: tensor<256xf32>) {
  // expected-error @+1 {{'pquant.embedding' op scales are for an int8 table, not 'tensor<256x64xf32>'}}
  %x = pquant.embedding %t, %tok scales(%s) : tensor<256x64xf32>, tensor<4xi32>, tensor<256xf32> -> tensor<4x64xf32>
  return
}

// -----

func.func @embedding_scales_rows(%t: tensor<256x64xi8>, %tok: tensor<4xi32>, %s: tensor<128xf32>) {
  // expected-error @+1 {{'pquant.embedding' op dimension V mismatch: 'scales' dim 0 is 128 but 'table' dim 0 is 256}}
  %x = pquant.embedding %t, %tok scales(%s) : tensor<256x64xi8>, tensor<4xi32>, tensor<128xf32> -> tensor<4x64xf32>
  return
}

// -----

func.func @rms_norm_weight(%x: tensor<4x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'pquant.rms_norm' op dimension D mismatch: 'weight' dim 0 is 32 but 'input' dim 1 is 64}}
  %y = pquant.rms_norm %x weight(%w) : tensor<4x64xf32>, tensor<32xf32>
  return
}

// -----

func.func @rms_norm_eps(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{'pquant.rms_norm' op eps must be non-negative}}
  %y = pquant.rms_norm %x {eps = -1.0e-5 : f32} : tensor<4x64xf32>
  return
}

// -----

func.func @rope_odd(%x: tensor<4x8x15xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{'pquant.rope' op head dimension must be even to rotate pairs, got 15}}
  %y = pquant.rope %x, %p : tensor<4x8x15xf32>, tensor<4xi32>
  return
}

// -----

func.func @rope_theta(%x: tensor<4x8x16xf32>, %p: tensor<4xi32>) {
  // expected-error @+1 {{'pquant.rope' op theta must be positive}}
  %y = pquant.rope %x, %p {theta = 0.0 : f32} : tensor<4x8x16xf32>, tensor<4xi32>
  return
}

// -----

func.func @rope_positions(%x: tensor<4x8x16xf32>, %p: tensor<3xi32>) {
  // expected-error @+1 {{'pquant.rope' op dimension M mismatch: 'positions' dim 0 is 3 but 'input' dim 0 is 4}}
  %y = pquant.rope %x, %p : tensor<4x8x16xf32>, tensor<3xi32>
  return
}

// -----

func.func @attention_groups(%q: tensor<4x8x16xf32>, %k: tensor<4x3x16xf32>, %c: memref<1x64x3x16xf32>, %pos: index) {
  // expected-error @+1 {{'pquant.attention' op query heads (8) must be a multiple of key/value heads (3)}}
  %o = pquant.attention %q, %k, %k cache(%c, %c) layer 0 at %pos
      : tensor<4x8x16xf32>, tensor<4x3x16xf32>, tensor<4x3x16xf32>, memref<1x64x3x16xf32>
  return
}

// -----

func.func @attention_queries(%q: tensor<5x8x16xf32>, %k: tensor<4x2x16xf32>, %c: memref<1x8x2x16xf32>, %pos: index) {
  // expected-error @+1 {{'pquant.attention' op 5 queries for 4 new tokens: the queries are those of the last new tokens}}
  %o = pquant.attention %q, %k, %k cache(%c, %c) layer 0 at %pos
      : tensor<5x8x16xf32>, tensor<4x2x16xf32>, tensor<4x2x16xf32>, memref<1x8x2x16xf32>
  return
}

// -----

func.func @attention_cache(%q: tensor<4x8x16xf32>, %k: tensor<4x2x16xf32>, %c: memref<1x2x2x16xf32>, %pos: index) {
  // expected-error @+1 {{'pquant.attention' op 4 new tokens do not fit in a cache of 2 rows}}
  %o = pquant.attention %q, %k, %k cache(%c, %c) layer 0 at %pos
      : tensor<4x8x16xf32>, tensor<4x2x16xf32>, tensor<4x2x16xf32>, memref<1x2x2x16xf32>
  return
}

// -----

func.func @attention_head_dim(%q: tensor<4x8x16xf32>, %k: tensor<4x2x8xf32>, %c: memref<1x64x2x8xf32>, %pos: index) {
  // expected-error @+1 {{'pquant.attention' op dimension Dh mismatch: 'key' dim 2 is 8 but 'query' dim 2 is 16}}
  %o = pquant.attention %q, %k, %k cache(%c, %c) layer 0 at %pos
      : tensor<4x8x16xf32>, tensor<4x2x8xf32>, tensor<4x2x8xf32>, memref<1x64x2x8xf32>
  return
}

// -----

func.func @attention_layer(%q: tensor<4x8x16xf32>, %k: tensor<4x2x16xf32>, %c: memref<2x64x2x16xf32>, %pos: index) {
  // expected-error @+1 {{'pquant.attention' op layer 2 is out of range for a cache of 2 layers}}
  %o = pquant.attention %q, %k, %k cache(%c, %c) layer 2 at %pos
      : tensor<4x8x16xf32>, tensor<4x2x16xf32>, tensor<4x2x16xf32>, memref<2x64x2x16xf32>
  return
}

// -----

func.func @attention_cache_heads(%q: tensor<4x8x16xf32>, %k: tensor<4x2x16xf32>, %c: memref<2x64x4x16xf32>, %pos: index) {
  // expected-error @+1 {{'pquant.attention' op dimension Hkv mismatch: 'key_cache' dim 2 is 4 but 'key' dim 1 is 2}}
  %o = pquant.attention %q, %k, %k cache(%c, %c) layer 0 at %pos
      : tensor<4x8x16xf32>, tensor<4x2x16xf32>, tensor<4x2x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

func.func @dot4_lanes(%acc: vector<16xi32>, %a: vector<32xi8>) {
  // expected-error @+1 {{'pquant.dot4' op needs 4 bytes per accumulator lane: 16 lanes but 32 bytes}}
  %r = pquant.dot4 %acc, %a, %a : vector<16xi32>, vector<32xi8>
  return
}

// -----

func.func @lookup_bytes_lanes(%a: vector<48xi8>) {
  // expected-error @+1 {{'pquant.lookup_bytes' op needs a power of two of at most 128 lanes, not 48 (the table has 2·lanes entries and an i8 index)}}
  %r = pquant.lookup_bytes %a, %a, %a : vector<48xi8>
  return
}

// -----

func.func @unknown_op(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{custom op 'pquant.frobnicate' is unknown}}
  %y = pquant.frobnicate %x : tensor<4x64xf32>
  return
}

// -----

func.func @weight_int8_rows_not_i8() -> tensor<4x8xf32> {
  // expected-error @+1 {{quantized int8_rows must be an [N, K] i8 tensor, not 'tensor<4x8xf32>'}}
  %w = pquant.weight "lm_head.weight" quantized int8_rows : tensor<4x8xf32>
  return %w : tensor<4x8xf32>
}

// -----

func.func @weight_row_scales_not_vector() -> tensor<4x8xf32> {
  // expected-error @+1 {{quantized int8_row_scales must be an [N] f32 tensor, not 'tensor<4x8xf32>'}}
  %w = pquant.weight "lm_head.weight" quantized int8_row_scales : tensor<4x8xf32>
  return %w : tensor<4x8xf32>
}
