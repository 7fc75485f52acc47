//===- ArtifactWriter.cpp - write the .pqw model artifact -------------------===//

#include "pquant/Artifact/ArtifactWriter.h"

#include "pquant/Artifact/DataChecksum.h"
#include "pquant/Artifact/pqw_generated.h"
#include "pquant/Dialect/PQuant/IR/PQuantAttributes.h"
#include "pquant/Import/Checkpoint.h"
#include "pquant/Import/ModelImporter.h"
#include "pquant/Target/CPUTarget.h"
#include "pquant/Target/GPUTarget.h"
#include "pquant/Tuning/TuningTable.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace pquant;

namespace {

constexpr uint32_t kFormatVersion = 2;
constexpr uint64_t kAlignment = 64;

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// FNV-1a 64, fed incrementally.
struct Fnv1a {
  uint64_t hash = 14695981039346656037ull;
  void add(llvm::ArrayRef<char> bytes) {
    for (char byte : bytes) {
      hash ^= uint8_t(byte);
      hash *= 1099511628211ull;
    }
  }
  void addText(llvm::StringRef text) {
    add(llvm::ArrayRef<char>(text.data(), text.size()));
    add(llvm::ArrayRef<char>("", 1)); // the terminator separates fields
  }
  void addNumber(uint64_t value) {
    char bytes[8];
    for (int i = 0; i < 8; ++i)
      bytes[i] = char(value >> (8 * i));
    add(llvm::ArrayRef<char>(bytes));
  }
};

std::string typeString(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

std::optional<artifact::DType> artifactDType(Type element) {
  if (element.isF32())
    return artifact::DType_F32;
  if (element.isF16())
    return artifact::DType_F16;
  if (element.isInteger(8))
    return artifact::DType_I8;
  if (element.isInteger(16))
    return artifact::DType_I16;
  if (element.isInteger(32))
    return artifact::DType_I32;
  if (element.isInteger(64))
    return artifact::DType_I64;
  return std::nullopt;
}

/// The bytes of checkpoint tensor `entry.name` as `entry.type` stores them.
llvm::Expected<std::vector<char>> tensorData(const Checkpoint &checkpoint,
                                             const WeightsTable::Entry &entry) {
  const TensorView &view = checkpoint.get(entry.name);
  llvm::ArrayRef<char> raw(reinterpret_cast<const char *>(view.bytes.data()),
                           view.bytes.size());
  if (!entry.quantization.empty()) {
    auto [values, scales] = quantizeRowsInt8(view);
    const std::vector<uint8_t> &data =
        entry.quantization == "int8_rows" ? values : scales;
    if (view.shape.size() != 2 || data.size() != size_t(entry.bytes()))
      return fail(llvm::formatv("tensor '{0}': a {1}-dimensional tensor of "
                                "{2} bytes has no {3} form of {4} bytes",
                                entry.name, view.shape.size(), raw.size(),
                                entry.quantization, entry.bytes()));
    return std::vector<char>(data.begin(), data.end());
  }
  if (PackedLayoutAttr layout = getPackedLayout(entry.type)) {
    PackedLayoutAttr stored = checkpointLayout(
        entry.type.getContext(), layout.getRows(), layout.getCols());
    FailureOr<std::vector<uint8_t>> bits = unpackBits(raw, stored);
    if (failed(bits))
      return fail("tensor '" + entry.name + "': its checkpoint data does not hold " +
                  llvm::Twine(layout.getRows()) + "x" + llvm::Twine(layout.getCols()) +
                  " packed bits");
    return packBits(*bits, layout);
  }
  if (raw.size() != size_t(entry.bytes()))
    return fail(llvm::formatv("tensor '{0}': the checkpoint holds {1} bytes, the "
                              "code reads {2} ({3})",
                              entry.name, raw.size(), entry.bytes(),
                              typeString(entry.type)));
  return std::vector<char>(raw.begin(), raw.end());
}

} // namespace

int64_t WeightsTable::Entry::bytes() const {
  return type.getNumElements() * type.getElementTypeBitWidth() / 8;
}

llvm::Expected<WeightsTable> WeightsTable::fromModule(ModuleOp module) {
  auto table = module->getAttrOfType<DictionaryAttr>("pquant.weights");
  if (!table)
    return fail("the module has no pquant.weights table: it reads no weights "
                "from an artifact (was it imported with --inline-weights?)");
  WeightsTable result;
  auto size = table.getAs<IntegerAttr>("size");
  auto tensors = table.getAs<ArrayAttr>("tensors");
  if (!size || !tensors)
    return fail("malformed pquant.weights table");
  result.size = size.getInt();
  for (Attribute item : tensors) {
    auto entry = dyn_cast<DictionaryAttr>(item);
    auto name = entry ? entry.getAs<StringAttr>("name") : StringAttr();
    auto offset = entry ? entry.getAs<IntegerAttr>("offset") : IntegerAttr();
    auto type = entry ? entry.getAs<TypeAttr>("type") : TypeAttr();
    auto quantization =
        entry ? entry.getAs<StringAttr>("quantization") : StringAttr();
    if (!name || !offset || !type || !isa<RankedTensorType>(type.getValue()) ||
        (quantization && quantization.getValue() != "int8_rows" &&
         quantization.getValue() != "int8_row_scales"))
      return fail("malformed pquant.weights entry");
    result.entries.push_back(
        {name.str(), offset.getInt(), cast<RankedTensorType>(type.getValue()),
         quantization ? quantization.str() : std::string()});
  }
  return result;
}

uint64_t WeightsTable::layoutId() const {
  Fnv1a hash;
  hash.addNumber(uint64_t(size));
  for (const Entry &entry : entries) {
    hash.addText(entry.name);
    hash.addNumber(uint64_t(entry.offset));
    hash.addText(typeString(entry.type));
    hash.addText(entry.quantization);
  }
  return hash.hash;
}

llvm::Error pquant::writeArtifact(llvm::StringRef path,
                                  const Checkpoint &checkpoint,
                                  const WeightsTable &table,
                                  const CPUTarget &target,
                                  const Producer &producer,
                                  std::function<void(size_t, size_t)> progress,
                                  const GPUCode *gpu,
                                  const TuningTable *tuning) {
  const ModelConfig &config = checkpoint.getConfig();
  // The header is built twice: with forced defaults every scalar is stored,
  // so its size is known before the data checksum is.
  auto buildHeader = [&](uint64_t dataOffset, uint64_t checksum) {
    flatbuffers::FlatBufferBuilder fb;
    fb.ForceDefaults(true);
    std::vector<flatbuffers::Offset<artifact::Tensor>> tensors;
    for (const WeightsTable::Entry &entry : table.entries) {
      flatbuffers::Offset<artifact::PackedLayout> packed;
      if (PackedLayoutAttr layout = getPackedLayout(entry.type))
        packed = artifact::CreatePackedLayout(
            fb, layout.getRows(), layout.getCols(), layout.getWord(),
            layout.getTileRows(), layout.getTileWords(),
            layout.getBitOrder() == BitOrder::MsbFirst);
      std::vector<int64_t> shape(entry.type.getShape().begin(),
                                 entry.type.getShape().end());
      tensors.push_back(artifact::CreateTensorDirect(
          fb, entry.name.c_str(), *artifactDType(entry.type.getElementType()),
          &shape, packed, entry.offset, entry.bytes(),
          entry.quantization.empty() ? nullptr : entry.quantization.c_str()));
    }
    auto modelConfig = artifact::CreateModelConfig(
        fb, config.vocabSize, config.hiddenSize, config.numLayers,
        config.numHeads, config.numKVHeads, config.ffnBinSize,
        config.ffnHpSize, config.numExperts, config.topK, config.gateWeighting,
        config.subln, config.ropeTheta, config.rmsNormEps, config.maxSeqLen,
        config.tieEmbeddings);
    flatbuffers::Offset<artifact::GpuCode> gpuCode;
    if (gpu) {
      std::vector<std::string> names(gpu->kernels.begin(), gpu->kernels.end());
      gpuCode = artifact::CreateGpuCode(fb, fb.CreateString(gpu->chip),
                                        fb.CreateString(gpu->ptx),
                                        fb.CreateVectorOfStrings(names), gpu->id());
    }
    flatbuffers::Offset<artifact::Tuning> tuningTable;
    if (tuning) {
      std::vector<flatbuffers::Offset<artifact::TuningEntry>> entries;
      for (const TuningEntry &entry : tuning->entries) {
        std::vector<flatbuffers::Offset<artifact::TuningCandidate>> candidates;
        for (const TuningCandidate &candidate : entry.candidates)
          candidates.push_back(artifact::CreateTuningCandidateDirect(
              fb, candidate.strategy.c_str(), candidate.chunkWords.value_or(0),
              candidate.medianSeconds * 1e9));
        entries.push_back(artifact::CreateTuningEntryDirect(
            fb, entry.rows, entry.cols, entry.regime.c_str(), entry.tokens,
            &candidates, uint32_t(entry.chosen)));
      }
      tuningTable = artifact::CreateTuningDirect(
          fb, tuning->cpu.c_str(), tuning->features.c_str(), tuning->threads,
          &entries);
    }
    auto model = artifact::CreateModelDirect(
        fb, kFormatVersion,
        artifact::CreateProducerDirect(fb, producer.version.c_str(),
                                       producer.gitCommit.c_str(),
                                       producer.commandLine.c_str()),
        artifact::CreateTargetDirect(fb, target.triple.c_str(),
                                     target.cpu.c_str(),
                                     target.features.c_str()),
        modelConfig, &tensors, dataOffset, uint64_t(table.size), checksum,
        table.layoutId(), gpuCode, tuningTable);
    fb.Finish(model, artifact::ModelIdentifier());
    return std::string(reinterpret_cast<const char *>(fb.GetBufferPointer()),
                       fb.GetSize());
  };

  for (const WeightsTable::Entry &entry : table.entries)
    if (!artifactDType(entry.type.getElementType()))
      return fail("tensor '" + entry.name + "' has an element type the "
                  "artifact cannot hold: " + typeString(entry.type));

  uint64_t dataOffset = llvm::alignTo(buildHeader(0, 0).size(), kAlignment);
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return fail(path + ": " + ec.message());
  os.seek(dataOffset);

  std::vector<const WeightsTable::Entry *> order;
  for (const WeightsTable::Entry &entry : table.entries)
    order.push_back(&entry);
  llvm::sort(order, [](auto *a, auto *b) { return a->offset < b->offset; });
  pq_data_checksum checksum;
  pq_data_checksum_init(&checksum);
  int64_t written = 0;
  auto pad = [&](int64_t upTo) {
    std::vector<char> zeros(upTo - written, 0);
    pq_data_checksum_add(&checksum, zeros.data(), zeros.size());
    os.write(zeros.data(), zeros.size());
    written = upTo;
  };
  for (auto [index, entry] : llvm::enumerate(order)) {
    llvm::Expected<std::vector<char>> data = tensorData(checkpoint, *entry);
    if (!data)
      return data.takeError();
    pad(entry->offset);
    pq_data_checksum_add(&checksum, data->data(), data->size());
    os.write(data->data(), data->size());
    written += data->size();
    progress(index + 1, order.size());
  }
  pad(table.size);

  std::string header =
      buildHeader(dataOffset, pq_data_checksum_finish(&checksum));
  if (header.size() > dataOffset)
    return fail("internal error: the artifact header grew");
  os.seek(0);
  os << header;
  os.close();
  if (os.has_error())
    return fail(path + ": " + os.error().message());
  return llvm::Error::success();
}
