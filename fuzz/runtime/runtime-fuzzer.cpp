//===- runtime-fuzzer.cpp - Fuzz the runtime's prompt and token paths -----===//
//
// Everything a user feeds a loaded model: the command line of a model
// executable (pq_cli_main: --prompt text, --tokens lists, --score files,
// -n, --temperature, --top-p, --seed, ...) and the C API calls behind it
// (prefill, decode, generate, score, sample) with arbitrary tokens, counts
// and sampling parameters. The model is the TEST STUB
// (test/Runtime/Inputs/stub_model.c: vocab 256, max_seq_len 16) with an
// artifact written at start-up.
//
// The first byte chooses the path:
//
//  - even: the command line. The rest, split at NUL bytes, is: the contents
//    of a text file, then the arguments. An argument "@text" names that
//    file; arguments with a '/' are skipped, so no other file outside the
//    working directory is read (no /dev/zero).
//  - odd: a program of C API calls, one opcode byte and its operands each
//    (see runProgram). Results are checked against the API's contract.
//
//===----------------------------------------------------------------------===//

#include "pquant/Artifact/DataChecksum.h"
#include "pquant/Artifact/pqw_generated.h"
#include "pquant/cli.h"
#include "pquant/runtime.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

using namespace pquant::artifact;

namespace {

// Must match test/Runtime/Inputs/stub_model.c.
constexpr uint64_t kStubLayoutId = 0x5354554230303031ull;
constexpr int64_t kVocab = 256, kMaxSeqLen = 16, kDataSize = 8288;

#if defined(__x86_64__)
constexpr const char *kHostTriple = "x86_64-unknown-linux-gnu";
#elif defined(__aarch64__)
constexpr const char *kHostTriple = "aarch64-unknown-linux-gnu";
#endif

std::string directory, modelPath, weightsPath, textPath;
pq_model *model = nullptr;

[[noreturn]] void die(const char *what) {
  fprintf(stderr, "runtime-fuzzer: %s\n", what);
  abort();
}

void writeFile(const std::string &path, const void *bytes, size_t size) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, bytes, size) != static_cast<ssize_t>(size))
    die("cannot write a file in the scratch directory");
  close(fd);
}

/// A valid artifact for the stub, as runtime-test write-pqw writes one.
std::vector<uint8_t> stubArtifact() {
  std::vector<uint8_t> data(kDataSize);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<uint8_t>(i * 7 + 1);
  data[0] = 8; // the stub's logit peak
  uint64_t checksum = pq_data_checksum_of(data.data(), data.size());

  auto header = [&](uint64_t dataOffset) {
    flatbuffers::FlatBufferBuilder b;
    b.ForceDefaults(true);
    std::vector<int64_t> embed = {kVocab, 8}, gate = {8, 1}, norm = {8};
    std::vector<flatbuffers::Offset<Tensor>> tensors = {
        CreateTensor(b, b.CreateString("embed"), DType_F32,
                     b.CreateVector(embed), 0, 0, kVocab * 8 * 4),
        CreateTensor(b, b.CreateString("layers.0.ffn.gate1"), DType_I8,
                     b.CreateVector(gate),
                     CreatePackedLayout(b, 8, 8, 8, 8, 1, false), 8192, 8),
        CreateTensor(b, b.CreateString("norm"), DType_F32,
                     b.CreateVector(norm), 0, 8256, 32)};
    auto config = CreateModelConfig(b, kVocab, 8, 2, 2, 1, 16, 4, 1, 1, false,
                                    true, 10000, 1e-5, kMaxSeqLen, false);
    b.Finish(CreateModel(b, 2,
                         CreateProducerDirect(b, "0.1.0", "unknown",
                                              "runtime-fuzzer"),
                         CreateTargetDirect(b, kHostTriple, "", ""), config,
                         b.CreateVector(tensors), dataOffset, data.size(),
                         checksum, kStubLayoutId),
             ModelIdentifier());
    return std::vector<uint8_t>(b.GetBufferPointer(),
                                b.GetBufferPointer() + b.GetSize());
  };
  size_t offset = (header(0).size() + 63) / 64 * 64;
  std::vector<uint8_t> file = header(offset);
  file.resize(offset, 0);
  file.insert(file.end(), data.begin(), data.end());
  return file;
}

void removeDirectory() {
  pq_model_close(model);
  unlink(weightsPath.c_str());
  unlink(textPath.c_str());
  rmdir(directory.c_str());
}

//===----------------------------------------------------------------------===//
// The command line
//===----------------------------------------------------------------------===//

int runCli(const uint8_t *data, size_t size) {
  std::vector<std::string> items(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i])
      items.back() += static_cast<char>(data[i]);
    else
      items.emplace_back();
  }
  writeFile(textPath, items[0].data(), items[0].size());
  std::vector<char *> argv;
  for (size_t i = 1; i < items.size(); ++i) {
    if (items[i] == "@text")
      items[i] = textPath;
    else if (items[i].find('/') != std::string::npos)
      continue;
    argv.push_back(items[i].data());
  }
#define PQ_CLI_ADDRESS(name) &::name,
  static const pq_api api = {PQ_CLI_FUNCTIONS(PQ_CLI_ADDRESS)};
#undef PQ_CLI_ADDRESS
  int status = pq_cli_main("model", modelPath.c_str(),
                           static_cast<int>(argv.size()), argv.data(), &api);
  if (status != 0 && status != 1)
    die("the command line exited with a status other than 0 and 1");
  return 0;
}

//===----------------------------------------------------------------------===//
// The C API
//===----------------------------------------------------------------------===//

/// Reads the program's operands; past the end every read gives zeros.
struct Reader {
  const uint8_t *data;
  size_t size, at = 0;

  bool done() const { return at >= size; }
  void bytes(void *out, size_t count) {
    memset(out, 0, count);
    size_t n = at < size ? (size - at < count ? size - at : count) : 0;
    memcpy(out, data + at, n);
    at += count;
  }
  template <typename T> T get() {
    T value;
    bytes(&value, sizeof value);
    return value;
  }
  /// Up to `max` tokens: a count byte, then 4 bytes each (any int32).
  std::vector<int32_t> tokens(size_t max) {
    std::vector<int32_t> out(get<uint8_t>() % (max + 1));
    for (int32_t &token : out)
      token = get<int32_t>();
    return out;
  }
  /// Sampling parameters: raw doubles (NaN, infinities, denormals, ...) or,
  /// with the selector's low bit clear, values from a small useful set.
  pq_sampling sampling() {
    static const double temperatures[] = {0, 0.5, 1, 1e-300, 1e300};
    static const double topPs[] = {1, 0.9, 0.5, 1e-12, 0.999999};
    pq_sampling params;
    uint8_t selector = get<uint8_t>();
    params.temperature = selector & 1 ? get<double>() : temperatures[(selector >> 1) % 5];
    params.top_p = selector & 1 ? get<double>() : topPs[(selector >> 4) % 5];
    params.seed = get<uint8_t>();
    return params;
  }
};

bool validSampling(const pq_sampling &params) {
  return params.temperature >= 0 && isfinite(params.temperature) &&
         params.top_p > 0 && params.top_p <= 1;
}

bool inVocab(const std::vector<int32_t> &tokens) {
  for (int32_t token : tokens)
    if (token < 0 || token >= kVocab)
      return false;
  return true;
}

/// A failed call must say why; a successful one must have had valid input.
void expect(pq_status status, bool mayPass, const char *call) {
  if (status != PQ_OK && !*pq_last_error()) {
    fprintf(stderr, "runtime-fuzzer: %s failed without a message\n", call);
    abort();
  }
  if (status == PQ_OK && !mayPass) {
    fprintf(stderr, "runtime-fuzzer: %s accepted invalid input\n", call);
    abort();
  }
}

int runProgram(const uint8_t *data, size_t size) {
  pq_reset(model);
  Reader in{data, size};
  std::vector<float> logits(kMaxSeqLen * kVocab);
  for (int step = 0; step < 64 && !in.done(); ++step) {
    const int64_t before = pq_model_position(model);
    switch (in.get<uint8_t>() % 8) {
    case 0: { // prefill, with or without logits
      bool wantLogits = in.get<uint8_t>() & 1;
      std::vector<int32_t> tokens = in.tokens(20);
      pq_status status =
          pq_prefill(model, tokens.data(), static_cast<int64_t>(tokens.size()),
                     wantLogits ? logits.data() : nullptr);
      expect(status,
             !tokens.empty() && inVocab(tokens) &&
                 before + static_cast<int64_t>(tokens.size()) <= kMaxSeqLen,
             "pq_prefill");
      if (!status && pq_model_position(model) !=
                         before + static_cast<int64_t>(tokens.size()))
        die("pq_prefill advanced the position wrongly");
      break;
    }
    case 1: { // prefill_all
      std::vector<int32_t> tokens = in.tokens(kMaxSeqLen);
      expect(pq_prefill_all(model, tokens.data(),
                            static_cast<int64_t>(tokens.size()), logits.data()),
             !tokens.empty() && inVocab(tokens) &&
                 before + static_cast<int64_t>(tokens.size()) <= kMaxSeqLen,
             "pq_prefill_all");
      break;
    }
    case 2: { // decode
      int32_t token = in.get<int32_t>();
      expect(pq_decode(model, token, logits.data()),
             token >= 0 && token < kVocab && before < kMaxSeqLen, "pq_decode");
      break;
    }
    case 3: { // generate
      std::vector<int32_t> prompt = in.tokens(20);
      int64_t maxTokens = static_cast<int8_t>(in.get<uint8_t>());
      pq_sampling params = in.sampling();
      std::vector<int32_t> out(maxTokens > 0 ? maxTokens : 1);
      pq_stats stats;
      pq_status status = pq_generate(
          model, prompt.data(), static_cast<int64_t>(prompt.size()), maxTokens,
          &params, nullptr, nullptr, out.data(), &stats);
      expect(status,
             maxTokens >= 0 && validSampling(params) && !prompt.empty() &&
                 inVocab(prompt) &&
                 before + static_cast<int64_t>(prompt.size()) <= kMaxSeqLen,
             "pq_generate");
      if (!status) {
        if (stats.generated_tokens < 0 || stats.generated_tokens > maxTokens)
          die("pq_generate reported a wrong token count");
        for (int64_t i = 0; i < stats.generated_tokens; ++i)
          if (out[i] < 0 || out[i] >= kVocab)
            die("pq_generate produced a token outside the vocabulary");
      }
      break;
    }
    case 4: { // score
      std::vector<int32_t> tokens = in.tokens(40);
      double nll = -1;
      int64_t predicted = -1;
      pq_status status =
          pq_score(model, tokens.data(), static_cast<int64_t>(tokens.size()),
                   &nll, &predicted);
      expect(status, inVocab(tokens), "pq_score");
      if (!status && (predicted < 0 || !(nll >= 0)))
        die("pq_score returned a negative count or NLL");
      // It leaves the cache reset, or untouched when it refused the input.
      if (pq_model_position(model) != 0 &&
          (!status || pq_model_position(model) != before))
        die("pq_score left tokens in the cache");
      break;
    }
    case 5:
      pq_reset(model);
      break;
    case 6: { // sample from arbitrary logits
      int64_t vocab = in.get<uint8_t>() % 64;
      std::vector<float> raw(vocab > 0 ? vocab : 1);
      for (float &logit : raw)
        logit = in.get<float>();
      pq_sampling params = in.sampling();
      pq_rng rng;
      pq_rng_seed(&rng, params.seed);
      int32_t token = -1;
      pq_status status = pq_sample(raw.data(), vocab, &params,
                                   in.get<uint8_t>() & 1 ? &rng : nullptr,
                                   &token);
      expect(status, vocab >= 1 && validSampling(params), "pq_sample");
      if (!status && (token < 0 || token >= vocab))
        die("pq_sample drew a token outside the vocabulary");
      break;
    }
    case 7: { // NULL arguments
      int32_t token = 0;
      double nll;
      int64_t predicted;
      expect(pq_prefill(model, nullptr, 1, nullptr), false, "pq_prefill(NULL)");
      expect(pq_prefill_all(model, &token, 1, nullptr), false,
             "pq_prefill_all(NULL)");
      expect(pq_score(model, nullptr, 3, &nll, &predicted), false,
             "pq_score(NULL)");
      expect(pq_sample(nullptr, 4, nullptr, nullptr, &token), false,
             "pq_sample(NULL)");
      break;
    }
    }
    if (pq_model_position(model) < 0 ||
        pq_model_position(model) > kMaxSeqLen)
      die("the cache position left [0, max_seq_len]");
  }
  return 0;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const char *tmp = getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") +
                        "/pquant-runtime-fuzzer-XXXXXX";
  if (!mkdtemp(pattern.data()))
    die("mkdtemp failed");
  directory = pattern;
  modelPath = directory + "/model";
  weightsPath = modelPath + ".pqw";
  textPath = directory + "/text";
  std::vector<uint8_t> artifact = stubArtifact();
  writeFile(weightsPath, artifact.data(), artifact.size());
  if (pq_model_open(weightsPath.c_str(), &model) != PQ_OK) {
    fprintf(stderr, "runtime-fuzzer: %s\n", pq_last_error());
    abort();
  }
  atexit(removeDirectory);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  return data[0] & 1 ? runProgram(data + 1, size - 1)
                     : runCli(data + 1, size - 1);
}
