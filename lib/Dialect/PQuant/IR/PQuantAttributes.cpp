//===- PQuantAttributes.cpp - #pquant.packed and #pquant.kernel -----------===//

#include "pquant/Dialect/PQuant/IR/PQuantAttributes.h"
#include "pquant/Dialect/PQuant/IR/PQuantDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace pquant;

#include "pquant/Dialect/PQuant/IR/PQuantEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "pquant/Dialect/PQuant/IR/PQuantAttributes.cpp.inc"

void PQuantDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "pquant/Dialect/PQuant/IR/PQuantAttributes.cpp.inc"
      >();
}

bool pquant::isPackedWeightType(Type type) {
  return static_cast<bool>(getPackedLayout(type));
}

PackedLayoutAttr pquant::getPackedLayout(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return {};
  return dyn_cast_if_present<PackedLayoutAttr>(tensor.getEncoding());
}

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t PackedLayoutAttr::getWordsPerRow() const {
  return ceilDiv(getCols(), getWord());
}

SmallVector<int64_t, 4> PackedLayoutAttr::getStorageShape() const {
  return {ceilDiv(getRows(), getTileRows()),
          ceilDiv(getWordsPerRow(), getTileWords()), getTileRows(),
          getTileWords()};
}

IntegerType PackedLayoutAttr::getWordType() const {
  return IntegerType::get(getContext(), getWord());
}

int64_t PackedLayoutAttr::getWordIndex(int64_t row, int64_t col) const {
  int64_t word = col / getWord();
  int64_t wordBlocks = ceilDiv(getWordsPerRow(), getTileWords());
  int64_t rowBlock = row / getTileRows(), rowInTile = row % getTileRows();
  int64_t wordBlock = word / getTileWords(), wordInTile = word % getTileWords();
  return ((rowBlock * wordBlocks + wordBlock) * getTileRows() + rowInTile) *
             getTileWords() +
         wordInTile;
}

unsigned PackedLayoutAttr::getBitIndex(int64_t col) const {
  unsigned bit = col % getWord();
  return getBitOrder() == BitOrder::LsbFirst ? bit : getWord() - 1 - bit;
}

int64_t PackedLayoutAttr::getNumWords() const {
  int64_t count = 1;
  for (int64_t dim : getStorageShape())
    count *= dim;
  return count;
}

FailureOr<std::vector<uint8_t>> pquant::unpackBits(ArrayRef<char> raw,
                                                  PackedLayoutAttr layout) {
  unsigned wordBytes = layout.getWord() / 8;
  if (raw.size() != size_t(layout.getNumWords()) * wordBytes)
    return failure();
  int64_t rows = layout.getRows(), cols = layout.getCols();
  std::vector<uint8_t> bits(rows * cols);
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t col = 0; col < cols; ++col) {
      unsigned bit = layout.getBitIndex(col);
      size_t byte = layout.getWordIndex(row, col) * wordBytes + bit / 8;
      bits[row * cols + col] = (raw[byte] >> (bit % 8)) & 1;
    }
  return bits;
}

std::vector<char> pquant::packBits(ArrayRef<uint8_t> bits,
                                   PackedLayoutAttr layout) {
  unsigned wordBytes = layout.getWord() / 8;
  std::vector<char> raw(layout.getNumWords() * wordBytes, 0);
  int64_t rows = layout.getRows(), cols = layout.getCols();
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t col = 0; col < cols; ++col)
      if (bits[row * cols + col]) {
        unsigned bit = layout.getBitIndex(col);
        raw[layout.getWordIndex(row, col) * wordBytes + bit / 8] |=
            char(1u << (bit % 8));
      }
  return raw;
}

LogicalResult
PackedLayoutAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                         int64_t rows, int64_t cols, unsigned word,
                         int64_t tileRows, int64_t tileWords, BitOrder) {
  if (rows <= 0 || cols <= 0)
    return emitError() << "packed layout needs a positive logical shape, got "
                       << rows << "x" << cols;
  if (word != 8 && word != 16 && word != 32 && word != 64)
    return emitError() << "packed word width must be 8, 16, 32 or 64 bits, got "
                       << word;
  if (tileRows <= 0 || tileWords <= 0)
    return emitError() << "packed tile sizes must be positive, got ["
                       << tileRows << ", " << tileWords << "]";
  return success();
}

LogicalResult
KernelChoiceAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                         KernelStrategy strategy,
                         std::optional<int64_t> chunkWords) {
  if (!chunkWords)
    return success();
  if (strategy != KernelStrategy::UnpackDot)
    return emitError() << "chunk_words is a parameter of unpack_dot only, not of "
                       << stringifyKernelStrategy(strategy);
  // The chunk is unpacked into a stack buffer of R × 64 × chunk_words bytes.
  if (*chunkWords < 1 || *chunkWords > 256)
    return emitError() << "chunk_words = " << *chunkWords
                       << " is not in [1, 256]";
  return success();
}

LogicalResult PackedLayoutAttr::verifyEncoding(
    ArrayRef<int64_t> shape, Type elementType,
    function_ref<InFlightDiagnostic()> emitError) const {
  if (elementType != getWordType())
    return emitError() << "packed weight elements must be " << getWordType()
                       << " to match word = " << getWord() << ", got "
                       << elementType;
  SmallVector<int64_t, 4> expected = getStorageShape();
  if (ArrayRef<int64_t>(expected) != shape) {
    InFlightDiagnostic diag = emitError() << "packed weight storage shape [";
    llvm::interleaveComma(shape, diag);
    diag << "] does not match the [";
    llvm::interleaveComma(expected, diag);
    diag << "] required by " << *this;
    diag.attachNote() << "the storage shape is [ceil(rows / tile[0]), "
                         "ceil(ceil(cols / word) / tile[1]), tile[0], tile[1]]";
    return diag;
  }
  return success();
}

/// Parses `keyword = <integer>`.
template <typename IntT>
static ParseResult parseIntField(AsmParser &parser, StringRef keyword,
                                 IntT &value) {
  return failure(parser.parseKeyword(keyword) || parser.parseEqual() ||
                 parser.parseInteger(value));
}

Attribute PackedLayoutAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  int64_t rows, cols, tileRows, tileWords;
  unsigned word;
  StringRef orderName;
  if (parser.parseLess() || parseIntField(parser, "rows", rows) ||
      parser.parseComma() || parseIntField(parser, "cols", cols) ||
      parser.parseComma() || parseIntField(parser, "word", word) ||
      parser.parseComma() || parser.parseKeyword("tile") ||
      parser.parseEqual() || parser.parseLSquare() ||
      parser.parseInteger(tileRows) || parser.parseComma() ||
      parser.parseInteger(tileWords) || parser.parseRSquare() ||
      parser.parseComma() || parser.parseKeyword("bit_order") ||
      parser.parseEqual())
    return {};
  SMLoc orderLoc = parser.getCurrentLocation();
  if (parser.parseKeyword(&orderName) || parser.parseGreater())
    return {};
  std::optional<BitOrder> order = symbolizeBitOrder(orderName);
  if (!order) {
    parser.emitError(orderLoc, "unknown bit order '")
        << orderName << "', expected 'lsb_first' or 'msb_first'";
    return {};
  }
  return getChecked([&] { return parser.emitError(loc); },
                    parser.getContext(), rows, cols, word, tileRows, tileWords,
                    *order);
}

void PackedLayoutAttr::print(AsmPrinter &printer) const {
  printer << "<rows = " << getRows() << ", cols = " << getCols()
          << ", word = " << getWord() << ", tile = [" << getTileRows() << ", "
          << getTileWords()
          << "], bit_order = " << stringifyBitOrder(getBitOrder()) << ">";
}
