//===- PQuantOps.cpp - pquant op verifiers ----------------------------------===//
//
// Each verifier names the dimensions of DESIGN §2 (M tokens, K inputs, N
// outputs, D hidden, E experts, ...) and binds every operand dimension to one
// of them, so a mismatch is reported with both places that disagree.
//
//===----------------------------------------------------------------------===//

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"

using namespace mlir;
using namespace pquant;

namespace {

/// Binds named dimensions to the first static size seen for them and reports
/// the first disagreement as an op error naming both sources. Dynamic sizes
/// bind nothing.
class DimBinder {
public:
  explicit DimBinder(Operation *op) : op(op) {}

  /// Binds `symbol` to dimension `dim` of operand or result `name`.
  DimBinder &dim(StringRef symbol, StringRef name, Type type, unsigned dim) {
    auto shaped = cast<ShapedType>(type);
    return size(symbol, ("'" + name + "' dim " + Twine(dim)).str(),
                shaped.getDimSize(dim));
  }

  /// Binds `symbol` to `value`, described as `source` in diagnostics.
  DimBinder &size(StringRef symbol, StringRef source, int64_t value) {
    if (failed || ShapedType::isDynamic(value))
      return *this;
    auto [it, inserted] =
        bound.try_emplace(symbol, Bound{value, source.str()});
    if (inserted || it->second.value == value)
      return *this;
    failed = true;
    op->emitOpError() << "dimension " << symbol << " mismatch: " << source
                      << " is " << value << " but " << it->second.source
                      << " is " << it->second.value;
    return *this;
  }

  /// Binds N and K of a 1-bit weight, unpacked `[N, K]` or packed.
  DimBinder &binaryWeight(StringRef name, Type type, StringRef n,
                          StringRef k) {
    if (PackedLayoutAttr layout = getPackedLayout(type))
      return size(n, ("'" + name + "' packed rows").str(), layout.getRows())
          .size(k, ("'" + name + "' packed cols").str(), layout.getCols());
    return dim(n, name, type, 0).dim(k, name, type, 1);
  }

  /// Binds a scale that is per tensor (`[1]`) or per channel (`[N]`).
  DimBinder &channelScale(StringRef name, Type type, StringRef n) {
    if (cast<ShapedType>(type).getDimSize(0) == 1)
      return *this;
    return dim(n, name, type, 0);
  }

  /// The size bound to `symbol`, or dynamic when none was.
  int64_t get(StringRef symbol) const {
    auto it = bound.find(symbol);
    return it == bound.end() ? ShapedType::kDynamic : it->second.value;
  }

  LogicalResult result() const { return failure(failed); }

private:
  struct Bound {
    int64_t value;
    std::string source;
  };
  Operation *op;
  bool failed = false;
  llvm::StringMap<Bound> bound;
};

} // namespace

//===----------------------------------------------------------------------===//
// Linear layers
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::verify() {
  return DimBinder(*this)
      .dim("M", "input", getInput().getType(), 0)
      .dim("K", "input", getInput().getType(), 1)
      .dim("M", "output", getOutput().getType(), 0)
      .dim("K", "output", getOutput().getType(), 1)
      .dim("M", "scale", getScale().getType(), 0)
      .result();
}

LogicalResult BitLinearOp::verify() {
  return DimBinder(*this)
      .dim("M", "input", getInput().getType(), 0)
      .dim("K", "input", getInput().getType(), 1)
      .dim("M", "input_scale", getInputScale().getType(), 0)
      .binaryWeight("weight", getWeight().getType(), "N", "K")
      .channelScale("weight_scale", getWeightScale().getType(), "N")
      .dim("M", "result", getResult().getType(), 0)
      .dim("N", "result", getResult().getType(), 1)
      .result();
}

LogicalResult Int8LinearOp::verify() {
  return DimBinder(*this)
      .dim("M", "input", getInput().getType(), 0)
      .dim("K", "input", getInput().getType(), 1)
      .dim("M", "input_scale", getInputScale().getType(), 0)
      .dim("N", "weight", getWeight().getType(), 0)
      .dim("K", "weight", getWeight().getType(), 1)
      .dim("N", "weight_scale", getWeightScale().getType(), 0)
      .dim("M", "result", getResult().getType(), 0)
      .dim("N", "result", getResult().getType(), 1)
      .result();
}

LogicalResult FloatLinearOp::verify() {
  return DimBinder(*this)
      .dim("M", "input", getInput().getType(), 0)
      .dim("K", "input", getInput().getType(), 1)
      .dim("N", "weight", getWeight().getType(), 0)
      .dim("K", "weight", getWeight().getType(), 1)
      .dim("M", "result", getResult().getType(), 0)
      .dim("N", "result", getResult().getType(), 1)
      .result();
}

//===----------------------------------------------------------------------===//
// Decoupled FFN and expert routing
//===----------------------------------------------------------------------===//

LogicalResult DecoupledFFNOp::verify() {
  DimBinder dims(*this);
  dims.dim("M", "input", getInput().getType(), 0)
      .dim("D", "input", getInput().getType(), 1)
      .binaryWeight("gate1", getGate1().getType(), "F1", "D")
      .channelScale("gate1_scale", getGate1Scale().getType(), "F1")
      .binaryWeight("up1", getUp1().getType(), "F1", "D")
      .channelScale("up1_scale", getUp1Scale().getType(), "F1")
      .binaryWeight("down1", getDown1().getType(), "D", "F1")
      .channelScale("down1_scale", getDown1Scale().getType(), "D")
      .dim("E", "gate8", getGate8().getType(), 0)
      .dim("R", "gate8", getGate8().getType(), 1)
      .dim("D", "gate8", getGate8().getType(), 2)
      .dim("E", "gate8_scale", getGate8Scale().getType(), 0)
      .dim("R", "gate8_scale", getGate8Scale().getType(), 1)
      .dim("E", "up8", getUp8().getType(), 0)
      .dim("R", "up8", getUp8().getType(), 1)
      .dim("D", "up8", getUp8().getType(), 2)
      .dim("E", "up8_scale", getUp8Scale().getType(), 0)
      .dim("R", "up8_scale", getUp8Scale().getType(), 1)
      .dim("E", "down8", getDown8().getType(), 0)
      .dim("D", "down8", getDown8().getType(), 1)
      .dim("R", "down8", getDown8().getType(), 2)
      .dim("E", "down8_scale", getDown8Scale().getType(), 0)
      .dim("D", "down8_scale", getDown8Scale().getType(), 1);
  if (Value router = getRouter())
    dims.dim("E", "router", router.getType(), 0)
        .dim("D", "router", router.getType(), 1);
  if (failed(dims.result()))
    return failure();

  int64_t numExperts = dims.get("E");
  if (ShapedType::isDynamic(numExperts))
    return emitOpError("needs a static number of experts");
  if (numExperts > 1 && !getRouter())
    return emitOpError() << "has " << numExperts
                         << " experts but no router; a router(...) operand "
                            "is required when there is more than one expert";
  if (numExperts == 1 && getRouter())
    return emitOpError("has a router but a single expert; drop the router "
                       "for a dense int8 branch");
  if (static_cast<int64_t>(getTopK()) > numExperts)
    return emitOpError() << "top_k = " << getTopK() << " exceeds the "
                         << numExperts << " experts";
  if (getEps().convertToFloat() < 0.0f)
    return emitOpError("eps must be non-negative");
  return success();
}

LogicalResult RouterOp::verify() {
  if (failed(DimBinder(*this)
                 .dim("M", "input", getInput().getType(), 0)
                 .dim("D", "input", getInput().getType(), 1)
                 .dim("D", "weight", getWeight().getType(), 1)
                 .size("k", "top_k", static_cast<int64_t>(getTopK()))
                 .dim("M", "experts", getExperts().getType(), 0)
                 .dim("k", "experts", getExperts().getType(), 1)
                 .dim("M", "gates", getGates().getType(), 0)
                 .dim("k", "gates", getGates().getType(), 1)
                 .result()))
    return failure();
  int64_t numExperts = getWeight().getType().getDimSize(0);
  if (!ShapedType::isDynamic(numExperts) && static_cast<int64_t>(getTopK()) > numExperts)
    return emitOpError() << "top_k = " << getTopK() << " exceeds the "
                         << numExperts << " experts of 'weight'";
  return success();
}

LogicalResult ExpertLinearOp::verify() {
  DimBinder dims(*this);
  if (failed(dims.dim("M", "input", getInput().getType(), 0)
                 .dim("K", "input", getInput().getType(), 1)
                 .dim("M", "input_scale", getInputScale().getType(), 0)
                 .dim("E", "weight", getWeight().getType(), 0)
                 .dim("N", "weight", getWeight().getType(), 1)
                 .dim("K", "weight", getWeight().getType(), 2)
                 .dim("E", "weight_scale", getWeightScale().getType(), 0)
                 .dim("N", "weight_scale", getWeightScale().getType(), 1)
                 .dim("M", "experts", getExperts().getType(), 0)
                 .dim("M", "result", getResult().getType(), 0)
                 .dim("N", "result", getResult().getType(), 1)
                 .result()))
    return failure();
  int64_t slots = getExperts().getType().getDimSize(1);
  if (!ShapedType::isDynamic(slots) && static_cast<int64_t>(getSlot()) >= slots)
    return emitOpError() << "slot " << getSlot() << " is out of range for "
                         << slots << " routing slots in 'experts'";
  return success();
}

LogicalResult CombineOp::verify() {
  if (getExperts().empty())
    return emitOpError("needs at least one expert output");
  DimBinder dims(*this);
  dims.dim("M", "binary", getBinary().getType(), 0)
      .dim("D", "binary", getBinary().getType(), 1);
  for (auto [index, expert] : llvm::enumerate(getExperts())) {
    std::string name = ("experts#" + Twine(index)).str();
    dims.dim("M", name, expert.getType(), 0).dim("D", name, expert.getType(), 1);
  }
  if (Value gates = getGates())
    dims.dim("M", "gates", gates.getType(), 0)
        .size("k", "the number of expert outputs",
              static_cast<int64_t>(getExperts().size()))
        .dim("k", "gates", gates.getType(), 1);
  if (failed(dims.result()))
    return failure();
  if (getGateWeighting() && !getGates())
    return emitOpError("gate_weighting needs a gates(...) operand");
  return success();
}

//===----------------------------------------------------------------------===//
// Decoder ops
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("needs a non-empty checkpoint tensor name");
  std::optional<WeightQuantization> quantization = getQuantization();
  if (!quantization)
    return success();
  auto type = cast<RankedTensorType>(getType());
  switch (*quantization) {
  case WeightQuantization::Int8Rows:
    if (type.getRank() != 2 || !type.getElementType().isInteger(8))
      return emitOpError("quantized int8_rows must be an [N, K] i8 tensor, not ")
             << type;
    break;
  case WeightQuantization::Int8RowScales:
    if (type.getRank() != 1 || !type.getElementType().isF32())
      return emitOpError(
                 "quantized int8_row_scales must be an [N] f32 tensor, not ")
             << type;
    break;
  }
  return success();
}

LogicalResult EmbeddingOp::verify() {
  DimBinder dims(*this);
  dims.dim("V", "table", getTable().getType(), 0)
      .dim("D", "table", getTable().getType(), 1)
      .dim("M", "tokens", getTokens().getType(), 0)
      .dim("M", "result", getResult().getType(), 0)
      .dim("D", "result", getResult().getType(), 1);
  if (Value scales = getScales())
    dims.dim("V", "scales", scales.getType(), 0);
  if (failed(dims.result()))
    return failure();
  bool int8 = cast<ShapedType>(getTable().getType()).getElementType().isInteger(8);
  if (int8 && !getScales())
    return emitOpError("an int8 table needs its per-row scales");
  if (!int8 && getScales())
    return emitOpError("scales are for an int8 table, not ")
           << getTable().getType();
  return success();
}

LogicalResult RMSNormOp::verify() {
  DimBinder dims(*this);
  dims.dim("D", "input", getInput().getType(), 1);
  if (Value weight = getWeight())
    dims.dim("D", "weight", weight.getType(), 0);
  if (failed(dims.result()))
    return failure();
  if (!(getEps().convertToFloat() >= 0.0f))
    return emitOpError("eps must be non-negative");
  return success();
}

LogicalResult RoPEOp::verify() {
  if (failed(DimBinder(*this)
                 .dim("M", "input", getInput().getType(), 0)
                 .dim("M", "positions", getPositions().getType(), 0)
                 .result()))
    return failure();
  int64_t headDim = getInput().getType().getDimSize(2);
  if (!ShapedType::isDynamic(headDim) && headDim % 2 != 0)
    return emitOpError() << "head dimension must be even to rotate pairs, got "
                         << headDim;
  if (!(getTheta().convertToFloat() > 0.0f))
    return emitOpError("theta must be positive");
  return success();
}

LogicalResult AttentionOp::verify() {
  DimBinder dims(*this);
  dims.dim("Mq", "query", getQuery().getType(), 0)
      .dim("H", "query", getQuery().getType(), 1)
      .dim("Dh", "query", getQuery().getType(), 2);
  for (auto [name, value] : {std::pair<StringRef, Value>{"key", getKey()},
                             {"value", getValue()}})
    dims.dim("M", name, value.getType(), 0)
        .dim("Hkv", name, value.getType(), 1)
        .dim("Dh", name, value.getType(), 2);
  Type cache = getKeyCache().getType();
  dims.dim("L", "key_cache", cache, 0)
      .dim("S", "key_cache", cache, 1)
      .dim("Hkv", "key_cache", cache, 2)
      .dim("Dh", "key_cache", cache, 3);
  if (failed(dims.result()))
    return failure();
  int64_t layers = dims.get("L");
  if (!ShapedType::isDynamic(layers) &&
      static_cast<int64_t>(getLayer()) >= layers)
    return emitOpError() << "layer " << getLayer()
                         << " is out of range for a cache of " << layers
                         << " layers";

  int64_t heads = dims.get("H"), kvHeads = dims.get("Hkv");
  if (!ShapedType::isDynamic(heads) && !ShapedType::isDynamic(kvHeads) &&
      heads % kvHeads != 0)
    return emitOpError() << "query heads (" << heads
                         << ") must be a multiple of key/value heads ("
                         << kvHeads << ")";
  int64_t queries = dims.get("Mq"), tokens = dims.get("M"),
          cacheRows = dims.get("S");
  if (!ShapedType::isDynamic(queries) && !ShapedType::isDynamic(tokens) &&
      queries > tokens)
    return emitOpError() << queries << " queries for " << tokens
                         << " new tokens: the queries are those of the last "
                            "new tokens";
  if (!ShapedType::isDynamic(tokens) && !ShapedType::isDynamic(cacheRows) &&
      tokens > cacheRows)
    return emitOpError() << tokens << " new tokens do not fit in a cache of "
                         << cacheRows << " rows";
  return success();
}

//===----------------------------------------------------------------------===//
// Kernel vector ops
//===----------------------------------------------------------------------===//

LogicalResult Dot4Op::verify() {
  int64_t lanes = getAcc().getType().getNumElements();
  int64_t bytes = getLhs().getType().getNumElements();
  if (bytes != 4 * lanes)
    return emitOpError() << "needs 4 bytes per accumulator lane: " << lanes
                         << " lanes but " << bytes << " bytes";
  return success();
}

LogicalResult LookupBytesOp::verify() {
  int64_t lanes = getResult().getType().getNumElements();
  if (!llvm::isPowerOf2_64(lanes) || lanes > 128)
    return emitOpError() << "needs a power of two of at most 128 lanes, not "
                         << lanes << " (the table has 2·lanes entries and an "
                                     "i8 index)";
  return success();
}

#define GET_OP_CLASSES
#include "pquant/Dialect/PQuant/IR/PQuantOps.cpp.inc"
