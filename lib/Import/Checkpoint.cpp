//===- Checkpoint.cpp - read and check pQuant checkpoints -------------------===//

#include "pquant/Import/Checkpoint.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/bit.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstring>

using namespace llvm;
using namespace pquant;

namespace {

/// Upper bounds on config sizes: far above any real model, low enough that
/// every product of them used below fits in int64.
constexpr int64_t kMaxDim = int64_t(1) << 24;
constexpr int64_t kMaxLayersOrExperts = 4096;
/// The header of a real checkpoint is a few hundred kilobytes.
constexpr uint64_t kMaxHeaderBytes = uint64_t(100) << 20;

Error fail(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// JSON nests no deeper than this here: config.json is 1 deep and a
/// safetensors header 3. llvm::json::parse recurses once per level, so a
/// file of a million '[' would overflow the stack.
constexpr int kMaxJsonDepth = 32;

/// Parses `text` as JSON after checking what llvm::json::parse does not:
/// arrays and objects nest at most kMaxJsonDepth deep, and no object has a
/// key twice (json::parse keeps one silently). `nonIntegers`, if given,
/// receives the paths ("key", "key/key") of the objects whose numbers are
/// written with a fraction or an exponent (64.0, 1e3), which json::Value
/// does not tell from integers; JSON integers are digits only.
Expected<json::Value> parseJson(StringRef text,
                                StringSet<> *nonIntegers = nullptr) {
  struct Frame {
    bool object;
    StringSet<> keys;
    std::string key; // the current key, in an object
  };
  SmallVector<Frame, 8> frames;
  auto path = [&] {
    std::string result;
    for (const Frame &frame : frames)
      if (frame.object)
        result += (result.empty() ? "" : "/") + frame.key;
    return result;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      size_t start = i;
      while (++i < text.size() && text[i] != '"')
        i += text[i] == '\\';
      size_t next = text.find_first_not_of(" \t\r\n", i + 1);
      if (frames.empty() || !frames.back().object || next == StringRef::npos ||
          text[next] != ':')
        continue;
      // A key: compare it decoded, as json::parse stores it.
      Expected<json::Value> key = json::parse(text.slice(start, i + 1));
      if (!key) {
        consumeError(key.takeError());
        continue; // json::parse below says what is wrong
      }
      std::string name = key->getAsString().value_or("").str();
      if (!frames.back().keys.insert(name).second)
        return fail("duplicate key '" + name + "'");
      frames.back().key = name;
    } else if (c == '[' || c == '{') {
      if (frames.size() == kMaxJsonDepth)
        return fail("arrays and objects nested more than " +
                    Twine(kMaxJsonDepth) + " deep");
      frames.push_back({c == '{', {}, {}});
    } else if (c == ']' || c == '}') {
      if (!frames.empty())
        frames.pop_back();
    } else if (c == '-' || isDigit(c)) {
      size_t end = text.find_first_not_of("+-0123456789.eE", i);
      StringRef number = text.slice(i, end);
      if (nonIntegers && number.find_first_of(".eE") != StringRef::npos)
        nonIntegers->insert(path());
      i = std::min(end, text.size()) - 1;
    }
  }
  return json::parse(text);
}

std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (auto [i, dim] : enumerate(shape))
    text += (i ? ", " : "") + std::to_string(dim);
  return text + "]";
}

std::optional<DType> parseDType(StringRef name) {
  return StringSwitch<std::optional<DType>>(name)
      .Case("F32", DType::F32)
      .Case("F16", DType::F16)
      .Case("I8", DType::I8)
      .Case("U8", DType::U8)
      .Default(std::nullopt);
}

int64_t numElements(ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

float loadF32(ArrayRef<uint8_t> bytes, size_t index) {
  return llvm::bit_cast<float>(
      support::endian::read32le(bytes.data() + 4 * index));
}

/// Element `index` of an F32 or F16 tensor.
float loadFloat(const TensorView &tensor, size_t index) {
  if (tensor.dtype != DType::F16)
    return loadF32(tensor.bytes, index);
  APInt bits(16, support::endian::read16le(tensor.bytes.data() + 2 * index));
  return APFloat(APFloat::IEEEhalf(), bits).convertToFloat();
}

} // namespace

StringRef pquant::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "F32";
  case DType::F16:
    return "F16";
  case DType::I8:
    return "I8";
  case DType::U8:
    return "U8";
  }
  llvm_unreachable("unknown dtype");
}

unsigned pquant::dtypeSize(DType dtype) {
  return dtype == DType::F32 ? 4 : dtype == DType::F16 ? 2 : 1;
}

//===----------------------------------------------------------------------===//
// config.json
//===----------------------------------------------------------------------===//

Expected<ModelConfig> ModelConfig::parse(StringRef text, StringRef source) {
  StringSet<> nonIntegers;
  Expected<json::Value> parsed = parseJson(text, &nonIntegers);
  if (!parsed)
    return fail(source + ": not valid JSON: " + toString(parsed.takeError()));
  const json::Object *object = parsed->getAsObject();
  if (!object)
    return fail(source + ": config must be a JSON object");

  ModelConfig config;
  struct IntKey {
    StringRef name;
    int64_t ModelConfig::*field;
    int64_t limit;
  };
  const IntKey intKeys[] = {
      {"vocab_size", &ModelConfig::vocabSize, kMaxDim},
      {"hidden_size", &ModelConfig::hiddenSize, kMaxDim},
      {"num_layers", &ModelConfig::numLayers, kMaxLayersOrExperts},
      {"num_heads", &ModelConfig::numHeads, kMaxDim},
      {"num_kv_heads", &ModelConfig::numKVHeads, kMaxDim},
      {"ffn_bin_size", &ModelConfig::ffnBinSize, kMaxDim},
      {"ffn_hp_size", &ModelConfig::ffnHpSize, kMaxDim},
      {"num_experts", &ModelConfig::numExperts, kMaxLayersOrExperts},
      {"top_k", &ModelConfig::topK, kMaxLayersOrExperts},
      {"max_seq_len", &ModelConfig::maxSeqLen, kMaxDim},
  };
  const std::pair<StringRef, bool ModelConfig::*> boolKeys[] = {
      {"gate_weighting", &ModelConfig::gateWeighting},
      {"subln", &ModelConfig::subln},
      {"tie_embeddings", &ModelConfig::tieEmbeddings},
  };
  const std::pair<StringRef, double ModelConfig::*> numberKeys[] = {
      {"rope_theta", &ModelConfig::ropeTheta},
      {"rms_norm_eps", &ModelConfig::rmsNormEps},
  };

  StringSet<> known = {"format"};
  std::vector<std::string> missing;
  for (const IntKey &key : intKeys) {
    known.insert(key.name);
    const json::Value *value = object->get(key.name);
    if (!value) {
      missing.push_back(key.name.str());
      continue;
    }
    std::optional<int64_t> integer =
        value->kind() == json::Value::Number && !nonIntegers.contains(key.name)
            ? value->getAsInteger()
            : std::nullopt;
    if (!integer || *integer < 1 || *integer > key.limit)
      return fail(formatv("{0}: {1} must be an integer in [1, {2}]", source,
                          key.name, key.limit));
    config.*key.field = *integer;
  }
  for (auto [name, field] : boolKeys) {
    known.insert(name);
    const json::Value *value = object->get(name);
    if (!value) {
      missing.push_back(name.str());
      continue;
    }
    std::optional<bool> flag = value->getAsBoolean();
    if (!flag)
      return fail(source + ": " + name + " must be true or false");
    config.*field = *flag;
  }
  for (auto [name, field] : numberKeys) {
    known.insert(name);
    const json::Value *value = object->get(name);
    if (!value) {
      missing.push_back(name.str());
      continue;
    }
    std::optional<double> number = value->getAsNumber();
    if (!number || !(*number > 0) || !std::isfinite(*number))
      return fail(source + ": " + name + " must be a positive finite number");
    config.*field = *number;
  }
  if (!missing.empty())
    return fail(source + ": missing keys: " + join(missing, ", "));
  for (const auto &entry : *object)
    if (!known.contains(entry.first.str()))
      return fail(source + ": unknown key '" + entry.first.str() + "'");
  if (const json::Value *format = object->get("format")) {
    std::optional<StringRef> name = format->getAsString();
    if (!name || (*name != "packed" && *name != "latent"))
      return fail(source + ": format must be \"packed\" or \"latent\"");
    config.latent = *name == "latent";
  }

  if (config.hiddenSize % config.numHeads || config.headDim() % 2)
    return fail(formatv("{0}: hidden_size {1} must be num_heads {2} times an "
                        "even head size",
                        source, config.hiddenSize, config.numHeads));
  if (config.numHeads % config.numKVHeads)
    return fail(formatv("{0}: num_heads {1} must be a multiple of "
                        "num_kv_heads {2}",
                        source, config.numHeads, config.numKVHeads));
  if (config.topK > config.numExperts)
    return fail(formatv("{0}: top_k {1} exceeds num_experts {2}", source,
                        config.topK, config.numExperts));
  return config;
}

//===----------------------------------------------------------------------===//
// Model schema
//===----------------------------------------------------------------------===//

std::vector<WeightSpec> pquant::weightSpecs(const ModelConfig &config) {
  int64_t d = config.hiddenSize, f1 = config.ffnBinSize, r = config.ffnHpSize,
          e = config.numExperts;
  int64_t qDim = config.numHeads * config.headDim();
  int64_t kvDim = config.numKVHeads * config.headDim();
  std::vector<WeightSpec> specs;
  auto add = [&](std::string name, WeightKind kind,
                 SmallVector<int64_t, 3> shape) {
    specs.push_back({std::move(name), kind, std::move(shape)});
  };
  add("embed.weight", WeightKind::Embedding, {config.vocabSize, d});
  for (int64_t i = 0; i < config.numLayers; ++i) {
    std::string p = "layers." + std::to_string(i) + ".";
    add(p + "attn_norm.weight", WeightKind::Norm, {d});
    add(p + "attn.q.weight", WeightKind::Binary, {qDim, d});
    add(p + "attn.k.weight", WeightKind::Binary, {kvDim, d});
    add(p + "attn.v.weight", WeightKind::Binary, {kvDim, d});
    add(p + "attn.o.weight", WeightKind::Binary, {d, qDim});
    add(p + "ffn_norm.weight", WeightKind::Norm, {d});
    add(p + "ffn.gate1.weight", WeightKind::Binary, {f1, d});
    add(p + "ffn.up1.weight", WeightKind::Binary, {f1, d});
    add(p + "ffn.down1.weight", WeightKind::Binary, {d, f1});
    add(p + "ffn.gate8.weight", WeightKind::Int8, {e, r, d});
    add(p + "ffn.up8.weight", WeightKind::Int8, {e, r, d});
    add(p + "ffn.down8.weight", WeightKind::Int8, {e, d, r});
    if (e > 1)
      add(p + "ffn.router.weight", WeightKind::Router, {e, d});
    add(p + "ffn.alpha", WeightKind::Scalar, {1});
    add(p + "ffn.beta", WeightKind::Scalar, {1});
  }
  add("norm.weight", WeightKind::Norm, {d});
  if (!config.tieEmbeddings)
    add("lm_head.weight", WeightKind::Embedding, {config.vocabSize, d});
  return specs;
}

std::string pquant::scaleName(StringRef weightName) {
  weightName.consume_back(".weight");
  return (weightName + ".scale").str();
}

namespace {

/// One tensor a checkpoint must store, with the dtypes and shapes allowed.
struct StoredTensor {
  std::string name;
  const WeightSpec *spec;
  SmallVector<DType, 2> dtypes;
  SmallVector<SmallVector<int64_t, 3>, 2> shapes;
};

/// The tensors that store `spec` in a packed or latent checkpoint.
SmallVector<StoredTensor, 2> storedTensors(const WeightSpec &spec,
                                           bool latent) {
  switch (spec.kind) {
  case WeightKind::Embedding:
  case WeightKind::Norm:
    return {{spec.name, &spec, {DType::F32, DType::F16}, {spec.shape}}};
  case WeightKind::Router:
  case WeightKind::Scalar:
    return {{spec.name, &spec, {DType::F32}, {spec.shape}}};
  case WeightKind::Binary:
  case WeightKind::Int8:
    break;
  }
  if (latent)
    return {{spec.name, &spec, {DType::F32}, {spec.shape}}};
  if (spec.kind == WeightKind::Binary) {
    int64_t n = spec.shape[0], k = spec.shape[1];
    return {{spec.name, &spec, {DType::U8}, {{n, int64_t(divideCeil(k, 8))}}},
            {scaleName(spec.name), &spec, {DType::F32}, {{1}, {n}}}};
  }
  return {{spec.name, &spec, {DType::I8}, {spec.shape}},
          {scaleName(spec.name),
           &spec,
           {DType::F32},
           {{spec.shape[0], spec.shape[1]}}}};
}

/// Checks the values of a stored tensor: finite floats, int8 in
/// [-127, 127], clear padding bits in packed 1-bit rows.
Error checkValues(const TensorView &tensor, const StoredTensor &stored,
                  const Twine &where) {
  int64_t count = numElements(tensor.shape);
  switch (tensor.dtype) {
  case DType::F32:
    for (int64_t i = 0; i < count; ++i)
      if (!std::isfinite(loadF32(tensor.bytes, i)))
        return fail(where + ": non-finite value at element " + Twine(i));
    return Error::success();
  case DType::F16:
    for (int64_t i = 0; i < count; ++i) // exponent all ones: inf or nan
      if ((support::endian::read16le(tensor.bytes.data() + 2 * i) & 0x7c00) ==
          0x7c00)
        return fail(where + ": non-finite value at element " + Twine(i));
    return Error::success();
  case DType::I8:
    for (int64_t i = 0; i < count; ++i)
      if (tensor.bytes[i] == 0x80)
        return fail(where + ": value -128 at element " + Twine(i) +
                    " is outside [-127, 127]");
    return Error::success();
  case DType::U8: {
    int64_t k = stored.spec->shape[1], rowBytes = tensor.shape[1];
    if (k % 8 == 0)
      return Error::success();
    uint8_t padding = uint8_t(0xff << (k % 8));
    for (int64_t row = 0; row < tensor.shape[0]; ++row)
      if (tensor.bytes[row * rowBytes + rowBytes - 1] & padding)
        return fail(where + ": padding bits past K = " + Twine(k) +
                    " are not 0 in row " + Twine(row));
    return Error::success();
  }
  }
  llvm_unreachable("unknown dtype");
}

} // namespace

//===----------------------------------------------------------------------===//
// safetensors
//===----------------------------------------------------------------------===//

Expected<std::unique_ptr<SafeTensorsFile>>
SafeTensorsFile::open(StringRef path) {
  auto file = std::unique_ptr<SafeTensorsFile>(new SafeTensorsFile());
  file->filePath = path.str();
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(
      path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fail(path + ": cannot read: " + buffer.getError().message());
  file->buffer = std::move(*buffer);
  ArrayRef<uint8_t> bytes(
      reinterpret_cast<const uint8_t *>(file->buffer->getBufferStart()),
      file->buffer->getBufferSize());

  if (bytes.size() < 8)
    return fail(formatv("{0}: file too short for a safetensors header ({1} "
                        "bytes)",
                        path, bytes.size()));
  uint64_t headerSize = support::endian::read64le(bytes.data());
  if (headerSize > bytes.size() - 8 || headerSize > kMaxHeaderBytes)
    return fail(formatv("{0}: header length {1} exceeds the file ({2} bytes)",
                        path, headerSize, bytes.size()));
  ArrayRef<uint8_t> data = bytes.drop_front(8 + headerSize);
  StringRef headerText(reinterpret_cast<const char *>(bytes.data() + 8),
                       headerSize);

  StringSet<> nonIntegers;
  Expected<json::Value> header = parseJson(headerText, &nonIntegers);
  if (!header)
    return fail(path + ": bad safetensors header: " +
                toString(header.takeError()));
  const json::Object *entries = header->getAsObject();
  if (!entries)
    return fail(path + ": bad safetensors header: not a JSON object");

  struct Extent {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Extent> extents;
  for (const auto &[key, value] : *entries) {
    std::string name = key.str();
    std::string where = path.str() + ": tensor '" + name + "'";
    if (name == "__metadata__") {
      const json::Object *metadata = value.getAsObject();
      if (!metadata || any_of(*metadata, [](const auto &item) {
            return !item.second.getAsString();
          }))
        return fail(path + ": __metadata__ must map strings to strings");
      continue;
    }
    const json::Object *entry = value.getAsObject();
    if (!entry || entry->size() != 3 || !entry->get("dtype") ||
        !entry->get("shape") || !entry->get("data_offsets"))
      return fail(where +
                  ": entry must have exactly dtype, shape and data_offsets");
    std::optional<StringRef> dtypeText = entry->getString("dtype");
    std::optional<DType> dtype =
        dtypeText ? parseDType(*dtypeText) : std::nullopt;
    if (!dtype)
      return fail(where + ": unsupported dtype (supported: F32, F16, I8, U8)");

    TensorView view{*dtype, {}, {}};
    const json::Array *shape = entry->getArray("shape");
    uint64_t bytesNeeded = dtypeSize(*dtype);
    bool shapeOk = shape != nullptr && !nonIntegers.contains(name + "/shape");
    for (const json::Value &dim : shape ? *shape : json::Array()) {
      std::optional<int64_t> size = dim.kind() == json::Value::Number
                                        ? dim.getAsInteger()
                                        : std::nullopt;
      if (!size || *size < 0) {
        shapeOk = false;
        break;
      }
      view.shape.push_back(*size);
      // Saturate: a product beyond the file size is rejected just below.
      bytesNeeded = SaturatingMultiply(bytesNeeded, uint64_t(*size));
    }
    if (!shapeOk)
      return fail(where + ": shape is not a list of non-negative integers");

    const json::Array *offsets = entry->getArray("data_offsets");
    std::optional<int64_t> begin, end;
    if (offsets && offsets->size() == 2 &&
        !nonIntegers.contains(name + "/data_offsets") &&
        (*offsets)[0].kind() == json::Value::Number &&
        (*offsets)[1].kind() == json::Value::Number) {
      begin = (*offsets)[0].getAsInteger();
      end = (*offsets)[1].getAsInteger();
    }
    if (!begin || !end)
      return fail(where + ": data_offsets is not a pair of integers");
    if (*begin < 0 || *begin > *end || uint64_t(*end) > data.size())
      return fail(formatv("{0}: data_offsets [{1}, {2}] out of range (data "
                          "buffer is {3} bytes)",
                          where, *begin, *end, data.size()));
    if (uint64_t(*end - *begin) != bytesNeeded)
      return fail(formatv("{0}: data_offsets [{1}, {2}] do not hold {3} {4}",
                          where, *begin, *end, dtypeName(*dtype),
                          formatShape(view.shape)));
    view.bytes = data.slice(*begin, *end - *begin);
    extents.push_back({uint64_t(*begin), uint64_t(*end), name});
    file->tensors.try_emplace(name, std::move(view));
  }

  // The tensors must tile the data buffer: no overlap, no gap, no tail.
  llvm::sort(extents, [](const Extent &a, const Extent &b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t expected = 0;
  for (const Extent &extent : extents) {
    if (extent.begin != expected)
      return fail(formatv("{0}: tensor '{1}': data_offsets [{2}, {3}] {4}",
                          path, extent.name, extent.begin, extent.end,
                          extent.begin < expected
                              ? std::string("overlaps the previous tensor")
                              : formatv("leaves a gap at byte {0}", expected)
                                    .str()));
    expected = extent.end;
  }
  if (expected != data.size())
    return fail(formatv("{0}: {1} bytes at the end of the data buffer belong "
                        "to no tensor",
                        path, data.size() - expected));
  for (const auto &[key, value] : *entries)
    if (key != "__metadata__")
      file->order.push_back(key.str());
  return file;
}

const TensorView *SafeTensorsFile::lookup(StringRef name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

namespace {

/// B = sign(W − mean(W)) (sign(0) = −1) packed LSB first, λ = mean|W|, with
/// the means accumulated in double and rounded to float once, as the
/// reference does.
std::pair<std::vector<uint8_t>, std::vector<uint8_t>>
binarizeLatent(const TensorView &latent) {
  int64_t n = latent.shape[0], k = latent.shape[1], count = n * k;
  double sum = 0, absSum = 0;
  for (int64_t i = 0; i < count; ++i) {
    float w = loadF32(latent.bytes, i);
    sum += w;
    absSum += std::fabs(w);
  }
  float mean = float(sum / double(count));
  float lambda = float(absSum / double(count));
  int64_t rowBytes = divideCeil(k, 8);
  std::vector<uint8_t> bits(n * rowBytes, 0);
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col)
      if (loadF32(latent.bytes, row * k + col) - mean > 0.0f)
        bits[row * rowBytes + col / 8] |= uint8_t(1u << (col % 8));
  std::vector<uint8_t> scale(4);
  support::endian::write32le(scale.data(), llvm::bit_cast<uint32_t>(lambda));
  return {std::move(bits), std::move(scale)};
}

} // namespace

std::pair<std::vector<uint8_t>, std::vector<uint8_t>>
pquant::quantizeRowsInt8(const TensorView &latent) {
  int64_t k = latent.shape.back(), rows = numElements(latent.shape) / k;
  std::vector<uint8_t> values(rows * k), scales(rows * 4);
  for (int64_t row = 0; row < rows; ++row) {
    float maxAbs = 0.0f;
    for (int64_t col = 0; col < k; ++col)
      maxAbs = std::max(maxAbs, std::fabs(loadFloat(latent, row * k + col)));
    float scale = maxAbs == 0.0f ? 1.0f : maxAbs / 127.0f;
    for (int64_t col = 0; col < k; ++col) {
      float x = loadFloat(latent, row * k + col) / scale;
      float rounded = std::copysign(std::floor(std::fabs(x) + 0.5f), x);
      values[row * k + col] =
          uint8_t(int8_t(std::clamp(rounded, -127.0f, 127.0f)));
    }
    support::endian::write32le(scales.data() + 4 * row,
                               llvm::bit_cast<uint32_t>(scale));
  }
  return {std::move(values), std::move(scales)};
}

Expected<std::unique_ptr<Checkpoint>> Checkpoint::load(StringRef directory,
                                                      bool allowLatent) {
  auto checkpoint = std::unique_ptr<Checkpoint>(new Checkpoint());
  // Absolute, so IR that names the checkpoint works from any directory.
  SmallString<256> absolute(directory);
  if (std::error_code error = sys::fs::make_absolute(absolute))
    return fail(directory + ": " + error.message());
  sys::path::remove_dots(absolute, /*remove_dot_dot=*/true);
  checkpoint->directory = absolute.str().str();
  directory = checkpoint->directory;

  SmallString<256> configPath(directory);
  sys::path::append(configPath, "config.json");
  ErrorOr<std::unique_ptr<MemoryBuffer>> configText =
      MemoryBuffer::getFile(configPath, /*IsText=*/true);
  if (!configText)
    return fail(configPath + ": cannot read: " +
                configText.getError().message());
  Expected<ModelConfig> config =
      ModelConfig::parse((*configText)->getBuffer(), configPath);
  if (!config)
    return config.takeError();
  checkpoint->config = *config;
  if (config->latent && !allowLatent)
    return fail(configPath + ": the checkpoint is latent (f32 training "
                             "weights); pass --latent to quantize it on import");

  SmallString<256> weightsPath(directory);
  sys::path::append(weightsPath, "model.safetensors");
  Expected<std::unique_ptr<SafeTensorsFile>> file =
      SafeTensorsFile::open(weightsPath);
  if (!file)
    return file.takeError();
  checkpoint->file = std::move(*file);
  const SafeTensorsFile &weights = *checkpoint->file;

  std::vector<WeightSpec> specs = weightSpecs(*config);
  std::vector<StoredTensor> expected;
  for (const WeightSpec &spec : specs)
    append_range(expected, storedTensors(spec, config->latent));

  StringSet<> expectedNames;
  std::vector<std::string> missing, unexpected;
  for (const StoredTensor &stored : expected) {
    expectedNames.insert(stored.name);
    if (!weights.lookup(stored.name))
      missing.push_back(stored.name);
  }
  for (const std::string &name : weights.names())
    if (!expectedNames.contains(name))
      unexpected.push_back(name);
  StringRef format = config->latent ? "latent" : "packed";
  if (!missing.empty())
    return fail(formatv("{0}: missing tensor '{1}'{2} (format {3})",
                        weightsPath, missing.front(),
                        missing.size() > 1
                            ? formatv(" and {0} more", missing.size() - 1).str()
                            : "",
                        format));
  if (!unexpected.empty())
    return fail(formatv("{0}: unexpected tensor '{1}'{2} (format {3})",
                        weightsPath, unexpected.front(),
                        unexpected.size() > 1
                            ? formatv(" and {0} more", unexpected.size() - 1)
                                  .str()
                            : "",
                        format));

  for (const StoredTensor &stored : expected) {
    const TensorView &tensor = *weights.lookup(stored.name);
    std::string where = (weightsPath + ": tensor '" + stored.name + "'").str();
    if (!is_contained(stored.dtypes, tensor.dtype)) {
      SmallVector<std::string, 2> names;
      for (DType dtype : stored.dtypes)
        names.push_back(dtypeName(dtype).str());
      return fail(where + ": dtype " + dtypeName(tensor.dtype) +
                  ", expected " + join(names, " or "));
    }
    if (!any_of(stored.shapes, [&](ArrayRef<int64_t> shape) {
          return shape == ArrayRef<int64_t>(tensor.shape);
        })) {
      SmallVector<std::string, 2> shapes;
      for (ArrayRef<int64_t> shape : stored.shapes)
        shapes.push_back(formatShape(shape));
      return fail(where + ": shape " + formatShape(tensor.shape) +
                  ", expected " + join(shapes, " or "));
    }
    if (Error error = checkValues(tensor, stored, where))
      return std::move(error);
  }

  if (config->latent) {
    for (const WeightSpec &spec : specs) {
      if (spec.kind != WeightKind::Binary && spec.kind != WeightKind::Int8)
        continue;
      const TensorView &latent = *weights.lookup(spec.name);
      auto [values, scales] = spec.kind == WeightKind::Binary
                                  ? binarizeLatent(latent)
                                  : quantizeRowsInt8(latent);
      SmallVector<int64_t, 4> valueShape, scaleShape;
      if (spec.kind == WeightKind::Binary) {
        valueShape = {spec.shape[0], int64_t(divideCeil(spec.shape[1], 8))};
        scaleShape = {1};
      } else {
        valueShape.assign(spec.shape.begin(), spec.shape.end());
        scaleShape = {spec.shape[0], spec.shape[1]};
      }
      DType valueType = spec.kind == WeightKind::Binary ? DType::U8 : DType::I8;
      checkpoint->ownedBuffers.push_back(std::move(values));
      checkpoint->quantized[spec.name] = {valueType, valueShape,
                                          checkpoint->ownedBuffers.back()};
      checkpoint->ownedBuffers.push_back(std::move(scales));
      checkpoint->quantized[scaleName(spec.name)] = {
          DType::F32, scaleShape, checkpoint->ownedBuffers.back()};
    }
  }
  return checkpoint;
}

const TensorView &Checkpoint::get(StringRef name) const {
  auto it = quantized.find(name);
  if (it != quantized.end())
    return it->second;
  const TensorView *tensor = file->lookup(name);
  assert(tensor && "tensor validated by Checkpoint::load");
  return *tensor;
}
