//===- ModelImporter.cpp - checkpoint to pquant IR --------------------------===//

#include "pquant/Import/ModelImporter.h"

#include "pquant/Dialect/PQuant/IR/PQuantOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"

#include <cstddef>

using namespace mlir;
using namespace pquant;

namespace {

/// Builds one forward pass (prefill or decode) of the decoder.
class DecoderBuilder {
public:
  DecoderBuilder(OpBuilder &builder, const Checkpoint &checkpoint,
                 const ImportOptions &options)
      : b(builder), checkpoint(checkpoint), config(checkpoint.getConfig()),
        options(options), f32(b.getF32Type()) {}

  /// Adds `@name` for `tokens` tokens per call (dynamic for prefill).
  void buildEntry(StringRef name, int64_t tokens);

private:
  Location loc(const Twine &what) {
    return NameLoc::get(b.getStringAttr(what));
  }

  RankedTensorType tensor(ArrayRef<int64_t> shape, Type element) {
    return RankedTensorType::get(shape, element);
  }

  /// The element type a stored dtype has in the IR.
  Type elementType(DType dtype) {
    switch (dtype) {
    case DType::F32:
      return f32;
    case DType::F16:
      return b.getF16Type();
    case DType::I8:
    case DType::U8:
      return b.getIntegerType(8);
    }
    llvm_unreachable("unknown dtype");
  }

  /// The checkpoint tensor `name` as a value of type `type`: a
  /// `pquant.weight` reference, or a constant whose data lives once in the
  /// module's resource section however many entry points use it.
  Value weight(StringRef name, RankedTensorType type) {
    if (!options.inlineWeights)
      return WeightOp::create(b, loc(name), type, name);
    DenseResourceElementsAttr &data = inlined[name];
    if (!data) {
      const TensorView &view = checkpoint.get(name);
      ArrayRef<char> raw(reinterpret_cast<const char *>(view.bytes.data()),
                         view.bytes.size());
      // Malloc's alignment: enough for every element type, and what a
      // bytecode reader can honour when it re-reads the blob from the heap.
      data = DenseResourceElementsAttr::get(
          type, name,
          HeapAsmResourceBlob::allocateAndCopyWithAlign(
              raw, alignof(std::max_align_t)));
    }
    return arith::ConstantOp::create(b, loc(name), type, data);
  }

  /// A tensor stored with its own dtype and shape (norms, tables, scales).
  Value storedWeight(StringRef name) {
    const TensorView &view = checkpoint.get(name);
    return weight(name, tensor(view.shape, elementType(view.dtype)));
  }

  /// A 1-bit weight in the checkpoint's byte-packed layout.
  Value binaryWeight(StringRef name, int64_t rows, int64_t cols) {
    PackedLayoutAttr layout = checkpointLayout(b.getContext(), rows, cols);
    return weight(name, RankedTensorType::get(layout.getStorageShape(),
                                              layout.getWordType(), layout));
  }

  /// `quantize` then `bitlinear` with the named weight: [M, K] -> [M, N].
  Value bitLinear(Value q, Value s, StringRef name, int64_t n, int64_t k) {
    Value w = binaryWeight(name, n, k);
    Value scale = storedWeight(scaleName(name));
    return BitLinearOp::create(b, loc(name), tensor({tokens, n}, f32), q, s, w,
                               scale);
  }

  std::pair<Value, Value> quantize(Value x, const Twine &where) {
    auto type = cast<RankedTensorType>(x.getType());
    auto op = QuantizeOp::create(b, loc(where), type.clone(b.getI8Type()),
                                 tensor({tokens}, f32), x);
    return {op.getOutput(), op.getScale()};
  }

  Value rmsNorm(Value x, StringRef weightName) {
    return RMSNormOp::create(
        b, loc(weightName), x.getType(), x, storedWeight(weightName),
        b.getF32FloatAttr(float(config.rmsNormEps)));
  }

  /// Splits features into heads: [M, heads·Dh] -> [M, heads, Dh].
  Value splitHeads(Value x, int64_t heads, const Twine &where) {
    SmallVector<OpFoldResult> shape = {
        tokenCount, b.getIndexAttr(heads), b.getIndexAttr(config.headDim())};
    return tensor::ExpandShapeOp::create(
        b, loc(where), tensor({tokens, heads, config.headDim()}, f32), x,
        {{0}, {1, 2}}, shape);
  }

  /// One scalar (alpha, beta) read now: it becomes an attribute.
  FloatAttr scalar(StringRef name) {
    const TensorView &view = checkpoint.get(name);
    return b.getF32FloatAttr(
        llvm::bit_cast<float>(llvm::support::endian::read32le(view.bytes.data())));
  }

  Value attentionBlock(Value x, int64_t layer, Value positions, Value start,
                       Value keyCache, Value valueCache);
  Value ffnBlock(Value x, int64_t layer);

  OpBuilder &b;
  const Checkpoint &checkpoint;
  const ModelConfig &config;
  const ImportOptions &options;
  Type f32;
  int64_t tokens = 0;
  OpFoldResult tokenCount;
  llvm::StringMap<DenseResourceElementsAttr> inlined;
};

Value DecoderBuilder::attentionBlock(Value x, int64_t layer, Value positions,
                                     Value start, Value keyCache,
                                     Value valueCache) {
  std::string p = "layers." + std::to_string(layer) + ".";
  int64_t d = config.hiddenSize, dh = config.headDim();
  int64_t qDim = config.numHeads * dh, kvDim = config.numKVHeads * dh;

  Value h = rmsNorm(x, p + "attn_norm.weight");
  auto [q8, s] = quantize(h, p + "attn");
  Value q = bitLinear(q8, s, p + "attn.q.weight", qDim, d);
  Value k = bitLinear(q8, s, p + "attn.k.weight", kvDim, d);
  Value v = bitLinear(q8, s, p + "attn.v.weight", kvDim, d);
  FloatAttr theta = b.getF32FloatAttr(float(config.ropeTheta));
  Value qHeads = splitHeads(q, config.numHeads, p + "attn.q");
  Value kHeads = splitHeads(k, config.numKVHeads, p + "attn.k");
  Value vHeads = splitHeads(v, config.numKVHeads, p + "attn.v");
  qHeads = RoPEOp::create(b, loc(p + "attn.q"), qHeads.getType(), qHeads,
                          positions, theta);
  kHeads = RoPEOp::create(b, loc(p + "attn.k"), kHeads.getType(), kHeads,
                          positions, theta);
  auto attention = AttentionOp::create(
      b, loc(p + "attn"), qHeads.getType(), qHeads, kHeads, vHeads, keyCache,
      valueCache, b.getI64IntegerAttr(layer), start);
  Value merged = tensor::CollapseShapeOp::create(
      b, loc(p + "attn"), attention.getResult(), {{0}, {1, 2}});
  auto [o8, os] = quantize(merged, p + "attn.o");
  Value out = bitLinear(o8, os, p + "attn.o.weight", d, qDim);
  return arith::AddFOp::create(b, loc(p + "attn"), x, out);
}

Value DecoderBuilder::ffnBlock(Value x, int64_t layer) {
  std::string p = "layers." + std::to_string(layer) + ".";
  int64_t d = config.hiddenSize, f1 = config.ffnBinSize;
  Value h = rmsNorm(x, p + "ffn_norm.weight");
  Value router;
  if (config.numExperts > 1)
    router = storedWeight(p + "ffn.router.weight");
  auto binary = [&](StringRef name, int64_t n, int64_t k) {
    return std::pair<Value, Value>{binaryWeight(p + name.str(), n, k),
                                   storedWeight(scaleName(p + name.str()))};
  };
  auto int8 = [&](StringRef name) {
    return std::pair<Value, Value>{storedWeight(p + name.str()),
                                   storedWeight(scaleName(p + name.str()))};
  };
  auto [gate1, gate1Scale] = binary("ffn.gate1.weight", f1, d);
  auto [up1, up1Scale] = binary("ffn.up1.weight", f1, d);
  auto [down1, down1Scale] = binary("ffn.down1.weight", d, f1);
  auto [gate8, gate8Scale] = int8("ffn.gate8.weight");
  auto [up8, up8Scale] = int8("ffn.up8.weight");
  auto [down8, down8Scale] = int8("ffn.down8.weight");
  auto ffn = DecoupledFFNOp::create(
      b, loc(p + "ffn"), h.getType(), h, gate1, gate1Scale, up1, up1Scale,
      down1, down1Scale, gate8, gate8Scale, up8, up8Scale, down8, down8Scale,
      router, scalar(p + "ffn.alpha"), scalar(p + "ffn.beta"),
      b.getI64IntegerAttr(config.topK),
      config.gateWeighting ? b.getUnitAttr() : UnitAttr(),
      config.subln ? b.getUnitAttr() : UnitAttr(),
      b.getF32FloatAttr(float(config.rmsNormEps)));
  return arith::AddFOp::create(b, loc(p + "ffn"), x, ffn.getResult());
}

void DecoderBuilder::buildEntry(StringRef name, int64_t tokenCountStatic) {
  tokens = tokenCountStatic;
  auto cacheType = MemRefType::get({config.numLayers, config.maxSeqLen,
                                    config.numKVHeads, config.headDim()},
                                   f32);
  auto logitsType = tensor({tokens, config.vocabSize}, f32);
  SmallVector<Type> inputs = {tensor({tokens}, b.getI32Type()),
                              b.getIndexType(), cacheType, cacheType};
  SmallVector<Type> results = {logitsType};
  auto func = func::FuncOp::create(b, loc(name), name,
                                   b.getFunctionType(inputs, results));
  OpBuilder::InsertionGuard guard(b);
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value tokenIds = body->getArgument(0), start = body->getArgument(1);

  if (ShapedType::isDynamic(tokens))
    tokenCount = tensor::DimOp::create(b, loc(name), tokenIds, 0).getResult();
  else
    tokenCount = b.getIndexAttr(tokens);

  // Token m sits at position start + m.
  SmallVector<Value> dynamicSizes;
  if (auto dynamic = dyn_cast<Value>(tokenCount))
    dynamicSizes.push_back(dynamic);
  Value positions = tensor::GenerateOp::create(
      b, loc("positions"), tensor({tokens}, b.getI32Type()), dynamicSizes,
      [&](OpBuilder &nested, Location l, ValueRange indices) {
        Value position = arith::AddIOp::create(nested, l, indices[0], start);
        Value cast = arith::IndexCastOp::create(nested, l,
                                                nested.getI32Type(), position);
        tensor::YieldOp::create(nested, l, cast);
      });

  Value x = EmbeddingOp::create(b, loc("embed"), tensor({tokens, config.hiddenSize}, f32),
                                storedWeight("embed.weight"), tokenIds,
                                /*scales=*/Value());
  Value keyCache = body->getArgument(2), valueCache = body->getArgument(3);
  for (int64_t layer = 0; layer < config.numLayers; ++layer) {
    x = attentionBlock(x, layer, positions, start, keyCache, valueCache);
    x = ffnBlock(x, layer);
  }
  x = rmsNorm(x, "norm.weight");
  StringRef head = config.tieEmbeddings ? "embed.weight" : "lm_head.weight";
  Value logits = FloatLinearOp::create(b, loc("lm_head"), logitsType, x,
                                       storedWeight(head));
  func::ReturnOp::create(b, loc(name), ValueRange{logits});
}

} // namespace

PackedLayoutAttr pquant::checkpointLayout(MLIRContext *context, int64_t rows,
                                          int64_t cols) {
  return PackedLayoutAttr::get(context, rows, cols, /*word=*/8,
                               /*tileRows=*/1, /*tileWords=*/1,
                               BitOrder::LsbFirst);
}

OwningOpRef<ModuleOp> pquant::importModel(MLIRContext &context,
                                          const Checkpoint &checkpoint,
                                          const ImportOptions &options) {
  context.loadDialect<PQuantDialect, func::FuncDialect, arith::ArithDialect,
                      tensor::TensorDialect>();
  const ModelConfig &config = checkpoint.getConfig();
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(NameLoc::get(b.getStringAttr(checkpoint.getDirectory())));

  SmallVector<NamedAttribute> configAttrs = {
      b.getNamedAttr("vocab_size", b.getI64IntegerAttr(config.vocabSize)),
      b.getNamedAttr("hidden_size", b.getI64IntegerAttr(config.hiddenSize)),
      b.getNamedAttr("num_layers", b.getI64IntegerAttr(config.numLayers)),
      b.getNamedAttr("num_heads", b.getI64IntegerAttr(config.numHeads)),
      b.getNamedAttr("num_kv_heads", b.getI64IntegerAttr(config.numKVHeads)),
      b.getNamedAttr("ffn_bin_size", b.getI64IntegerAttr(config.ffnBinSize)),
      b.getNamedAttr("ffn_hp_size", b.getI64IntegerAttr(config.ffnHpSize)),
      b.getNamedAttr("num_experts", b.getI64IntegerAttr(config.numExperts)),
      b.getNamedAttr("top_k", b.getI64IntegerAttr(config.topK)),
      b.getNamedAttr("gate_weighting", b.getBoolAttr(config.gateWeighting)),
      b.getNamedAttr("subln", b.getBoolAttr(config.subln)),
      b.getNamedAttr("rope_theta", b.getF64FloatAttr(config.ropeTheta)),
      b.getNamedAttr("rms_norm_eps", b.getF64FloatAttr(config.rmsNormEps)),
      b.getNamedAttr("max_seq_len", b.getI64IntegerAttr(config.maxSeqLen)),
      b.getNamedAttr("tie_embeddings", b.getBoolAttr(config.tieEmbeddings)),
  };
  (*module)->setAttr("pquant.config", b.getDictionaryAttr(configAttrs));
  if (!options.inlineWeights)
    (*module)->setAttr("pquant.checkpoint",
                       b.getStringAttr(checkpoint.getDirectory()));

  b.setInsertionPointToEnd(module->getBody());
  DecoderBuilder decoder(b, checkpoint, options);
  decoder.buildEntry("prefill", ShapedType::kDynamic);
  decoder.buildEntry("decode", 1);
  return module;
}

double ModelSize::storedBitsPerWeight() const {
  return double(binaryWeights + 8 * int8Weights) /
         double(binaryWeights + int8Weights);
}

double ModelSize::activeBitsPerWeight() const {
  return double(binaryWeights + 8 * activeInt8Weights) /
         double(binaryWeights + activeInt8Weights);
}

ModelSize pquant::measureModel(const ModelConfig &config) {
  ModelSize size;
  for (const WeightSpec &spec : weightSpecs(config)) {
    int64_t count = 1;
    for (int64_t dim : spec.shape)
      count *= dim;
    size.parameters += count;
    if (spec.kind == WeightKind::Binary)
      size.binaryWeights += count;
    if (spec.kind == WeightKind::Int8) {
      size.int8Weights += count;
      size.activeInt8Weights += count / config.numExperts * config.topK;
    }
  }
  return size;
}
