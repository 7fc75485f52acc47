//===- PQuantAttributes.td - pquant attributes -------------*- tablegen -*-===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTATTRIBUTES_TD
#define PQUANT_DIALECT_PQUANT_IR_PQUANTATTRIBUTES_TD

include "pquant/Dialect/PQuant/IR/PQuantDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/TensorEncoding.td"

def PQuant_BitOrder : I32EnumAttr<"BitOrder", "order of weight columns inside a packed word", [
    I32EnumAttrCase<"LsbFirst", 0, "lsb_first">,
    I32EnumAttrCase<"MsbFirst", 1, "msb_first">
  ]> {
  let cppNamespace = "::pquant";
  let genSpecializedAttr = 0;
}

def PQuant_WeightQuantization : I32EnumAttr<"WeightQuantization",
    "a quantized form of a checkpoint tensor, computed when the artifact is written", [
    I32EnumAttrCase<"Int8Rows", 0, "int8_rows">,
    I32EnumAttrCase<"Int8RowScales", 1, "int8_row_scales">
  ]> {
  let cppNamespace = "::pquant";
}

def PQuant_PackedLayoutAttr : AttrDef<PQuant_Dialect, "PackedLayout",
    [DeclareAttrInterfaceMethods<VerifiableTensorEncoding>]> {
  let mnemonic = "packed";
  let summary = "How a 1-bit weight matrix is packed into machine words";
  let description = [{
    Encoding of a tensor that stores a logical `rows × cols` matrix of ±1
    weights (`rows` = N output channels, `cols` = K input features) as bits of
    `word`-bit integers. A set bit is +1, a clear bit is −1.

    Columns are grouped into words of `word` columns; `bit_order` says whether
    column `k` of a word sits at bit `k mod word` (`lsb_first`) or at bit
    `word − 1 − k mod word` (`msb_first`). Words are tiled so that kernels can
    load several rows at once: a tile holds `tile[0]` rows × `tile[1]` words,
    and the tensor that carries the encoding has the rank-4 shape

    ```
    [ceil(rows / tile[0]), ceil(ceil(cols / word) / tile[1]), tile[0], tile[1]]
    ```

    of `i<word>` elements: tile row-block, tile word-block, row in tile, word
    in tile. Padding columns (past `cols`) and padding rows (past `rows`) hold
    clear bits; they never change a result because lowered kernels treat the
    matching activations as zero and drop the padding rows.

    Example: 11 rows of 200 columns in 32-bit words, tiles of 4 rows × 2 words:

    ```mlir
    tensor<3x4x4x2xi32, #pquant.packed<rows = 11, cols = 200, word = 32,
                                        tile = [4, 2], bit_order = lsb_first>>
    ```
  }];
  let parameters = (ins
    "int64_t":$rows,
    "int64_t":$cols,
    "unsigned":$word,
    "int64_t":$tileRows,
    "int64_t":$tileWords,
    "::pquant::BitOrder":$bitOrder
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Number of words that hold one row's `cols` bits, before tiling.
    int64_t getWordsPerRow() const;
    /// The rank-4 shape of the tensor that stores the packed words.
    ::llvm::SmallVector<int64_t, 4> getStorageShape() const;
    /// The integer type of one packed word.
    ::mlir::IntegerType getWordType() const;
    /// Index, in the row-major storage, of the word holding (row, col).
    int64_t getWordIndex(int64_t row, int64_t col) const;
    /// Bit position, inside its word, of column `col`.
    unsigned getBitIndex(int64_t col) const;
    /// Number of words in the storage.
    int64_t getNumWords() const;
  }];
}

def PQuant_KernelStrategy : I32EnumAttr<"KernelStrategy",
    "how a BitLinear kernel computes its 1-bit sums", [
    I32EnumAttrCase<"BitSerial", 0, "bitserial">,
    I32EnumAttrCase<"UnpackDot", 1, "unpack_dot">,
    I32EnumAttrCase<"Lookup", 2, "lookup">
  ]> {
  let cppNamespace = "::pquant";
  let genSpecializedAttr = 0;
}

def PQuant_KernelChoiceAttr : AttrDef<PQuant_Dialect, "KernelChoice"> {
  let mnemonic = "kernel";
  let summary = "The kernel one BitLinear is lowered to, chosen per op";
  let description = [{
    Placed on a `pquant.bitlinear` as its `kernel` attribute, it overrides
    the `strategy` option of `pquant-lower-to-kernels` for that op (the
    `auto` cost model and a forced strategy alike). `pquant-compile --tune`
    writes it after timing the candidates on the machine (docs/tuning.md).

    - `bitserial`: AND + popcount over the activations' bit-planes; it has
      no tile parameter.
    - `unpack_dot`: weight words unpacked to bytes and fed to a byte dot
      product. `chunk_words` is how many 64-bit words of each tile row are
      unpacked at a time (the chunk, R × 64 × chunk_words bytes for tiles of
      R rows, lives on the stack and is reused by every token); without it
      the kernel's default, 32, is used. It must lie in [1, 256].
    - `lookup`: per block of 32 tokens, tables of the sums that each 4-bit
      weight pattern selects from 4 columns; each weight nibble adds its
      table entry (prefill). For one token on x86 with AVX-512 VBMI and
      VNNI, the lookup GEMV: byte tables of those sums for the low and high
      nibbles of q, 64 weight nibbles looked up per `vpermi2b`. No tile
      parameter.

    ```mlir
    %y = pquant.bitlinear %q, %s, %w, %ws {kernel = #pquant.kernel<unpack_dot, chunk_words = 16>}
        : tensor<?x64xi8>, tensor<?xf32>, tensor<32x64xi1>, tensor<1xf32> -> tensor<?x32xf32>
    ```
  }];
  let parameters = (ins
    EnumParameter<PQuant_KernelStrategy>:$strategy,
    OptionalParameter<"std::optional<int64_t>",
                      "unpack_dot: 64-bit words of each tile row unpacked at a time">:$chunkWords
  );
  let assemblyFormat = "`<` $strategy (`,` `chunk_words` `=` $chunkWords^)? `>`";
  let genVerifyDecl = 1;
}

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTATTRIBUTES_TD
