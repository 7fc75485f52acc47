// RUN: pquant-opt %s -split-input-file -verify-diagnostics

// A chunk size belongs to unpack_dot only.
func.func @bitserial_chunk(%q: tensor<1x64xi8>, %s: tensor<1xf32>, %w: tensor<8x64xi1>, %ws: tensor<1xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{chunk_words is a parameter of unpack_dot only, not of bitserial}}
  %y = pquant.bitlinear %q, %s, %w, %ws {kernel = #pquant.kernel<bitserial, chunk_words = 8>} : tensor<1x64xi8>, tensor<1xf32>, tensor<8x64xi1>, tensor<1xf32> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @zero_chunk(%q: tensor<1x64xi8>, %s: tensor<1xf32>, %w: tensor<8x64xi1>, %ws: tensor<1xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{chunk_words = 0 is not in [1, 256]}}
  %y = pquant.bitlinear %q, %s, %w, %ws {kernel = #pquant.kernel<unpack_dot, chunk_words = 0>} : tensor<1x64xi8>, tensor<1xf32>, tensor<8x64xi1>, tensor<1xf32> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @huge_chunk(%q: tensor<1x64xi8>, %s: tensor<1xf32>, %w: tensor<8x64xi1>, %ws: tensor<1xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{chunk_words = 512 is not in [1, 256]}}
  %y = pquant.bitlinear %q, %s, %w, %ws {kernel = #pquant.kernel<unpack_dot, chunk_words = 512>} : tensor<1x64xi8>, tensor<1xf32>, tensor<8x64xi1>, tensor<1xf32> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

func.func @unknown_strategy(%q: tensor<1x64xi8>, %s: tensor<1xf32>, %w: tensor<8x64xi1>, %ws: tensor<1xf32>) -> tensor<1x8xf32> {
  // expected-error @+2 {{expected ::pquant::KernelStrategy to be one of: bitserial, unpack_dot}}
  // expected-error @+1 {{failed to parse PQuant_KernelChoiceAttr parameter 'strategy'}}
  %y = pquant.bitlinear %q, %s, %w, %ws {kernel = #pquant.kernel<lookup_table>} : tensor<1x64xi8>, tensor<1xf32>, tensor<8x64xi1>, tensor<1xf32> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

// The attribute is a kernel choice, nothing else.
func.func @wrong_attr(%q: tensor<1x64xi8>, %s: tensor<1xf32>, %w: tensor<8x64xi1>, %ws: tensor<1xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{attribute 'kernel' failed to satisfy constraint: The kernel one BitLinear is lowered to, chosen per op}}
  %y = pquant.bitlinear %q, %s, %w, %ws {kernel = "bitserial"} : tensor<1x64xi8>, tensor<1xf32>, tensor<8x64xi1>, tensor<1xf32> -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}
