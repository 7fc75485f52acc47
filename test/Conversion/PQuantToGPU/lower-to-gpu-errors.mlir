// RUN: pquant-opt %s --pquant-lower-to-gpu -split-input-file -verify-diagnostics

func.func @unpacked(%q: tensor<1x64xi8>, %s: tensor<1xf32>, %w: tensor<8x64xi1>, %ws: tensor<1xf32>) -> tensor<1x8xf32> {
  // expected-error @+2 {{needs its weight packed in 32-bit words, lsb_first, tile = [8, 4] for the GPU BitLinear kernels}}
  // expected-note @+1 {{run pquant-pack-weights with word=32 tile-rows=8 tile-words=4 first}}
  %y = pquant.bitlinear %q, %s, %w, %ws : tensor<1x64xi8>, tensor<1xf32>, tensor<8x64xi1>, tensor<1xf32> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @inline(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  // expected-error @+2 {{is a tensor constant, which the GPU target cannot place yet}}
  // expected-note @+1 {{pass weights as pquant.weight references (import without --inline-weights) or as arguments}}
  %w = arith.constant dense<1.0> : tensor<4xf32>
  %y = pquant.rms_norm %x weight(%w) : tensor<1x4xf32>, tensor<4xf32>
  return %y : tensor<1x4xf32>
}

// -----

func.func @other(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{'arith.mulf' op has no lowering to the GPU target}}
  %y = arith.mulf %x, %x : tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

func.func @int8_embedding(%t: tensor<1xi32>, %q: tensor<16x4xi8>, %s: tensor<16xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{'pquant.embedding' op with an int8 table has no lowering to the GPU target}}
  %x = pquant.embedding %q, %t scales(%s) : tensor<16x4xi8>, tensor<1xi32>, tensor<16xf32> -> tensor<1x4xf32>
  return %x : tensor<1x4xf32>
}

// -----

func.func @last_query_only(%q: tensor<1x8x16xf32>, %k: tensor<?x2x16xf32>, %c: memref<1x64x2x16xf32>, %pos: index) -> tensor<1x8x16xf32> {
  // expected-error @+1 {{'pquant.attention' op on the GPU target needs a query for every new token}}
  %o = pquant.attention %q, %k, %k cache(%c, %c) layer 0 at %pos
      : tensor<1x8x16xf32>, tensor<?x2x16xf32>, tensor<?x2x16xf32>, memref<1x64x2x16xf32>
  return %o : tensor<1x8x16xf32>
}
