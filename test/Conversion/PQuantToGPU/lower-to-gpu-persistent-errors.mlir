// RUN: pquant-opt %s --pquant-lower-to-gpu="persistent=prefill" -verify-diagnostics

// A persistent kernel's grids are fixed when it is compiled.
// expected-error @+1 {{pquant-lower-to-gpu: the persistent entry point @prefill needs static shapes}}
func.func @prefill(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %y = pquant.rms_norm %x : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
