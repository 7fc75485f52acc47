//===- Passes.td - pquant dialect passes -------------------*- tablegen -*-===//

#ifndef PQUANT_DIALECT_PQUANT_TRANSFORMS_PASSES_TD
#define PQUANT_DIALECT_PQUANT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def DecomposeDecoupled : Pass<"pquant-decompose-decoupled"> {
  let summary = "Split each decoupled FFN into its 1-bit branch and routed int8 experts";
  let description = [{
    Rewrites every `pquant.decoupled_ffn` into the finer ops that later passes
    lower one by one:

    - the optional subln (`pquant.rms_norm` without weight) and one shared
      `pquant.quantize` of the FFN input;
    - the 1-bit SwiGLU branch: two `pquant.bitlinear`, `pquant.silu_mul`, a
      requantize and the `down1` `pquant.bitlinear`;
    - with E > 1 experts, a `pquant.router` on the un-normed input and, per
      routing slot, the int8 SwiGLU branch through `pquant.expert_linear`
      (only the selected expert's weights are read); with a single expert,
      plain `pquant.int8_linear` on expert 0's weights;
    - `pquant.combine`, which applies `alpha`, `beta` and the gates.

    ```mlir
    %y = pquant.decoupled_ffn %h binary(...) int8(...) router(%r) {...}
    // becomes
    %q, %s = pquant.quantize %x ...
    %g1 = pquant.bitlinear %q, %s, %wg1, %sg1 ...
    ...
    %ids, %gates = pquant.router %h, %r {top_k = 1 : i64} ...
    %g8 = pquant.expert_linear %q, %s, %wg8, %sg8, %ids {slot = 0 : i64} ...
    ...
    %y = pquant.combine binary(%y1) experts(%y8) gates(%gates) {...}
    ```
  }];
  let dependentDialects = ["::pquant::PQuantDialect", "::mlir::tensor::TensorDialect"];
}

def QuantizeLMHead : Pass<"pquant-quantize-lm-head"> {
  let summary = "Run the lm_head on int8 weights quantized per row";
  let description = [{
    Rewrites each `pquant.float_linear` whose weight is a `pquant.weight`
    into a `pquant.quantize` of its input and a `pquant.int8_linear` with the
    weight `quantized int8_rows` and its `int8_row_scales`: per-row absmax
    int8 weights, per-token absmax int8 activations, i32 dot products. The
    lm_head then reads a quarter of the bytes of an f32 one (half of f16),
    and its logits move by the two roundings; `docs/semantics.md` gives the
    formula and `docs/benchmarks-model.md` the measured effect.

    A float linear whose weight is a constant (a model imported with
    `--inline-weights`) is an error: its weight is not read from the
    checkpoint when the artifact is written.
  }];
  let dependentDialects = ["::pquant::PQuantDialect"];
}

def QuantizeEmbedding : Pass<"pquant-quantize-embedding"> {
  let summary = "Store the token embedding as int8 rows with per-row scales";
  let description = [{
    Rewrites each `pquant.embedding` whose table is a float `pquant.weight`
    into an embedding of the weight `quantized int8_rows` with its
    `int8_row_scales` (per-row absmax, as for `pquant-quantize-lm-head`):
    each looked-up row is `f32(q) · scale`. The embedding reads one row per
    token, so this saves memory and artifact size (three quarters of an f32
    table), not decode bandwidth; the rows move by the rounding to int8
    (`docs/semantics.md`). With tied embeddings the lm_head keeps its own
    form unless `pquant-quantize-lm-head` runs too.

    A table that is a constant (a model imported with `--inline-weights`) is
    an error, as for the lm_head.
  }];
  let dependentDialects = ["::pquant::PQuantDialect"];
}

def PackWeights : Pass<"pquant-pack-weights"> {
  let summary = "Repack the 1-bit weights of every pquant.bitlinear into a target layout";
  let description = [{
    Gives the weight operand of every `pquant.bitlinear` the
    `#pquant.packed` layout the options describe (the CPU pipeline chooses
    one per target: 64-bit words with several rows interleaved per tile, so
    one vector load fetches the same word of consecutive rows).

    - A constant weight, unpacked `tensor<NxKxi1>` or packed in any layout,
      is constant-folded into the new layout.
    - A `pquant.weight` reference gets the new type; whoever writes the
      weights for the compiled code (the artifact writer) converts the
      checkpoint's data to the layout the type records.

    Padding bits (past K in the last word, and rows past N in the last
    tile) are clear. Any other producer of a 1-bit weight is an error.

    ```mlir
    %w = pquant.weight "layers.0.attn.q.weight" : tensor<64x8x1x1xi8, #pquant.packed<rows = 64, cols = 64, word = 8, tile = [1, 1], bit_order = lsb_first>>
    // becomes, with word=64 tile-rows=8
    %w = pquant.weight "layers.0.attn.q.weight" : tensor<8x1x8x1xi64, #pquant.packed<rows = 64, cols = 64, word = 64, tile = [8, 1], bit_order = lsb_first>>
    ```
  }];
  let dependentDialects = ["::pquant::PQuantDialect", "::mlir::arith::ArithDialect"];
  let options = [
    Option<"word", "word", "unsigned", "64", "Bits per packed word: 8, 16, 32 or 64">,
    Option<"tileRows", "tile-rows", "int64_t", "8",
           "Rows interleaved in one tile (the rows a vector load covers)">,
    Option<"tileWords", "tile-words", "int64_t", "1",
           "Consecutive words of one row in a tile">,
    Option<"bitOrder", "bit-order", "std::string", "\"lsb_first\"",
           "Order of columns in a word: lsb_first or msb_first">,
  ];
}

def AddLastTokenPrefill : Pass<"pquant-add-last-token-prefill", "::mlir::ModuleOp"> {
  let summary = "Add `prefill_last`: the prefill that returns the last token's logits";
  let description = [{
    Generation needs the logits of the prompt's last token only; scoring
    needs every token's, which `prefill` returns. This pass copies `prefill`
    as `prefill_last` and, in the copy, runs on the last row every row-wise
    op that only the last row of the result needs: the final
    `pquant.rms_norm` and the lm_head `pquant.float_linear`, and before them
    the last layer's residual adds, FFN, O projection, attention and query
    projection. The ops that other rows still need (the keys and values of
    every token, which the attention writes into the cache) run on every
    row, and the last row of their results is sliced off where the
    one-row ops read them. The attention then has one query, the last new
    token's. The result is `tensor<1xVxf32>`. The runtime's `pq_prefill`
    calls `prefill_last` where it exists, `prefill` otherwise: a module
    without a `prefill`, or whose `prefill` does not end in the final norm
    or the lm_head, is left as it is.

    Row-wise ops are `pquant.rms_norm`, `float_linear`, `decoupled_ffn`,
    `quantize`, `bitlinear`, `rope`, `arith.addf` on tensors, reshapes
    that keep dimension 0, and `pquant.attention` in its query.

    ```mlir
    %h = arith.addf %x, %o : tensor<?x64xf32>
    %n = pquant.rms_norm %h weight(%w) : tensor<?x64xf32>, tensor<64xf32>
    %y = pquant.float_linear %n, %head : ... -> tensor<?x256xf32>
    // in prefill_last becomes (%o's producers run on one row as well)
    %last = tensor.extract_slice %x[%m1, 0] [1, 64] [1, 1] : tensor<?x64xf32> to tensor<1x64xf32>
    %h = arith.addf %last, %o : tensor<1x64xf32>
    %n = pquant.rms_norm %h weight(%w) : tensor<1x64xf32>, tensor<64xf32>
    %y = pquant.float_linear %n, %head : ... -> tensor<1x256xf32>
    ```

    Run it before the passes that rewrite the lm_head
    (`pquant-quantize-lm-head`), which then rewrite both functions.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def ExternalizeWeights : Pass<"pquant-externalize-weights", "::mlir::ModuleOp"> {
  let summary = "Read pquant.weight tensors from a weights buffer passed to each entry point";
  let description = [{
    Gives every public function that uses `pquant.weight` a new leading
    argument, `memref<?xi8>`: the data section of the model artifact, which
    the runtime maps from the `.pqw` file. Each weight becomes a
    `memref.view` of it at a 64-byte aligned offset; a weight feeding a
    kernel (`bufferization.to_buffer`) is used as that view directly, any
    other use through `bufferization.to_tensor`.

    The layout is recorded on the module for the artifact writer:

    ```mlir
    module attributes {pquant.weights = {size = 4352 : i64, tensors = [
        {name = "embed.weight", offset = 0 : i64, type = tensor<256x64xf32>}, ...]}}
    ```

    The same weight (name and type) used by several entry points has one
    offset. Run after `pquant-lower-to-kernels` and before bufferization.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ExportEntryPoints : Pass<"pquant-export-entry-points", "::mlir::ModuleOp"> {
  let summary = "Give the public functions C entry points, and only them";
  let description = [{
    Marks every public `func.func` with `llvm.emit_c_interface`, so the LLVM
    lowering adds `_mlir_ciface_<name>` taking memref descriptors by pointer:
    the ABI the runtime and test harnesses call. Generated kernels are
    private and get none, so two compiled modules link together without
    symbol clashes.
  }];
}

def DeallocAfterLastUse : Pass<"pquant-dealloc-after-last-use", "::mlir::func::FuncOp"> {
  let summary = "Free each buffer right after its last use instead of at the end of its block";
  let description = [{
    Ownership-based buffer deallocation frees the buffers of a block at its
    end. A model's entry point is one block: a prefill would hold every
    layer's activations at once (1.5 GB for 512 tokens of a 1.3B model), all
    in fresh pages. This pass moves each `memref.dealloc` of a `memref.alloc`
    of the same block up to just after the last operation of the block that
    uses the buffer or a value derived from it (a view, a cast, anything an
    operation on it returns as a memref), so the allocator hands the memory
    to the next layer. A buffer that reaches the block's terminator stays
    where it is.
  }];
}

def PlanScratch : Pass<"pquant-plan-scratch", "::mlir::ModuleOp"> {
  let summary = "Take an entry point's buffers from a scratch buffer and its result from a result buffer, both the runtime's";
  let description = [{
    Without this pass every intermediate buffer of a step is a `malloc` and a
    `free` (about a thousand of each per decode step of a 1.3B model). For
    each function named in `functions` (the model's entry points, whose
    callers provide the scratch), every `memref.alloc` of its body's block
    with a static shape and identity layout that a `memref.dealloc` of the
    same block frees (after `pquant-dealloc-after-last-use`, right after its
    last use) becomes a `memref.view` into one buffer, at offsets (multiples
    of 64 bytes) chosen first fit in block order so buffers whose lifetimes
    do not overlap share memory; the deallocs go. The buffer comes from a
    call at the start of the function:

    ```c
    void _mlir_ciface_pquant_scratch(MemRef<uint8_t, 1> *result, int64_t bytes);
    ```

    which the runtime defines (the model's scratch, allocated when the model
    is opened), and the module exports the largest size the functions ask
    for as `uint64_t pquant_scratch_bytes`. A returned buffer of static shape
    (one token's logits) is a view of what
    `_mlir_ciface_pquant_result(&result, bytes)` gives: the runtime's buffer
    for them, or memory from `malloc` that the caller frees when the caller
    is not the runtime. Buffers of dynamic shape (a prompt's, sized by its
    length) and buffers freed in nested regions stay allocations.
  }];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "The functions whose buffers go to the scratch buffer">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::LLVM::LLVMDialect"];
}

def OutlineParallelLoops : Pass<"pquant-outline-parallel-loops", "::mlir::ModuleOp"> {
  let summary = "Run each scf.parallel loop on the runtime's thread pool";
  let description = [{
    Kernels mark the loops whose iterations are independent (output row
    tiles, attention heads) as one-dimensional `scf.parallel` loops without
    reductions. This pass moves the body of each outermost such loop into a
    task function `void task(void *context, int64_t begin, int64_t end)`
    that runs iterations `[begin, end)`, and replaces the loop with a call

    ```c
    void pquant_parallel_for(void (*task)(void *, int64_t, int64_t),
                             void *context, int64_t iterations);
    ```

    which the runtime implements with its thread pool, splitting the
    iterations into one contiguous range per thread. The values the body
    uses from above travel in a stack-allocated context struct: memrefs as
    their LLVM descriptors, `index` as `i64`, and integer and float scalars
    as they are; constants are cloned into the task instead. A static
    `memref.alloca` of the loop body (an iteration's private buffer, since
    `scf.parallel` is an allocation scope) is taken once per task, before
    its loop; a dynamic one is an error.

    A loop with several dimensions or with reductions is an error: kernels
    make neither.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def LowerDot4 : Pass<"pquant-lower-dot4"> {
  let summary = "Lower pquant.dot4 to the target's byte dot-product instruction";
  let description = [{
    Rewrites each `pquant.dot4` into an LLVM intrinsic call when the target
    instruction computes exactly it, and into widening multiplies and a
    reduction over each group of four otherwise:

    - `instruction=vnni`: 16 lanes with an unsigned left operand become
      `llvm.x86.avx512.vpdpbusd.512`;
    - `instruction=sdot`: 4 signed lanes become
      `llvm.aarch64.neon.sdot.v4i32.v16i8`;
    - anything else, or `instruction=generic`: `extui`/`extsi` to i32,
      `muli`, and for each position in a group of four a `vector.shuffle`
      gathering it from every group, added to the accumulator.

    It runs after buffer deallocation, which rejects intrinsic calls of
    unknown memory effects.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect"];
  let options = [
    Option<"instruction", "instruction", "std::string", "\"generic\"",
           "The target's dot product: generic, vnni or sdot">,
  ];
}

def LowerLookupBytes : Pass<"pquant-lower-lookup-bytes"> {
  let summary = "Lower pquant.lookup_bytes to the target's table-lookup instruction";
  let description = [{
    Rewrites each `pquant.lookup_bytes`:

    - `instruction=vbmi`: 64 lanes become `llvm.x86.avx512.vpermi2var.qi.512`
      (`vpermi2b`);
    - anything else, or `instruction=generic`: the table as one vector
      (`vector.shuffle` of low and high), then per lane the index masked to
      its low bits, a `vector.extract` at it and a `vector.insert` into the
      result (correct everywhere; the kernels that use the op are chosen
      only where the instruction exists).

    Like `pquant-lower-dot4`, it runs after buffer deallocation, which
    rejects intrinsic calls of unknown memory effects.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect"];
  let options = [
    Option<"instruction", "instruction", "std::string", "\"generic\"",
           "The target's byte table lookup: generic or vbmi">,
  ];
}

#endif // PQUANT_DIALECT_PQUANT_TRANSFORMS_PASSES_TD
