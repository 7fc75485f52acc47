//===- Passes.td - pquant conversion passes ----------------*- tablegen -*-===//

#ifndef PQUANT_CONVERSION_PASSES_TD
#define PQUANT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToKernels : Pass<"pquant-lower-to-kernels", "::mlir::ModuleOp"> {
  let summary = "Lower pquant compute ops to calls of generated kernels on buffers";
  let description = [{
    Replaces each compute op of the decomposed `pquant` dialect by a call to
    a kernel function that this pass generates in the module: a private
    `func.func` on memrefs whose body is `scf` loops over `vector`, `arith`
    and `math` ops. Operands become buffers (`bufferization.to_buffer`), each
    result a fresh buffer the kernel writes (`bufferization.to_tensor`), so
    one-shot bufferization finishes the job. Kernels are shared by every op
    with the same operand types.

    BitLinear needs its weight packed in 64-bit words with `tile = [R, 1]`
    (see `pquant-pack-weights`); `strategy` picks its kernel:

    - `bitserial`: `Σ_k B_k q_k = 2·Σ_{B_k=1} q_k − Σ_k q_k`, the first sum as
      AND + popcount of each weight word with the eight bit-planes of the
      int8 activations (plane 7 weighs −128). The planes are built once per
      token by comparing 64 activations with a bit mask and reading the 64
      lane predicates as one word.
    - `unpack-dot`: each tile of weight words is unpacked once into 0/1
      bytes (replicate each byte, test the 8 bit masks) and reused by every
      token; the first sum is a byte dot product with the activations,
      through `vpdpbusd` (`dot=vnni`), `sdot` (`dot=sdot`) or widening
      multiplies (`dot=generic`).
    - `auto`, a cost model from measurements (docs/benchmarks.md): with a
      fast 64-bit vector popcount (`vpopcntq`), `bitserial` for a single
      token, and for several tokens `unpack-dot` while one tile of unpacked
      weight bytes (tile rows × K) fits in a 48 KB L1, `bitserial` beyond;
      without it, `unpack-dot` when the target has a dot instruction
      (aarch64 `sdot`), otherwise `bitserial`.

    Ops this pass lowers: `quantize`, `bitlinear`, `int8_linear`,
    `expert_linear` (each token reads only its selected expert's rows),
    `router`, `silu_mul`, `rms_norm`, `combine`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::func::FuncDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
  let options = [
    Option<"strategy", "strategy", "std::string", "\"auto\"",
           "BitLinear kernel: auto, bitserial or unpack-dot">,
    Option<"dot", "dot", "std::string", "\"generic\"",
           "Byte dot product of unpack-dot: generic, vnni (x86 AVX-512 VNNI) or sdot (aarch64 dotprod)">,
    Option<"fastPopcount", "fast-popcount", "bool", "false",
           "The target counts bits of 64-bit vector lanes in one instruction (vpopcntq)">,
  ];
}

#endif // PQUANT_CONVERSION_PASSES_TD
