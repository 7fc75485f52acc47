//===- Model.cpp - Running a compiled model over its KV cache -------------===//
//
// A pq_model is a verified artifact, the KV cache and the number of tokens in
// it. Every call into the compiled code goes through run(), which checks the
// tokens and the cache room first and the returned logits after.
//
//===----------------------------------------------------------------------===//

#include "Artifact.h"
#include "CudaModel.h"
#include "Error.h"
#include "ModelABI.h"
#include "Sampling.h"
#include "Scratch.h"

#include <math.h>
#include <new>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

// A GPU model's object defines the GPU entry points instead (CudaModel.h).
#pragma weak _mlir_ciface_prefill
#pragma weak _mlir_ciface_prefill_last
#pragma weak _mlir_ciface_decode
#pragma weak pquant_kv_cache_shape
#pragma weak pquant_scratch_bytes

struct pq_model {
  pq::Artifact artifact;
  pq::WeightsRef weights;
  pq::CacheRef keys, values;
  void *cache = nullptr; // one mapping: the keys, then the values
  size_t cacheBytes = 0;
  int64_t position = 0;
  pq::cuda::Model *gpu = nullptr; // set in GPU models: it holds the cache
  void *scratch = nullptr; // the entry points' buffers (pquant_scratch_bytes)
  float *result = nullptr; // one token's logits, from decode or prefill_last
};

namespace {

/// The compiled entry points. They are called directly, not through a
/// pointer, whose type could not match theirs across the language boundary.
/// PrefillLast returns the last token's logits only.
enum class Entry { Prefill, PrefillLast, Decode };

/// Logits returned by the compiled code, freed on scope exit unless they
/// are the model's result buffer.
class Logits {
public:
  Logits() = default;
  Logits(const Logits &) = delete;
  Logits &operator=(const Logits &) = delete;
  ~Logits() {
    if (owned)
      free(ref.allocated);
  }

  pq::LogitsRef *descriptor() { return &ref; }
  /// Takes `rows` x `vocab` floats from malloc.
  void adopt(float *rows, int64_t count, int64_t vocab) {
    ref = {rows, rows, 0, {count, vocab}, {vocab, 1}};
  }
  const float *row(int64_t i) const {
    return ref.aligned + ref.offset + i * ref.strides[0];
  }

  /// Not to be freed: they lie in `buffer`, which someone else owns.
  void borrowedFrom(const float *buffer) { owned = ref.allocated != buffer; }

private:
  pq::LogitsRef ref = {};
  bool owned = true;
};

double now() {
  timespec time;
  clock_gettime(CLOCK_MONOTONIC, &time);
  return static_cast<double>(time.tv_sec) + 1e-9 * time.tv_nsec;
}

/// Checks that the tokens are in the vocabulary: the compiled embedding
/// would clamp them, hiding the mistake.
pq_status checkTokens(const pq_model &model, const int32_t *tokens,
                      int64_t count, const char *what) {
  const int64_t vocab = model.artifact.config.vocab_size;
  for (int64_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return pq::fail(PQ_ERROR_ARGUMENT,
                      "%s: token %d (at index %lld) is not in [0, %lld), the "
                      "vocabulary",
                      what, tokens[i], static_cast<long long>(i),
                      static_cast<long long>(vocab));
  return PQ_OK;
}

/// Runs `entry` on `count` tokens at the model's position and advances it.
/// `what` names the tokens in messages ("prompt", "decode", "text").
pq_status run(pq_model *model, Entry entry, const int32_t *tokens,
              int64_t count, const char *what, Logits &logits) {
  if (!model)
    return pq::fail(PQ_ERROR_ARGUMENT, "model is NULL");
  if (!tokens || count < 1)
    return pq::fail(PQ_ERROR_ARGUMENT, "%s: no tokens", what);
  if (pq_status status = checkTokens(*model, tokens, count, what))
    return status;
  const pq_config &config = model->artifact.config;
  if (model->position == config.max_seq_len)
    return pq::fail(PQ_ERROR_CONTEXT,
                    "%s: the KV cache is full (max_seq_len %lld tokens)", what,
                    static_cast<long long>(config.max_seq_len));
  if (count > config.max_seq_len - model->position)
    return pq::fail(PQ_ERROR_CONTEXT,
                    "%s longer than max_seq_len: %lld tokens after %lld in "
                    "the KV cache exceed %lld",
                    what, static_cast<long long>(count),
                    static_cast<long long>(model->position),
                    static_cast<long long>(config.max_seq_len));

  pq::TokensRef input = {tokens, tokens, 0, {count}, {1}};
  if (model->gpu) {
    float *rows;
    if (pq_status status = pq::cuda::runModel(model->gpu, entry == Entry::Decode,
                                              tokens, count, model->position, rows))
      return status;
    logits.adopt(rows, count, config.vocab_size);
  } else {
    pq::setEntryBuffers(model->scratch, model->result,
                        int64_t(sizeof(float)) * config.vocab_size);
    if (entry == Entry::Prefill)
      _mlir_ciface_prefill(logits.descriptor(), &model->weights, &input,
                           model->position, &model->keys, &model->values);
    else if (entry == Entry::PrefillLast)
      _mlir_ciface_prefill_last(logits.descriptor(), &model->weights, &input,
                                model->position, &model->keys, &model->values);
    else
      _mlir_ciface_decode(logits.descriptor(), &model->weights, &input,
                          model->position, &model->keys, &model->values);
    pq::setEntryBuffers(nullptr, nullptr, 0);
    logits.borrowedFrom(model->result);
  }

  const pq::LogitsRef &out = *logits.descriptor();
  const int64_t rows = entry == Entry::PrefillLast ? 1 : count;
  if (!out.aligned || out.sizes[0] != rows ||
      out.sizes[1] != config.vocab_size || out.strides[1] != 1 ||
      out.strides[0] < config.vocab_size)
    return pq::fail(PQ_ERROR_INTERNAL,
                    "the compiled model returned logits of shape [%lld, %lld] "
                    "(strides [%lld, %lld]), expected [%lld, %lld]: is the "
                    "runtime from the same pquant?",
                    static_cast<long long>(out.sizes[0]),
                    static_cast<long long>(out.sizes[1]),
                    static_cast<long long>(out.strides[0]),
                    static_cast<long long>(out.strides[1]),
                    static_cast<long long>(rows),
                    static_cast<long long>(config.vocab_size));
  model->position += count;
  return PQ_OK;
}

void copyRows(const Logits &logits, int64_t first, int64_t count, int64_t vocab,
              float *out) {
  for (int64_t i = 0; i < count; ++i)
    memcpy(out + i * vocab, logits.row(first + i), sizeof(float) * vocab);
}

/// -log softmax(row)[target], in double.
double negativeLogLikelihood(const float *row, int64_t vocab, int32_t target) {
  double max = row[0];
  for (int64_t i = 1; i < vocab; ++i)
    max = fmax(max, row[i]);
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i)
    sum += exp(row[i] - max);
  return log(sum) + max - row[target];
}

} // namespace

pq_status pq_model_open(const char *pqw_path, pq_model **out) {
  if (!out)
    return pq::fail(PQ_ERROR_ARGUMENT, "pq_model_open: out is NULL");
  *out = nullptr;
  if (!pqw_path)
    return pq::fail(PQ_ERROR_ARGUMENT, "pq_model_open: path is NULL");

  pq::Artifact artifact;
  if (pq_status status =
          pq::openArtifact(pqw_path,
                           {pquant_weights_layout_id, pquant_weights_data_size,
                            pquant_kv_cache_shape},
                           artifact))
    return status;
  const pq_config &config = artifact.config;
  pq::cuda::Model *gpu = nullptr;
  if (pq::cuda::openModel) { // linked into GPU models only
    if (pq_status status = pq::cuda::openModel(pqw_path, artifact, gpu)) {
      pq::closeArtifact(artifact);
      return status;
    }
  }

  // The counts are verified >= 1, so only the product can go wrong.
  uint64_t cacheFloats = 2; // keys and values
  bool overflow = false;
  int64_t dims[4];
  pq::kvCacheShape(config, dims);
  for (int64_t dim : dims)
    overflow |= __builtin_mul_overflow(cacheFloats, static_cast<uint64_t>(dim),
                                       &cacheFloats);
  uint64_t cacheBytes;
  overflow |= __builtin_mul_overflow(cacheFloats, sizeof(float), &cacheBytes);
  // Anonymous memory is zeroed lazily, so an unused context costs nothing.
  // A GPU model's cache is on the device.
  void *cache = gpu        ? nullptr
                : overflow ? MAP_FAILED
                           : mmap(nullptr, cacheBytes, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#ifdef MADV_HUGEPAGE
  // Each step writes a new row of every layer: with 4 KB pages that is a
  // page fault per layer and cache every step or two (1.3B shape, 2
  // threads: 57-62 instead of 69-70 tokens/s). A huge page is zeroed and
  // resident whole, so the rows in use can cost up to 2 MB more per layer
  // and cache: advised only where that is at most the weights' size (not
  // for small models, nor for configurations with absurdly many layers).
  constexpr uint64_t kHugePage = uint64_t(2) << 20;
  uint64_t worstExtra = 0;
  if (cache && cache != MAP_FAILED &&
      !__builtin_mul_overflow(static_cast<uint64_t>(config.num_layers),
                              2 * kHugePage, &worstExtra) &&
      worstExtra <= artifact.dataSize)
    madvise(cache, cacheBytes, MADV_HUGEPAGE);
#endif
  void *memory = cache == MAP_FAILED ? nullptr : malloc(sizeof(pq_model));
  if (!memory) {
    if (cache && cache != MAP_FAILED)
      munmap(cache, cacheBytes);
    if (gpu)
      pq::cuda::closeModel(gpu);
    char size[32] = "more than 2^64";
    if (!overflow)
      snprintf(size, sizeof size, "%llu",
               static_cast<unsigned long long>(cacheBytes));
    pq::failIn(pqw_path, PQ_ERROR_MEMORY,
               "cannot allocate the KV cache: %s bytes for num_layers %lld x "
               "max_seq_len %lld x num_kv_heads %lld x head_dim %lld x 2 "
               "(keys and values) floats",
               size, static_cast<long long>(config.num_layers),
               static_cast<long long>(config.max_seq_len),
               static_cast<long long>(config.num_kv_heads),
               static_cast<long long>(config.head_dim));
    pq::closeArtifact(artifact); // `config` is part of it
    return PQ_ERROR_MEMORY;
  }

  pq_model *model = new (memory) pq_model();
  model->artifact = artifact;
  model->cache = cache;
  model->cacheBytes = cacheBytes;
  model->gpu = gpu;
  model->weights = {artifact.data,
                    artifact.data,
                    0,
                    {static_cast<int64_t>(artifact.dataSize)},
                    {1}};
  const int64_t rows = config.max_seq_len, heads = config.num_kv_heads,
                dim = config.head_dim;
  float *keys = static_cast<float *>(cache);
  float *values = keys + cacheFloats / 2;
  model->keys = {keys,
                 keys,
                 0,
                 {config.num_layers, rows, heads, dim},
                 {rows * heads * dim, heads * dim, dim, 1}};
  model->values = model->keys;
  model->values.allocated = model->values.aligned = values;
  // The compiled code's per-step buffers and one token's logits: allocated
  // once, here.
  if (!gpu && &pquant_scratch_bytes && pquant_scratch_bytes) {
    uint64_t bytes = pquant_scratch_bytes,
             resultBytes = sizeof(float) * uint64_t(config.vocab_size);
    model->scratch = pq::allocateEntryBuffer(bytes);
    model->result = static_cast<float *>(pq::allocateEntryBuffer(resultBytes));
    if (!model->scratch || !model->result) {
      pq_model_close(model);
      return pq::failIn(pqw_path, PQ_ERROR_MEMORY,
                        "cannot allocate the compiled code's scratch (%llu bytes) "
                        "and logits (%llu bytes)",
                        static_cast<unsigned long long>(bytes),
                        static_cast<unsigned long long>(resultBytes));
    }
  }
  *out = model;
  return PQ_OK;
}

void pq_model_close(pq_model *model) {
  if (!model)
    return;
  if (model->cache)
    munmap(model->cache, model->cacheBytes);
  free(model->scratch);
  free(model->result);
  if (model->gpu)
    pq::cuda::closeModel(model->gpu);
  pq::closeArtifact(model->artifact);
  model->~pq_model();
  free(model);
}

const pq_config *pq_model_config(const pq_model *model) {
  return model ? &model->artifact.config : nullptr;
}

int64_t pq_model_position(const pq_model *model) {
  return model ? model->position : 0;
}

// The compiled attention reads only cache rows before start + M, all written
// since the reset, so old contents need no clearing.
void pq_reset(pq_model *model) {
  if (model)
    model->position = 0;
}

pq_status pq_prefill(pq_model *model, const int32_t *tokens, int64_t count,
                     float *logits) {
  // GPU models and models compiled before prefill_last existed compute
  // every token's logits; the last row is the answer either way.
  bool lastOnly = model && !model->gpu && _mlir_ciface_prefill_last;
  Logits result;
  if (pq_status status =
          run(model, lastOnly ? Entry::PrefillLast : Entry::Prefill, tokens,
              count, "prompt", result))
    return status;
  if (logits)
    copyRows(result, lastOnly ? 0 : count - 1, 1,
             model->artifact.config.vocab_size, logits);
  return PQ_OK;
}

pq_status pq_prefill_all(pq_model *model, const int32_t *tokens, int64_t count,
                         float *logits) {
  if (!logits)
    return pq::fail(PQ_ERROR_ARGUMENT, "pq_prefill_all: logits is NULL");
  Logits result;
  if (pq_status status =
          run(model, Entry::Prefill, tokens, count, "prompt", result))
    return status;
  copyRows(result, 0, count, model->artifact.config.vocab_size, logits);
  return PQ_OK;
}

pq_status pq_decode(pq_model *model, int32_t token, float *logits) {
  Logits result;
  if (pq_status status = run(model, Entry::Decode, &token, 1, "decode", result))
    return status;
  if (logits)
    copyRows(result, 0, 1, model->artifact.config.vocab_size, logits);
  return PQ_OK;
}

pq_status pq_generate(pq_model *model, const int32_t *prompt,
                      int64_t prompt_count, int64_t max_tokens,
                      const pq_sampling *params, pq_token_fn on_token,
                      void *user, int32_t *tokens_out, pq_stats *stats) {
  if (!model)
    return pq::fail(PQ_ERROR_ARGUMENT, "model is NULL");
  if (max_tokens < 0)
    return pq::fail(PQ_ERROR_ARGUMENT, "pq_generate: max_tokens %lld < 0",
                    static_cast<long long>(max_tokens));
  if (pq_status status = pq::checkSampling(params, /*haveRng=*/true))
    return status;
  pq_rng rng;
  pq_rng_seed(&rng, params->seed);
  const int64_t vocab = model->artifact.config.vocab_size;
  float *logits = static_cast<float *>(malloc(sizeof(float) * vocab));
  if (!logits)
    return pq::fail(PQ_ERROR_MEMORY, "cannot allocate %lld logits",
                    static_cast<long long>(vocab));

  pq_stats result = {};
  result.prompt_tokens = prompt_count;
  double start = now();
  pq_status status = pq_prefill(model, prompt, prompt_count, logits);
  double prefilled = now();
  while (status == PQ_OK && result.generated_tokens < max_tokens) {
    int32_t token;
    if ((status = pq_sample(logits, vocab, params, &rng, &token)))
      break;
    if (tokens_out)
      tokens_out[result.generated_tokens] = token;
    ++result.generated_tokens;
    if ((on_token && on_token(user, token)) ||
        result.generated_tokens == max_tokens)
      break;
    if (model->position == model->artifact.config.max_seq_len) {
      result.context_full = 1;
      break;
    }
    status = pq_decode(model, token, logits);
  }
  double end = now();
  free(logits);

  result.prompt_seconds = prefilled - start;
  result.generation_seconds = end - prefilled;
  if (result.prompt_seconds > 0)
    result.prompt_tokens_per_second = prompt_count / result.prompt_seconds;
  if (result.generation_seconds > 0)
    result.generation_tokens_per_second =
        result.generated_tokens / result.generation_seconds;
  if (stats)
    *stats = result;
  return status;
}

pq_status pq_score(pq_model *model, const int32_t *tokens, int64_t count,
                   double *nll, int64_t *predicted) {
  if (!model || !nll || !predicted || (!tokens && count))
    return pq::fail(PQ_ERROR_ARGUMENT, "pq_score: a pointer is NULL");
  if (count < 0)
    return pq::fail(PQ_ERROR_ARGUMENT, "pq_score: count %lld < 0",
                    static_cast<long long>(count));
  // A batch's last row predicts a token of the next batch: check them all.
  if (pq_status status = checkTokens(*model, tokens, count, "text"))
    return status;
  const pq_config &config = model->artifact.config;
  // Prefill in batches whose logits stay within a bound: a whole chunk at a
  // large vocabulary would need gigabytes.
  constexpr int64_t kLogitsBytes = 64 << 20;
  const int64_t batchLimit =
      kLogitsBytes / (config.vocab_size * static_cast<int64_t>(sizeof(float)));
  const int64_t batchSize = batchLimit > 1 ? batchLimit : 1;

  double total = 0;
  int64_t scored = 0;
  pq_status status = PQ_OK;
  for (int64_t chunk = 0; chunk < count && !status;
       chunk += config.max_seq_len) {
    pq_reset(model);
    const int32_t *text = tokens + chunk;
    const int64_t length =
        count - chunk < config.max_seq_len ? count - chunk : config.max_seq_len;
    for (int64_t first = 0; first < length && !status; first += batchSize) {
      const int64_t size =
          length - first < batchSize ? length - first : batchSize;
      Logits logits;
      status = run(model, Entry::Prefill, text + first, size, "text", logits);
      // Row i predicts the token after text[first + i].
      for (int64_t i = 0; !status && i < size && first + i + 1 < length; ++i) {
        total += negativeLogLikelihood(logits.row(i), config.vocab_size,
                                       text[first + i + 1]);
        ++scored;
      }
    }
  }
  pq_reset(model);
  if (status)
    return status;
  *nll = total;
  *predicted = scored;
  return PQ_OK;
}
