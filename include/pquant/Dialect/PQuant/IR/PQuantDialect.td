//===- PQuantDialect.td - pquant dialect definition --------*- tablegen -*-===//
//
// The dialect of pQuant models: decoupled 1-bit / int8 linear layers, sparse
// int8 experts and the decoder ops around them.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTDIALECT_TD
#define PQUANT_DIALECT_PQUANT_IR_PQUANTDIALECT_TD

include "mlir/IR/OpBase.td"

def PQuant_Dialect : Dialect {
  let name = "pquant";
  let cppNamespace = "::pquant";
  let summary = "Decoupled 1-bit / int8 language-model layers and the decoder around them";
  let description = [{
    The `pquant` dialect describes pQuant language models: LLaMA-style decoders
    whose linear layers are split into a dominant 1-bit branch (weights ±1,
    activations int8) and a small int8 branch that may be replicated into
    top-k routed experts.

    Ops work on ranked tensors with value semantics. Activations are 2-D
    `[tokens, features]` tensors (3-D `[tokens, heads, head_dim]` for
    attention); every integer dot product is exact, so lowered code must match
    the reference bit for bit on each accumulator. The math of every op is
    stated in `docs/semantics.md`.

    1-bit weights appear either unpacked, as `tensor<NxKxi1>` where `1` means
    +1 and `0` means −1, or packed into machine words, as a rank-4 integer
    tensor carrying a `#pquant.packed` encoding that records the word width,
    the tiling, the bit order and the logical shape.
  }];
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

class PQuant_Op<string mnemonic, list<Trait> traits = []>
    : Op<PQuant_Dialect, mnemonic, traits>;

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTDIALECT_TD
