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
    - `lookup` (the "Four Russians" method, as T-MAC does on CPUs): for a
      block of 32 tokens and each group of 4 columns, a table of the 16 sums
      of those columns that a 4-bit weight pattern selects (one i16 lane per
      token, built from the block's activations laid out column by column);
      each weight nibble adds its entry to its row's sums, so one load and
      one 512-bit add cover 4 columns × 32 tokens. Tables cover 2 words of
      columns at a time and are shared by up to 512 rows. Only whole blocks, from
      64 tokens on; the other tokens go through `unpack-dot` (with `dot`).
    - `auto`, a cost model from measurements (docs/benchmarks.md): with a
      fast 64-bit vector popcount (`vpopcntq`, so AVX-512), `bitserial` for a
      single token, and for several tokens `lookup` when the BitLinear has at
      least 256 rows to share each table, else `unpack-dot` while one tile of
      unpacked weight bytes (tile rows × K) fits in a 48 KB L1, `bitserial`
      beyond; without it, `unpack-dot` when the target has a dot instruction
      (AVX-512 VNNI `vpdpbusd`, aarch64 `sdot`), otherwise `bitserial`.
      Per target family (docs/tuning.md says why): AVX-512 with VPOPCNTDQ
      and VNNI (Zen 4, Ice Lake and later) splits decode / prefill as above;
      AVX-512 VNNI without VPOPCNTDQ (Cascade Lake) and aarch64 with
      dotprod (and i8mm, which the kernels do not use) take `unpack-dot`;
      AVX2 and plain NEON take `bitserial`.

    A BitLinear's own `kernel` attribute (`#pquant.kernel<unpack_dot,
    chunk_words = 16>`, written by `pquant-compile --tune`) overrides
    `strategy` for that op, and its `chunk_words` sets the unpack-dot column
    chunk (default 32 words); such a kernel is named after its chunk.

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
           "BitLinear kernel: auto, bitserial, unpack-dot or lookup">,
    Option<"dot", "dot", "std::string", "\"generic\"",
           "Byte dot product of unpack-dot: generic, vnni (x86 AVX-512 VNNI) or sdot (aarch64 dotprod)">,
    Option<"fastPopcount", "fast-popcount", "bool", "false",
           "The target counts bits of 64-bit vector lanes in one instruction (vpopcntq)">,
    Option<"byteLookup", "byte-lookup", "bool", "false",
           "The target looks up 64 bytes in a 128-byte table in one instruction (x86 vpermi2b, AVX-512 VBMI): with dot=vnni, a token's BitLinear can take the lookup GEMV">,
  ];
}

def LowerToGPU : Pass<"pquant-lower-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Lower pquant entry points to GPU kernels and the host code that launches them";
  let description = [{
    Generates, into one `gpu.module @pquant_kernels` with an `#nvvm.target`
    for `chip`, a kernel for each compute op of the decomposed `pquant`
    dialect (one per distinct shape), and replaces each public function
    `@f` by host code `@pquant_gpu_entry_f(%ctx: !llvm.ptr, %count: i64,
    %buffers: !llvm.ptr)` that launches them in order through the runtime
    (`pquant_gpu_launch`, `pquant_gpu_scratch`). `%buffers` holds device
    addresses: the weights data section when the module reads
    `pquant.weight`, then every argument (an `index` argument is the address
    of an i64 on the device), then every result. `%count` is the number of
    tokens where shapes leave it open. Intermediate tensors live in one
    scratch allocation, reused once their last reader has run.

    Kernels are `gpu.func`s over global pointers with bodies in `scf`,
    `arith`, `math`, `gpu` (ids, shuffles, barriers), `nvvm` and `llvm`
    loads and stores, so each access states its width:

    - `bitlinear`: needs the weight packed in 32-bit words, `tile = [8, 4]`
      (`pquant-pack-weights word=32 tile-rows=8 tile-words=4`): a warp reads
      4 tiles, 512 contiguous bytes, one 16-byte load per lane. The quantize
      kernel also writes the int8 activations with bytes
      `{i, 8+i, 16+i, 24+i}` of each 32-column word in one i32, and `Σ q`,
      so `word & (0x01010101 << i)` are the matching weights as bytes 0 or
      2^i: `dp4a` accumulates `2^i·Σ_{B=1} q` per i, and
      `Σ B·q = 2·Σ_{B=1} q − Σ q`. One token per block for M = 1 (decode),
      four for prefill, each weight load reused by all of them. BitLinears
      of one input (q, k, v; gate, up) are one launch, and a residual add
      that is the only user of one is done in its epilogue.
    - `int8_linear`, `expert_linear` (only the selected expert's rows are
      read; gate and up of one input in one launch): `dp4a` on 16-byte
      loads of weights and activations.
    - `quantize` (computing the RMS norm or SiLU product that feeds it, when
      that is its only use), `rms_norm` (f64 mean of squares), `embedding`,
      `float_linear` (the lm_head), `rope` (cos and sin evaluated in f64),
      `attention` (the KV cache written first, by a kernel that also applies
      RoPE to q and k, then one block per head and token), `router`,
      `silu_mul`, `combine` (with the FFN's residual add), and the residual
      `arith.addf`.

    An entry point named in `persistent` (static shapes) also gets one
    persistent kernel, launched cooperatively with one block per SM: its
    kernels become its stages (functions called for each block of their
    grid, in a grid-stride loop), grouped into phases separated by grid-wide
    barriers. Its host code asks the runtime (`pquant_gpu_persistent`)
    whether to launch that kernel or the kernels one by one.

    The tables of the module: `pquant.weights` as
    `pquant-externalize-weights` writes it, `pquant.gpu.kernels` (kernel
    names, in the order the host code numbers them) and `pquant.gpu.chip`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
  let options = [
    Option<"chip", "chip", "std::string", "\"sm_90\"",
           "NVIDIA GPU architecture of the kernels: sm_80 or sm_90">,
    ListOption<"persistentEntries", "persistent", "std::string",
               "Entry points (with static shapes) that become one persistent "
               "kernel, their kernels its stages">,
  ];
}

#endif // PQUANT_CONVERSION_PASSES_TD
