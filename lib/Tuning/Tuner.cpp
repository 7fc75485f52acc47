//===- Tuner.cpp - choose BitLinear kernels by timing them ------------------===//
//
// Per distinct BitLinear shape N x K, one benchmark module holds a function
// per (regime, candidate): a BitLinear with that candidate's #pquant.kernel
// on a `pquant.weight`, so the compiled code reads its weights from a buffer
// we pass, as the model's code does. The library is loaded with dlopen and
// the candidates are timed in interleaved rounds (so a noisy neighbour slows
// all of them alike) on random activations, each call reading the weights
// at the next place of a buffer as large as the model's 1-bit weights: they
// come from memory, or stay in cache, as they do in the model.
//
//===----------------------------------------------------------------------===//

#include "pquant/Tuning/Tuner.h"

#include "pquant/Artifact/ArtifactWriter.h"
#include "pquant/Dialect/PQuant/IR/PQuantOps.h"
#include "pquant/Dialect/PQuant/Transforms/Passes.h"
#include "pquant/Target/CPUTarget.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemAlloc.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <dlfcn.h>
#include <map>
#include <unistd.h>

using namespace mlir;
using namespace pquant;

namespace {

/// Column chunks of unpack-dot to try, in 64-bit words per tile row.
constexpr int64_t kChunkWords[] = {8, 16, 32, 64};
/// Time spent timing one shape in one regime, all candidates together.
constexpr double kBudgetSeconds = 0.3;
/// Rounds (one timed call of every candidate each) per shape and regime.
constexpr int kMinRounds = 7, kMaxRounds = 201;
/// The weights buffer never exceeds this, however large the model.
constexpr uint64_t kMaxWeightBytes = uint64_t(1) << 30;
constexpr uint64_t kAlignment = 64;

struct Regime {
  const char *name;
  bool decode;
};
constexpr Regime kRegimes[] = {{"decode", true}, {"prefill", false}};

/// MLIR's memref descriptors of rank 1 and 2, as the C entry points take.
struct MemRef1 {
  void *allocated, *aligned;
  int64_t offset, size, stride;
};
struct MemRef2 {
  void *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};
/// _mlir_ciface_ of `(q, s) -> y` after pquant-externalize-weights
/// prepended the weights buffer.
using BitLinearEntry = void (*)(MemRef2 *y, MemRef1 *weights, MemRef2 *q,
                                MemRef1 *s);

std::string candidateName(const TuningCandidate &candidate) {
  if (!candidate.chunkWords)
    return candidate.strategy;
  return candidate.strategy + "/" + std::to_string(*candidate.chunkWords);
}

/// Bit-serial, lookup, and unpack-dot for each chunk size up to the first
/// that holds a whole row (larger ones build the same kernel). Lookup is a
/// decode candidate where the target has the lookup GEMV, or where it is
/// the only one asked for: elsewhere, for one token it runs unpack-dot with
/// its default chunk.
std::vector<TuningCandidate> candidatesFor(const Regime &regime, int64_t cols,
                                           ArrayRef<std::string> strategies,
                                           bool lookupGemv) {
  auto allowed = [&](StringRef strategy) {
    return strategies.empty() || llvm::is_contained(strategies, strategy);
  };
  bool onlyLookup = strategies.size() == 1 && strategies[0] == "lookup";
  std::vector<TuningCandidate> candidates;
  if (allowed("bitserial"))
    candidates.push_back({"bitserial", std::nullopt, 0});
  if (allowed("lookup") && (!regime.decode || lookupGemv || onlyLookup))
    candidates.push_back({"lookup", std::nullopt, 0});
  if (allowed("unpack_dot")) {
    int64_t words = llvm::divideCeil(cols, 64);
    for (int64_t chunk : kChunkWords) {
      candidates.push_back({"unpack_dot", chunk, 0});
      if (chunk >= words)
        break;
    }
  }
  return candidates;
}

KernelChoiceAttr kernelAttr(MLIRContext *context,
                            const TuningCandidate &candidate) {
  return KernelChoiceAttr::get(context,
                               *symbolizeKernelStrategy(candidate.strategy),
                               candidate.chunkWords);
}

std::string functionName(const Regime &regime, size_t candidate) {
  return std::string(regime.name) + "_" + std::to_string(candidate);
}

/// A module with one function per (regime, candidate of that regime's entry):
/// the BitLinear of `weightType` (a model weight's type, rows × cols) with
/// that kernel.
OwningOpRef<ModuleOp> benchmarkModule(MLIRContext *context,
                                      RankedTensorType weightType, int64_t rows,
                                      int64_t cols,
                                      ArrayRef<TuningEntry> entries) {
  Location loc = NameLoc::get(StringAttr::get(
      context, llvm::formatv("tuning benchmark {0}x{1}", rows, cols).str()));
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder b(module->getBodyRegion());
  Type i8 = b.getI8Type(), f32 = b.getF32Type();
  auto scaleType = RankedTensorType::get({1}, f32);
  for (auto [regime, entry] : llvm::zip(kRegimes, entries)) {
    int64_t tokens = regime.decode ? 1 : ShapedType::kDynamic;
    auto qType = RankedTensorType::get({tokens, cols}, i8);
    auto sType = RankedTensorType::get({tokens}, f32);
    auto yType = RankedTensorType::get({tokens, rows}, f32);
    for (auto [index, candidate] : llvm::enumerate(entry.candidates)) {
      b.setInsertionPointToEnd(module->getBody());
      auto function =
          func::FuncOp::create(b, loc, functionName(regime, index),
                               b.getFunctionType({qType, sType}, {yType}));
      Block *entry = function.addEntryBlock();
      b.setInsertionPointToStart(entry);
      Value weight = WeightOp::create(b, loc, weightType, "w");
      Value scale = arith::ConstantOp::create(
          b, loc, scaleType, DenseElementsAttr::get(scaleType, 1.0f));
      Value y = BitLinearOp::create(b, loc, yType, entry->getArgument(0),
                                    entry->getArgument(1), weight, scale,
                                    kernelAttr(context, candidate));
      func::ReturnOp::create(b, loc, y);
    }
  }
  return module;
}

/// splitmix64: fast, and plenty random for weights and activations.
uint64_t nextRandom(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// A 64-byte aligned buffer of random bytes.
class RandomBuffer {
public:
  RandomBuffer(uint64_t bytes, uint64_t seed) : bytes(bytes) {
    data = static_cast<uint64_t *>(llvm::allocate_buffer(bytes, kAlignment));
    for (uint64_t i = 0; i < bytes / 8; ++i)
      data[i] = nextRandom(seed);
  }
  ~RandomBuffer() { llvm::deallocate_buffer(data, bytes, kAlignment); }
  RandomBuffer(const RandomBuffer &) = delete;
  RandomBuffer &operator=(const RandomBuffer &) = delete;
  uint64_t size() const { return bytes; }
  char *bytesAt(uint64_t offset) const {
    return reinterpret_cast<char *>(data) + offset;
  }

private:
  uint64_t *data;
  uint64_t bytes;
};

/// A benchmark library loaded with dlopen. Its copy of the runtime's thread
/// pool is stopped before the library goes away.
class BenchmarkLibrary {
public:
  explicit BenchmarkLibrary(StringRef path)
      : handle(dlopen(path.str().c_str(), RTLD_NOW | RTLD_LOCAL)) {}
  ~BenchmarkLibrary() {
    if (!handle)
      return;
    if (auto setThreads =
            reinterpret_cast<int (*)(int)>(dlsym(handle, "pq_set_threads")))
      setThreads(1);
    dlclose(handle);
  }
  BenchmarkLibrary(const BenchmarkLibrary &) = delete;
  BenchmarkLibrary &operator=(const BenchmarkLibrary &) = delete;
  bool loaded() const { return handle; }
  void *symbol(StringRef name) const {
    return dlsym(handle, name.str().c_str());
  }

private:
  void *handle;
};

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

/// Times `entries` (one per candidate) on `tokens` rows of `q`, each call
/// reading its weights (`weightBytes` of them) at the next 64-byte aligned
/// place of `weights` (`copies` places). Returns the median seconds of each.
std::vector<double> timeCandidates(ArrayRef<BitLinearEntry> entries,
                                   int64_t tokens, int64_t cols,
                                   std::vector<int8_t> &q,
                                   std::vector<float> &s,
                                   const RandomBuffer &weights,
                                   uint64_t weightBytes, uint64_t copies) {
  uint64_t stride = llvm::alignTo(weightBytes, kAlignment), call = 0;
  auto run = [&](BitLinearEntry entry) {
    MemRef1 weightsRef{nullptr, weights.bytesAt(call++ % copies * stride), 0,
                       int64_t(weightBytes), 1};
    MemRef2 qRef{q.data(), q.data(), 0, {tokens, cols}, {cols, 1}};
    MemRef1 sRef{s.data(), s.data(), 0, tokens, 1};
    MemRef2 y{};
    auto start = std::chrono::steady_clock::now();
    entry(&y, &weightsRef, &qRef, &sRef);
    std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start;
    free(y.allocated); // the code mallocs each result; the caller frees it
    return elapsed.count();
  };
  // Warm up (first touch of code and stack), then one call each estimates
  // how many rounds fit in the budget.
  double round = 0;
  for (BitLinearEntry entry : entries) {
    run(entry);
    round += run(entry);
  }
  int rounds = std::clamp(int(kBudgetSeconds / std::max(round, 1e-9)),
                          kMinRounds, kMaxRounds);
  std::vector<std::vector<double>> samples(entries.size());
  for (int r = 0; r < rounds; ++r)
    for (auto [index, entry] : llvm::enumerate(entries))
      samples[index].push_back(run(entry));
  std::vector<double> medians;
  for (const std::vector<double> &times : samples)
    medians.push_back(median(times));
  return medians;
}

/// The tuning cache: a JSON file {"pquant_tuning_cache": 1, "entries":
/// [...]}, each entry a TuningEntry with the machine and thread count.
class TuningCache {
public:
  TuningCache(const TuningTable &machine) : machine(machine) {}

  LogicalResult load(StringRef path, ModuleOp model) {
    if (!llvm::sys::fs::exists(path))
      return success();
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
        llvm::MemoryBuffer::getFile(path);
    if (!file)
      return model.emitError("cannot read the tuning cache ")
             << path << ": " << file.getError().message();
    llvm::Expected<llvm::json::Value> json =
        llvm::json::parse((*file)->getBuffer());
    if (!json)
      return model.emitError("the tuning cache ")
             << path << " is not JSON: " << llvm::toString(json.takeError());
    const llvm::json::Object *root = json->getAsObject();
    const llvm::json::Array *items =
        root && root->getInteger("pquant_tuning_cache") == 1
            ? root->getArray("entries")
            : nullptr;
    if (!items)
      return model.emitError("the tuning cache ")
             << path << " is not a pquant tuning cache (version 1)";
    for (const llvm::json::Value &item : *items) {
      std::optional<Stored> stored = parse(item);
      if (!stored)
        return model.emitError("the tuning cache ")
               << path << " holds a malformed entry; delete the file to "
                          "measure again";
      entries.push_back(std::move(*stored));
    }
    return success();
  }

  /// The cached measurement of this machine matching `wanted` (shape,
  /// regime, tokens and candidate list), if any.
  std::optional<TuningEntry> find(const TuningEntry &wanted) const {
    for (const Stored &stored : entries)
      if (stored.cpu == machine.cpu && stored.features == machine.features &&
          stored.threads == machine.threads && sameKey(stored.entry, wanted))
        return stored.entry;
    return std::nullopt;
  }

  void update(const TuningEntry &entry) {
    llvm::erase_if(entries, [&](const Stored &stored) {
      return stored.cpu == machine.cpu && stored.features == machine.features &&
             stored.threads == machine.threads && sameKey(stored.entry, entry);
    });
    entries.push_back({machine.cpu, machine.features, machine.threads, entry});
  }

  LogicalResult save(StringRef path, ModuleOp model) const {
    llvm::json::Array items;
    for (const Stored &stored : entries) {
      llvm::json::Array candidates;
      for (const TuningCandidate &candidate : stored.entry.candidates)
        candidates.push_back(llvm::json::Object{
            {"strategy", candidate.strategy},
            {"chunk_words", candidate.chunkWords.value_or(0)},
            {"median_ns", candidate.medianSeconds * 1e9}});
      items.push_back(llvm::json::Object{
          {"cpu", stored.cpu},
          {"features", stored.features},
          {"threads", stored.threads},
          {"rows", stored.entry.rows},
          {"cols", stored.entry.cols},
          {"regime", stored.entry.regime},
          {"tokens", stored.entry.tokens},
          {"candidates", std::move(candidates)},
          {"chosen", int64_t(stored.entry.chosen)}});
    }
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return model.emitError("cannot write the tuning cache ")
             << path << ": " << ec.message();
    os << llvm::formatv("{0:2}\n", llvm::json::Value(llvm::json::Object{
                                       {"pquant_tuning_cache", 1},
                                       {"entries", std::move(items)}}));
    return success();
  }

private:
  struct Stored {
    std::string cpu, features;
    int64_t threads;
    TuningEntry entry;
  };

  static bool sameKey(const TuningEntry &a, const TuningEntry &b) {
    if (a.rows != b.rows || a.cols != b.cols || a.regime != b.regime ||
        a.tokens != b.tokens || a.candidates.size() != b.candidates.size())
      return false;
    for (auto [x, y] : llvm::zip(a.candidates, b.candidates))
      if (candidateName(x) != candidateName(y))
        return false;
    return true;
  }

  static std::optional<Stored> parse(const llvm::json::Value &item) {
    const llvm::json::Object *object = item.getAsObject();
    if (!object)
      return std::nullopt;
    auto cpu = object->getString("cpu");
    auto features = object->getString("features");
    auto threads = object->getInteger("threads");
    auto rows = object->getInteger("rows"), cols = object->getInteger("cols");
    auto regime = object->getString("regime");
    auto tokens = object->getInteger("tokens");
    auto chosen = object->getInteger("chosen");
    const llvm::json::Array *candidates = object->getArray("candidates");
    if (!cpu || !features || !threads || !rows || !cols || !regime ||
        !tokens || !chosen || !candidates || *chosen < 0 ||
        size_t(*chosen) >= candidates->size())
      return std::nullopt;
    Stored stored{cpu->str(), features->str(), *threads,
                  TuningEntry{*rows, *cols, regime->str(), *tokens, {},
                              size_t(*chosen)}};
    for (const llvm::json::Value &value : *candidates) {
      const llvm::json::Object *candidate = value.getAsObject();
      auto strategy = candidate ? candidate->getString("strategy") : std::nullopt;
      auto chunk = candidate ? candidate->getInteger("chunk_words") : std::nullopt;
      auto nanoseconds =
          candidate ? candidate->getNumber("median_ns") : std::nullopt;
      if (!strategy || !symbolizeKernelStrategy(*strategy) || !chunk ||
          !nanoseconds)
        return std::nullopt;
      stored.entry.candidates.push_back(
          {strategy->str(), *chunk ? std::optional<int64_t>(*chunk) : std::nullopt,
           *nanoseconds / 1e9});
    }
    return stored;
  }

  const TuningTable &machine;
  std::vector<Stored> entries;
};

/// The threads the kernels will run on: the runtime's default
/// (runtime/src/ThreadPool.cpp), $PQUANT_THREADS if it is a count in
/// [1, 256], else one per online CPU. The tuning cache is keyed by it before
/// any benchmark library (whose pool says for sure) is loaded.
int runtimeThreads() {
  if (const char *text = getenv("PQUANT_THREADS")) {
    int count;
    if (llvm::to_integer(text, count, 10) && count >= 1 && count <= 256)
      return count;
  }
  return std::clamp(int(sysconf(_SC_NPROCESSORS_ONLN)), 1, 256);
}

std::string formatTime(double seconds) {
  return seconds < 1e-3 ? llvm::formatv("{0:f1} us", seconds * 1e6).str()
                        : llvm::formatv("{0:f2} ms", seconds * 1e3).str();
}

} // namespace

FailureOr<TuningTable>
pquant::tuneBitLinears(ModuleOp model, const CPUTarget &target,
                       const TuneOptions &options, CompileToShared compile,
                       llvm::function_ref<void(const llvm::Twine &)> progress) {
  if (!target.isHost)
    return model.emitError("tuning measures kernels on this machine: it needs "
                           "-target=host");
  MLIRContext *context = model.getContext();
  // The BitLinears of decoupled FFNs appear when they are decomposed; the
  // pipeline's own decomposition then finds nothing left to do.
  PassManager decompose(context);
  decompose.addPass(createDecomposeDecoupled());
  decompose.addPass(createCSEPass());
  if (failed(decompose.run(model)))
    return failure();

  // Shapes in first-seen order, with a model weight type of each, and the
  // bytes of 1-bit weights the model reads per token.
  llvm::MapVector<std::pair<int64_t, int64_t>, RankedTensorType> shapes;
  llvm::DenseSet<Value> weights;
  uint64_t modelWeightBytes = 0;
  model.walk([&](BitLinearOp op) {
    PackedLayoutAttr layout = getPackedLayout(op.getWeight().getType());
    int64_t rows = op.getResult().getType().getDimSize(1);
    int64_t cols = op.getInput().getType().getDimSize(1);
    if (layout)
      shapes.try_emplace({rows, cols},
                         cast<RankedTensorType>(op.getWeight().getType()));
    if (weights.insert(op.getWeight()).second)
      modelWeightBytes += uint64_t(rows) * llvm::divideCeil(cols, 64) * 8;
  });
  TuningTable table{target.cpu, target.features, runtimeThreads(), {}};
  if (shapes.empty()) {
    progress("tune: the model has no packed BitLinear to tune");
    return table;
  }

  std::vector<int8_t> q;
  std::vector<float> s(options.prefillTokens, 1.0f);
  TuningCache cache(table);
  if (!options.cachePath.empty() &&
      failed(cache.load(options.cachePath, model)))
    return failure();
  std::map<std::pair<int64_t, int64_t>, std::vector<TuningEntry>> results;
  std::unique_ptr<RandomBuffer> weightBuffer;
  SmallString<128> directory;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("pquant-tune", directory))
    return model.emitError("cannot create a directory for the benchmarks: ")
           << ec.message();
  llvm::scope_exit removeDirectory(
      [&] { llvm::sys::fs::remove_directories(directory); });
  auto started = std::chrono::steady_clock::now();

  for (auto [index, shape] : llvm::enumerate(shapes)) {
    auto [rows, cols] = shape.first;
    std::string what = llvm::formatv("tune: {0}x{1} ({2} of {3})", rows, cols,
                                     index + 1, shapes.size())
                           .str();
    // Every regime's candidates are among the prefill regime's.
    std::vector<TuningEntry> entries;
    size_t candidateCount = 0;
    for (const Regime &regime : kRegimes) {
      std::vector<TuningCandidate> candidates =
          candidatesFor(regime, cols, options.strategies, target.hasLookupGemv());
      if (candidates.empty())
        return model.emitError("no kernel strategy to tune");
      candidateCount = std::max(candidateCount, candidates.size());
      entries.push_back({rows, cols, regime.name,
                         regime.decode ? 1 : options.prefillTokens, candidates,
                         0});
    }
    if (llvm::all_of(entries, [&](const TuningEntry &entry) {
          return cache.find(entry).has_value();
        })) {
      for (TuningEntry &entry : entries)
        entry = *cache.find(entry);
      progress(what + ": from the tuning cache");
      results[shape.first] = std::move(entries);
      continue;
    }

    progress(what + ": compiling " + llvm::Twine(candidateCount) +
             " candidates");
    OwningOpRef<ModuleOp> benchmark =
        benchmarkModule(context, shape.second, rows, cols, entries);
    std::string library =
        (directory + "/" + llvm::Twine(rows) + "x" + llvm::Twine(cols) + ".so")
            .str();
    if (failed(compile(*benchmark, library)))
      return model.emitError("cannot compile the tuning benchmark of ")
             << rows << "x" << cols;
    llvm::Expected<WeightsTable> layout = WeightsTable::fromModule(*benchmark);
    if (!layout)
      return model.emitError("tuning benchmark: ")
             << llvm::toString(layout.takeError());
    uint64_t weightBytes = layout->size;
    BenchmarkLibrary loaded(library);
    if (!loaded.loaded())
      return model.emitError("cannot load the tuning benchmark: ") << dlerror();
    if (auto threads = reinterpret_cast<int (*)()>(loaded.symbol("pq_threads")))
      table.threads = threads();

    // One buffer for every shape, as large as the model's 1-bit weights
    // (within limits) and at least two copies of this shape's.
    uint64_t stride = llvm::alignTo(weightBytes, kAlignment);
    uint64_t bufferBytes = std::max(
        2 * stride, std::min(llvm::alignTo(modelWeightBytes, kAlignment),
                             kMaxWeightBytes));
    if (!weightBuffer || weightBuffer->size() < bufferBytes)
      weightBuffer = std::make_unique<RandomBuffer>(bufferBytes, 1);
    if (q.size() < size_t(options.prefillTokens * cols)) {
      q.resize(options.prefillTokens * cols);
      uint64_t seed = 2;
      for (int8_t &value : q)
        value = int8_t(int(nextRandom(seed) % 255) - 127);
    }

    for (auto [regime, entry] : llvm::zip(kRegimes, entries)) {
      std::vector<BitLinearEntry> functions;
      for (size_t i = 0; i < entry.candidates.size(); ++i) {
        auto function = reinterpret_cast<BitLinearEntry>(
            loaded.symbol("_mlir_ciface_" + functionName(regime, i)));
        if (!function)
          return model.emitError("the tuning benchmark lacks ")
                 << functionName(regime, i);
        functions.push_back(function);
      }
      std::vector<double> medians =
          timeCandidates(functions, entry.tokens, cols, q, s, *weightBuffer,
                         weightBytes, weightBuffer->size() / stride);
      std::string line = what + " " + regime.name + ":";
      for (auto [candidate, seconds] : llvm::zip(entry.candidates, medians)) {
        candidate.medianSeconds = seconds;
        line += " " + candidateName(candidate) + " " + formatTime(seconds) + ",";
      }
      entry.chosen = std::min_element(medians.begin(), medians.end()) -
                     medians.begin();
      progress(line + " chose " + candidateName(entry.candidates[entry.chosen]));
      cache.update(entry);
    }
    results[shape.first] = std::move(entries);
  }
  if (!options.cachePath.empty() &&
      failed(cache.save(options.cachePath, model)))
    return failure();

  for (auto &shape : shapes)
    llvm::append_range(table.entries, results[shape.first]);
  // Each BitLinear gets the choice of its shape and regime.
  model.walk([&](BitLinearOp op) {
    auto found = results.find({op.getResult().getType().getDimSize(1),
                               op.getInput().getType().getDimSize(1)});
    if (found == results.end())
      return;
    bool decode = op.getInput().getType().getDimSize(0) == 1;
    const TuningEntry &entry = found->second[decode ? 0 : 1];
    op.setKernelAttr(kernelAttr(context, entry.candidates[entry.chosen]));
  });
  std::chrono::duration<double> elapsed =
      std::chrono::steady_clock::now() - started;
  progress(llvm::formatv("tune: {0} shapes on {1} thread(s) in {2:f1} s",
                         shapes.size(), table.threads, elapsed.count())
               .str());
  return table;
}
