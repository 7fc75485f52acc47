//===- runtime-test.cpp - Unit tests of the pquant runtime ----------------===//
//
//   runtime-test loader DIR     artifacts the loader must accept or refuse
//   runtime-test mutations DIR  random corruptions: refused cleanly, no crash
//   runtime-test model DIR      prefill/decode/generate/score on the stub
//   runtime-test sampling       greedy, temperature, top-p, seeds
//   runtime-test write-pqw FILE [--triple T] [--layout-id N] [--peak B]
//                               a valid artifact for the test stub
//
// Linked with the runtime and the TEST STUB model (Inputs/stub_model.c).
// Prints "ok NAME: detail" or "FAIL NAME: detail" per check, then
// "N passed, M failed"; exits 1 on a failure.
//
//===----------------------------------------------------------------------===//

#include "pquant/runtime.h"

#include "pquant/Artifact/DataChecksum.h"
#include "pquant/Artifact/pqw_generated.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

using namespace pquant::artifact;

namespace {

// Must match Inputs/stub_model.c.
constexpr uint64_t kStubLayoutId = 0x5354554230303031ull;
constexpr int64_t kStubVocab = 256;

#if defined(__x86_64__)
constexpr const char *kHostTriple = "x86_64-unknown-linux-gnu";
constexpr const char *kOtherTriple = "aarch64-unknown-linux-gnu";
#elif defined(__aarch64__)
constexpr const char *kHostTriple = "aarch64-unknown-linux-gnu";
constexpr const char *kOtherTriple = "x86_64-unknown-linux-gnu";
#endif

int passed = 0, failed = 0;

void report(bool ok, const std::string &name, const std::string &detail) {
  printf("%s %s: %s\n", ok ? "ok" : "FAIL", name.c_str(), detail.c_str());
  ++(ok ? passed : failed);
}

int summary() {
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

//===----------------------------------------------------------------------===//
// Writing artifacts
//===----------------------------------------------------------------------===//

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t offset, size;
  int packedWord = 0; // a PackedLayout of 8 x 8 bits in this word if > 0
};

/// Everything a .pqw holds, valid by default; tests break one thing.
struct ArtifactSpec {
  uint32_t version = 2;
  std::string triple = kHostTriple;
  uint64_t layoutId = kStubLayoutId;
  bool hasConfig = true;
  int64_t vocab = kStubVocab, hidden = 8, layers = 2, heads = 2, kvHeads = 1,
          maxSeqLen = 16;
  double ropeTheta = 10000;
  std::vector<TensorSpec> tensors = {
      {"embed", DType_F32, {kStubVocab, 8}, 0, kStubVocab * 8 * 4},
      {"layers.0.ffn.gate1", DType_I8, {8, 1}, 8192, 8, 8},
      {"norm", DType_F32, {8}, 8256, 32},
  };
  std::vector<uint8_t> data = defaultData(8288, 8);
  int64_t dataOffset = -1;   // -1: right after the FlatBuffer
  int64_t dataSizeDelta = 0; // added to the recorded data_size
  bool corruptChecksum = false;

  /// The first byte is the stub's logit peak.
  static std::vector<uint8_t> defaultData(size_t size, uint8_t peak) {
    std::vector<uint8_t> data(size);
    for (size_t i = 0; i < size; ++i)
      data[i] = static_cast<uint8_t>(i * 7 + 1);
    data[0] = peak;
    return data;
  }
};

std::vector<uint8_t> buildHeader(const ArtifactSpec &spec,
                                 uint64_t dataOffset) {
  flatbuffers::FlatBufferBuilder b;
  b.ForceDefaults(true); // the same size whatever data_offset is
  std::vector<flatbuffers::Offset<Tensor>> tensors;
  for (const TensorSpec &t : spec.tensors) {
    flatbuffers::Offset<PackedLayout> packed;
    if (t.packedWord)
      packed = CreatePackedLayout(b, 8, 8, t.packedWord, 8, 1, false);
    tensors.push_back(CreateTensor(b, b.CreateString(t.name), t.dtype,
                                   b.CreateVector(t.shape), packed, t.offset,
                                   t.size));
  }
  auto producer = CreateProducerDirect(b, "0.1.0", "unknown", "runtime-test");
  auto target = CreateTargetDirect(b, spec.triple.c_str(), "", "");
  flatbuffers::Offset<ModelConfig> config;
  if (spec.hasConfig)
    config = CreateModelConfig(
        b, spec.vocab, spec.hidden, spec.layers, spec.heads, spec.kvHeads, 16,
        4, 1, 1, false, true, spec.ropeTheta, 1e-5, spec.maxSeqLen, false);
  uint64_t checksum = pq_data_checksum_of(spec.data.data(), spec.data.size()) ^
                      (spec.corruptChecksum ? 1 : 0);
  b.Finish(CreateModel(b, spec.version, producer, target, config,
                       b.CreateVector(tensors), dataOffset,
                       spec.data.size() + spec.dataSizeDelta, checksum,
                       spec.layoutId),
           ModelIdentifier());
  return std::vector<uint8_t>(b.GetBufferPointer(),
                              b.GetBufferPointer() + b.GetSize());
}

/// The bytes of the .pqw that `spec` describes.
std::vector<uint8_t> build(const ArtifactSpec &spec) {
  size_t headerSize = buildHeader(spec, 0).size();
  uint64_t offset =
      spec.dataOffset >= 0 ? spec.dataOffset : (headerSize + 63) / 64 * 64;
  std::vector<uint8_t> file = buildHeader(spec, offset);
  size_t dataStart = (headerSize + 63) / 64 * 64; // where the bytes really go
  file.resize(dataStart, 0);
  file.insert(file.end(), spec.data.begin(), spec.data.end());
  return file;
}

/// Writes `bytes` over `path`. Truncating to the final size rather than to 0
/// first spares the file system the flush it does for a file replaced by
/// truncation, which would dominate the mutation test's time.
bool writeFile(const std::string &path, const std::vector<uint8_t> &bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return false;
  bool ok = write(fd, bytes.data(), bytes.size()) ==
                static_cast<ssize_t>(bytes.size()) &&
            ftruncate(fd, bytes.size()) == 0;
  return close(fd) == 0 && ok;
}

//===----------------------------------------------------------------------===//
// Loader
//===----------------------------------------------------------------------===//

/// Opens `bytes` written to DIR/NAME.pqw; the status must be `expected` and
/// a failure's message must name the file and contain `needle`.
void expectOpen(const std::string &dir, const std::string &name,
                const std::vector<uint8_t> &bytes, pq_status expected,
                const char *needle) {
  std::string path = dir + "/" + name + ".pqw";
  if (!writeFile(path, bytes))
    return report(false, name, "cannot write " + path);
  pq_model *model = nullptr;
  pq_status status = pq_model_open(path.c_str(), &model);
  std::string message = status ? pq_last_error() : "opened";
  bool ok = status == expected && (model != nullptr) == (status == PQ_OK) &&
            (status == PQ_OK || (message.find(path) == 0 &&
                                 message.find(needle) != std::string::npos));
  if (status != expected)
    message = std::string("status '") + pq_status_name(status) +
              "', expected '" + pq_status_name(expected) + "': " + message;
  report(ok, name, message);
  pq_model_close(model);
}

void expectRefused(const std::string &dir, const std::string &name,
                   const std::function<void(ArtifactSpec &)> &change,
                   pq_status expected, const char *needle) {
  ArtifactSpec spec;
  change(spec);
  expectOpen(dir, name, build(spec), expected, needle);
}

int testLoader(const std::string &dir) {
  const std::vector<uint8_t> good = build(ArtifactSpec());
  expectOpen(dir, "good", good, PQ_OK, "");

  // Damaged files.
  {
    pq_model *model = nullptr;
    std::string path = dir + "/missing.pqw";
    remove(path.c_str());
    pq_status status = pq_model_open(path.c_str(), &model);
    report(status == PQ_ERROR_IO && !model, "missing", pq_last_error());
  }
  expectOpen(dir, "empty", {}, PQ_ERROR_FORMAT, "truncated");
  expectOpen(dir, "truncated-header",
             std::vector<uint8_t>(good.begin(), good.begin() + 100),
             PQ_ERROR_FORMAT, "corrupt or truncated header");
  expectOpen(dir, "truncated-data",
             std::vector<uint8_t>(good.begin(), good.end() - 100),
             PQ_ERROR_FORMAT, "truncated");
  std::vector<uint8_t> flipped = good;
  flipped[flipped.size() - 1000] ^= 0x10;
  expectOpen(dir, "flipped-data-byte", flipped, PQ_ERROR_CHECKSUM, "checksum");
  std::vector<uint8_t> identifier = good;
  memcpy(&identifier[4], "GGUF", 4);
  expectOpen(dir, "wrong-identifier", identifier, PQ_ERROR_FORMAT,
             "not a .pqw artifact (file identifier \"GGUF\"");
  std::vector<uint8_t> garbage = good;
  for (size_t i = 8; i < 200; ++i)
    garbage[i] = static_cast<uint8_t>(i * 37);
  expectOpen(dir, "garbage-header", garbage, PQ_ERROR_FORMAT,
             "corrupt or truncated header");

  // Versions and compatibility.
  expectRefused(
      dir, "format-version-3", [](ArtifactSpec &s) { s.version = 3; },
      PQ_ERROR_VERSION, "format version 3; this runtime reads version 2");
  expectRefused(
      dir, "format-version-1", [](ArtifactSpec &s) { s.version = 1; },
      PQ_ERROR_VERSION,
      "format version 1; this runtime reads version 2 (the artifact is "
      "older: compile the model again)");
  expectRefused(
      dir, "format-version-0", [](ArtifactSpec &s) { s.version = 0; },
      PQ_ERROR_FORMAT, "format version 0");
  expectRefused(
      dir, "wrong-layout-id", [](ArtifactSpec &s) { s.layoutId = 0x1234; },
      PQ_ERROR_MISMATCH,
      "weight layout 0000000000001234, but this model was compiled "
      "for layout 5354554230303031");
  expectRefused(
      dir, "other-architecture",
      [](ArtifactSpec &s) { s.triple = kOtherTriple; }, PQ_ERROR_MISMATCH,
      "compiled for");
  expectRefused(
      dir, "no-triple", [](ArtifactSpec &s) { s.triple = ""; }, PQ_ERROR_FORMAT,
      "no target triple");
  expectRefused(
      dir, "checksum-field", [](ArtifactSpec &s) { s.corruptChecksum = true; },
      PQ_ERROR_CHECKSUM, "the file is corrupted");

  // The data section.
  expectRefused(
      dir, "data-offset-past-file",
      [](ArtifactSpec &s) { s.dataOffset = 1 << 20; }, PQ_ERROR_FORMAT,
      "ends past the end of the file");
  expectRefused(
      dir, "data-offset-unaligned",
      [](ArtifactSpec &s) { s.dataOffset = 1000; }, PQ_ERROR_FORMAT,
      "data offset 1000 is not 64-byte aligned");
  expectRefused(
      dir, "data-offset-in-header", [](ArtifactSpec &s) { s.dataOffset = 64; },
      PQ_ERROR_FORMAT, "the header overlaps the data section");
  expectRefused(
      dir, "data-size-past-file", [](ArtifactSpec &s) { s.dataSizeDelta = 1; },
      PQ_ERROR_FORMAT, "ends past the end of the file");
  expectRefused(
      dir, "data-size-huge",
      [](ArtifactSpec &s) { s.dataSizeDelta = INT64_MAX; }, PQ_ERROR_FORMAT,
      "ends past the end of the file");
  // Well formed, checksum right, but not the size the code reads.
  expectRefused(
      dir, "data-size-not-the-codes",
      [](ArtifactSpec &s) { s.data.resize(s.data.size() + 64); },
      PQ_ERROR_MISMATCH, "data section of 8352 bytes, but this model reads 8288");

  // The tensor table.
  expectRefused(
      dir, "tensor-past-data",
      [](ArtifactSpec &s) { s.tensors[2].offset = 8320; }, PQ_ERROR_FORMAT,
      "lie outside the data section");
  expectRefused(
      dir, "tensor-offset-huge",
      [](ArtifactSpec &s) { s.tensors[2].offset = UINT64_MAX - 63; },
      PQ_ERROR_FORMAT, "lie outside the data section");
  expectRefused(
      dir, "tensor-unaligned",
      [](ArtifactSpec &s) { s.tensors[2].offset = 8260; }, PQ_ERROR_FORMAT,
      "offset 8260 is not 64-byte aligned");
  expectRefused(
      dir, "tensor-billion-squared",
      [](ArtifactSpec &s) {
        s.tensors[0].shape = {1000000000, 1000000000};
      },
      PQ_ERROR_FORMAT,
      "its shape holds 4000000000000000000 bytes, the table says "
      "8192");
  expectRefused(
      dir, "tensor-shape-overflow",
      [](ArtifactSpec &s) {
        s.tensors[0].shape = {1000000000, 1000000000, 1000000000};
      },
      PQ_ERROR_FORMAT, "shape too large");
  expectRefused(
      dir, "tensor-absurd-size",
      [](ArtifactSpec &s) {
        s.tensors[0].shape = {250000000000000000};
        s.tensors[0].size = 1000000000000000000;
      },
      PQ_ERROR_FORMAT, "lie outside the data section");
  expectRefused(
      dir, "tensor-negative-dim",
      [](ArtifactSpec &s) { s.tensors[2].shape = {-8}; }, PQ_ERROR_FORMAT,
      "negative dimension -8");
  expectRefused(
      dir, "tensor-unknown-dtype",
      [](ArtifactSpec &s) { s.tensors[2].dtype = DType(17); }, PQ_ERROR_FORMAT,
      "unknown dtype 17");
  expectRefused(
      dir, "tensor-packed-word",
      [](ArtifactSpec &s) { s.tensors[1].packedWord = 7; }, PQ_ERROR_FORMAT,
      "packed into 7-bit words");

  // The config.
  expectRefused(
      dir, "no-config", [](ArtifactSpec &s) { s.hasConfig = false; },
      PQ_ERROR_FORMAT, "no model config");
  expectRefused(
      dir, "zero-vocab", [](ArtifactSpec &s) { s.vocab = 0; }, PQ_ERROR_FORMAT,
      "vocab_size = 0 must be an integer >= 1");
  expectRefused(
      dir, "heads-not-dividing", [](ArtifactSpec &s) { s.heads = 3; },
      PQ_ERROR_FORMAT,
      "hidden_size 8 must be num_heads 3 times an even head size");
  expectRefused(
      dir, "kv-heads-not-dividing",
      [](ArtifactSpec &s) {
        s.kvHeads = 3;
        s.heads = 4;
      },
      PQ_ERROR_FORMAT, "num_heads 4 must be a multiple of num_kv_heads 3");
  expectRefused(
      dir, "rope-theta-nan", [](ArtifactSpec &s) { s.ropeTheta = NAN; },
      PQ_ERROR_FORMAT, "rope_theta = nan must be a positive finite number");
  expectRefused(
      dir, "vocab-over-int32", [](ArtifactSpec &s) { s.vocab = 1ll << 31; },
      PQ_ERROR_FORMAT, "does not fit int32 token ids");
  expectRefused(
      dir, "kv-cache-too-large",
      [](ArtifactSpec &s) { s.maxSeqLen = 1000000000000000; }, PQ_ERROR_MEMORY,
      "cannot allocate the KV cache");
  expectRefused(
      dir, "kv-cache-overflow",
      [](ArtifactSpec &s) { s.maxSeqLen = INT64_MAX; }, PQ_ERROR_MEMORY,
      "more than 2^64");

  // Arguments.
  pq_model *model = reinterpret_cast<pq_model *>(&passed); // must be reset
  report(pq_model_open(nullptr, &model) == PQ_ERROR_ARGUMENT && !model,
         "null-path", pq_last_error());
  report(pq_model_open("x.pqw", nullptr) == PQ_ERROR_ARGUMENT, "null-out",
         pq_last_error());
  return summary();
}

/// Opens thousands of deterministic corruptions of a good artifact: flipped
/// bytes, extreme 32-bit words and truncations, mostly in the header. Each
/// must open or be refused with a message naming the file; under the
/// sanitizers this also shows the loader never reads out of bounds.
int testMutations(const std::string &dir) {
  const std::vector<uint8_t> good = build(ArtifactSpec());
  const std::string path = dir + "/mutant.pqw";
  const uint32_t extremes[] = {0,          1,          0x7fffffff,
                               0x80000000, 0xffffffff, 0xfffffff0};
  uint64_t seed = 1;
  auto next = [&seed](uint64_t bound) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (seed >> 33) % bound;
  };
  int opened = 0, refused = 0;
  std::string bad;
  for (int i = 0; i < 3000 && bad.empty(); ++i) {
    std::vector<uint8_t> file = good;
    size_t header = 800; // the FlatBuffer and some data
    switch (i % 3) {
    case 0:
      for (uint64_t n = 1 + next(4); n; --n)
        file[next(header)] ^= static_cast<uint8_t>(1 + next(255));
      break;
    case 1: {
      uint32_t word = extremes[next(6)];
      memcpy(&file[next(header / 4) * 4], &word, 4);
      break;
    }
    case 2:
      file.resize(next(file.size()));
      break;
    }
    if (!writeFile(path, file))
      return report(false, "mutations", "cannot write " + path), summary();
    pq_model *model = nullptr;
    if (pq_model_open(path.c_str(), &model) == PQ_OK)
      ++opened;
    else if (++refused, std::string(pq_last_error()).find(path) != 0)
      bad = std::to_string(i) + ": " + pq_last_error();
    pq_model_close(model);
  }
  report(bad.empty(), "mutations",
         bad.empty() ? std::to_string(opened) + " opened, " +
                           std::to_string(refused) + " refused"
                     : "message without the path, mutant " + bad);
  return summary();
}

//===----------------------------------------------------------------------===//
// Model calls through the stub
//===----------------------------------------------------------------------===//

int64_t argmax(const float *logits, int64_t vocab) {
  int64_t best = 0;
  for (int64_t i = 1; i < vocab; ++i)
    if (logits[i] > logits[best])
      best = i;
  return best;
}

std::string tokensToString(const std::vector<int32_t> &tokens) {
  std::string text;
  for (int32_t token : tokens)
    text += (text.empty() ? "" : ",") + std::to_string(token);
  return text;
}

int testModel(const std::string &dir) {
  const uint8_t peak = 8;
  std::string path = dir + "/stub.pqw";
  pq_model *model = nullptr;
  if (!writeFile(path, build(ArtifactSpec())) ||
      pq_model_open(path.c_str(), &model)) {
    report(false, "open", pq_last_error());
    return summary();
  }
  const pq_config &config = *pq_model_config(model);
  report(config.vocab_size == kStubVocab && config.head_dim == 4 &&
             config.max_seq_len == 16 && config.subln == 1 &&
             config.gate_weighting == 0,
         "config", "vocab 256, head_dim 4, max_seq_len 16");

  std::vector<float> logits(3 * kStubVocab);
  const int32_t abc[] = {'a', 'b', 'c'};
  pq_status status = pq_prefill_all(model, abc, 3, logits.data());
  report(!status && argmax(&logits[0], kStubVocab) == 'b' &&
             argmax(&logits[kStubVocab], kStubVocab) == 'c' &&
             argmax(&logits[2 * kStubVocab], kStubVocab) == 'd' &&
             logits[2 * kStubVocab + 'd'] == peak &&
             pq_model_position(model) == 3,
         "prefill-all", "rows predict b, c, d; position 3");
  status = pq_decode(model, 'd', logits.data());
  report(!status && argmax(logits.data(), kStubVocab) == 'e' &&
             pq_model_position(model) == 4,
         "decode", "d predicts e at position 3");
  status = pq_prefill(model, abc, 2, logits.data());
  report(!status && argmax(logits.data(), kStubVocab) == 'c' &&
             pq_model_position(model) == 6,
         "prefill-appends", "a second prefill continues at position 4");

  status = pq_decode(model, 256, logits.data());
  report(status == PQ_ERROR_ARGUMENT && pq_model_position(model) == 6,
         "token-out-of-range", pq_last_error());
  const int32_t negative[] = {'a', -1};
  status = pq_prefill(model, negative, 2, nullptr);
  report(status == PQ_ERROR_ARGUMENT, "token-negative", pq_last_error());
  std::vector<int32_t> eleven(11, 'x');
  status = pq_prefill(model, eleven.data(), 11, nullptr);
  report(status == PQ_ERROR_CONTEXT && pq_model_position(model) == 6,
         "prompt-too-long", pq_last_error());
  status = pq_prefill(model, eleven.data(), 10, nullptr);
  report(!status && pq_model_position(model) == 16, "prefill-to-full",
         "6 + 10 tokens fill max_seq_len 16");
  status = pq_decode(model, 'a', nullptr);
  report(status == PQ_ERROR_CONTEXT, "decode-when-full", pq_last_error());
  report(pq_prefill(model, abc, 0, nullptr) == PQ_ERROR_ARGUMENT, "no-tokens",
         pq_last_error());
  pq_reset(model);
  report(pq_model_position(model) == 0, "reset", "position 0");

  // Generation: greedy counts up from the prompt's last token.
  pq_sampling greedy = {0, 1, 0};
  std::vector<int32_t> out(8, -1);
  pq_stats stats;
  status = pq_generate(model, abc, 3, 5, &greedy, nullptr, nullptr, out.data(),
                       &stats);
  out.resize(stats.generated_tokens);
  report(!status && out == std::vector<int32_t>{'d', 'e', 'f', 'g', 'h'} &&
             stats.prompt_tokens == 3 && !stats.context_full &&
             pq_model_position(model) == 7,
         "generate-greedy", tokensToString(out));

  struct Stopper {
    std::vector<int32_t> seen;
    static int stop(void *self, int32_t token) {
      auto &seen = static_cast<Stopper *>(self)->seen;
      seen.push_back(token);
      return seen.size() == 2;
    }
  } stopper;
  pq_reset(model);
  status = pq_generate(model, abc, 3, 5, &greedy, Stopper::stop, &stopper,
                       nullptr, &stats);
  report(!status && stats.generated_tokens == 2 &&
             stopper.seen == std::vector<int32_t>{'d', 'e'},
         "generate-callback-stops", tokensToString(stopper.seen));

  pq_reset(model);
  std::vector<int32_t> ten(10, 'x');
  out.assign(20, -1);
  status = pq_generate(model, ten.data(), 10, 20, &greedy, nullptr, nullptr,
                       out.data(), &stats);
  report(!status && stats.generated_tokens == 7 && stats.context_full &&
             out[6] == 'x' + 7,
         "generate-until-full",
         "10 prompt tokens leave room for 7 generated of 16");

  pq_reset(model);
  report(pq_generate(model, ten.data(), 10, 3, nullptr, nullptr, nullptr,
                     nullptr, nullptr) == PQ_ERROR_ARGUMENT,
         "generate-null-params", pq_last_error());
  pq_sampling hot = {-1, 1, 0};
  report(pq_generate(model, ten.data(), 10, 3, &hot, nullptr, nullptr, nullptr,
                     nullptr) == PQ_ERROR_ARGUMENT &&
             pq_model_position(model) == 0,
         "generate-bad-params-before-prefill", pq_last_error());

  // Scoring: 40 tokens in chunks of 16, 16 and 8. The stub gives the token
  // after t probability e^peak / (e^peak + 255) and any other 1 / (same).
  std::vector<int32_t> text;
  for (int i = 0; i < 40; ++i)
    text.push_back(i % 3 ? text.back() + 1 : 'a' + i % 7);
  double expected = 0;
  int64_t expectedCount = 0;
  const double logNorm = log(exp(static_cast<double>(peak)) + kStubVocab - 1);
  for (int i = 1; i < 40; ++i) {
    if (i % 16 == 0)
      continue; // first token of a chunk
    expected += logNorm - (text[i] == text[i - 1] + 1 ? peak : 0);
    ++expectedCount;
  }
  double nll = -1;
  int64_t predicted = -1;
  pq_prefill(model, abc, 3, nullptr);
  status = pq_score(model, text.data(), 40, &nll, &predicted);
  char detail[128];
  snprintf(detail, sizeof detail,
           "%lld predicted, nll %.6f (expected %lld, %.6f)",
           static_cast<long long>(predicted), nll,
           static_cast<long long>(expectedCount), expected);
  report(!status && predicted == expectedCount &&
             fabs(nll - expected) <= 1e-4 * expected &&
             pq_model_position(model) == 0,
         "score-chunks", detail);
  text[39] = 300; // checked before anything runs, even as a last target
  report(pq_score(model, text.data(), 40, &nll, &predicted) ==
             PQ_ERROR_ARGUMENT,
         "score-bad-token", pq_last_error());
  report(pq_score(model, text.data(), 1, &nll, &predicted) == PQ_OK &&
             predicted == 0 && nll == 0,
         "score-one-token", "nothing to predict");

  report(pq_prefill(nullptr, abc, 3, nullptr) == PQ_ERROR_ARGUMENT,
         "null-model", pq_last_error());
  pq_model_close(model);
  pq_model_close(nullptr);
  return summary();
}

//===----------------------------------------------------------------------===//
// Sampling
//===----------------------------------------------------------------------===//

/// Deterministic pseudo-random logits for the tests.
std::vector<float> randomLogits(uint64_t seed, int64_t vocab) {
  std::vector<float> logits(vocab);
  for (float &logit : logits) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    logit = static_cast<float>((seed >> 40) % 2000) / 100.0f - 10.0f;
  }
  return logits;
}

int32_t sample(const std::vector<float> &logits, pq_sampling params,
               pq_rng *rng) {
  int32_t token = -1;
  if (pq_sample(logits.data(), logits.size(), &params, rng, &token))
    return -1;
  return token;
}

/// Frequencies of `draws` samples.
std::vector<double> frequencies(const std::vector<float> &logits,
                                pq_sampling params, int draws) {
  pq_rng rng;
  pq_rng_seed(&rng, params.seed);
  std::vector<double> counts(logits.size());
  for (int i = 0; i < draws; ++i)
    counts[sample(logits, params, &rng)] += 1.0 / draws;
  return counts;
}

bool near(const std::vector<double> &got, const std::vector<double> &want,
          double tolerance, std::string &detail) {
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i) {
    char item[64];
    snprintf(item, sizeof item, "%s%.3f/%.3f", i ? " " : "", got[i], want[i]);
    detail += item;
    ok = fabs(got[i] - want[i]) <= tolerance;
  }
  return ok;
}

int testSampling() {
  const pq_sampling greedy = {0, 1, 0};
  bool ok = true;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<float> logits = randomLogits(seed, 1000);
    ok &= sample(logits, greedy, nullptr) == argmax(logits.data(), 1000);
  }
  report(ok, "greedy-argmax", "50 random vectors, rng NULL");
  report(sample({1, 3, 2, 3}, greedy, nullptr) == 1, "greedy-ties",
         "the lowest id wins");
  report(sample({NAN, 1, NAN, 2}, greedy, nullptr) == 3 &&
             sample({NAN, NAN}, greedy, nullptr) == 0,
         "greedy-nan", "NaN never wins; all NaN gives 0");

  pq_rng rng;
  pq_rng_seed(&rng, 7);
  ok = true;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<float> logits = randomLogits(seed, 1000);
    logits[seed * 13 % 1000] = logits[argmax(logits.data(), 1000)]; // a tie
    ok &= sample(logits, {1.0, 1e-9, 0}, &rng) == argmax(logits.data(), 1000);
    ok &= sample(logits, {5.0, 1e-300, 0}, &rng) == argmax(logits.data(), 1000);
  }
  report(ok, "top-p-to-zero-is-greedy", "50 random vectors with ties");

  std::vector<float> logits = randomLogits(3, 5000);
  pq_rng a, b, c;
  pq_rng_seed(&a, 42);
  pq_rng_seed(&b, 42);
  pq_rng_seed(&c, 43);
  bool same = true, differ = false;
  for (int i = 0; i < 200; ++i) {
    int32_t x = sample(logits, {1.5, 0.9, 0}, &a);
    same &= x == sample(logits, {1.5, 0.9, 0}, &b);
    differ |= x != sample(logits, {1.5, 0.9, 0}, &c);
  }
  report(same && differ, "seeds", "seed 42 twice: same 200 tokens; 43 differs");

  // Distributions over 200000 draws (standard error ~0.001).
  const std::vector<float> probs = {logf(0.1f), logf(0.2f), logf(0.3f),
                                    logf(0.4f)};
  std::string detail;
  report(near(frequencies(probs, {1, 1, 1}, 200000), {0.1, 0.2, 0.3, 0.4}, 0.01,
              detail),
         "temperature-1", detail);
  detail.clear();
  double z = sqrt(0.1) + sqrt(0.2) + sqrt(0.3) + sqrt(0.4);
  report(near(frequencies(probs, {2, 1, 2}, 200000),
              {sqrt(0.1) / z, sqrt(0.2) / z, sqrt(0.3) / z, sqrt(0.4) / z},
              0.01, detail),
         "temperature-2", detail);
  detail.clear();
  report(near(frequencies(probs, {1, 0.65, 3}, 200000),
              {0, 0, 3.0 / 7, 4.0 / 7}, 0.01, detail),
         "top-p-0.65", detail);
  detail.clear();
  report(near(frequencies({0, -INFINITY, NAN, 0}, {1, 1, 4}, 20000),
              {0.5, 0, 0, 0.5}, 0.02, detail),
         "infinite-and-nan", detail);

  int32_t token;
  pq_sampling bad[] = {{-1, 1, 0}, {NAN, 1, 0}, {INFINITY, 1, 0},
                       {1, 0, 0},  {1, 1.5, 0}, {1, NAN, 0}};
  ok = true;
  for (const pq_sampling &params : bad)
    ok &= pq_sample(logits.data(), 10, &params, &rng, &token) ==
          PQ_ERROR_ARGUMENT;
  report(ok, "bad-parameters", pq_last_error());
  report(pq_sample(logits.data(), 10, &greedy, &rng, nullptr) ==
                 PQ_ERROR_ARGUMENT &&
             pq_sample(logits.data(), 0, &greedy, &rng, &token) ==
                 PQ_ERROR_ARGUMENT &&
             pq_sample(logits.data(), 10, nullptr, &rng, &token) ==
                 PQ_ERROR_ARGUMENT,
         "bad-arguments", pq_last_error());
  pq_sampling warm = {1, 1, 0};
  report(pq_sample(logits.data(), 10, &warm, nullptr, &token) ==
             PQ_ERROR_ARGUMENT,
         "temperature-needs-rng", pq_last_error());
  return summary();
}

//===----------------------------------------------------------------------===//

int writePqw(int argc, char **argv) {
  ArtifactSpec spec;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--triple")
      spec.triple = argv[i + 1];
    else if (flag == "--layout-id")
      spec.layoutId = strtoull(argv[i + 1], nullptr, 0);
    else if (flag == "--peak")
      spec.data[0] = static_cast<uint8_t>(atoi(argv[i + 1]));
    else
      return fprintf(stderr, "write-pqw: unknown flag %s\n", argv[i]), 2;
  }
  if (!writeFile(argv[2], build(spec)))
    return fprintf(stderr, "write-pqw: cannot write %s\n", argv[2]), 1;
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "loader" && argc == 3)
    return testLoader(argv[2]);
  if (command == "mutations" && argc == 3)
    return testMutations(argv[2]);
  if (command == "model" && argc == 3)
    return testModel(argv[2]);
  if (command == "sampling" && argc == 2)
    return testSampling();
  if (command == "write-pqw" && argc >= 3)
    return writePqw(argc, argv);
  fprintf(
      stderr,
      "usage: runtime-test loader DIR | mutations DIR | model DIR | sampling | "
      "write-pqw FILE [--triple T] [--layout-id N] [--peak B]\n");
  return 2;
}
