/* TEST STUB, not a model: stands in for a pquant-compile'd model object so
 * the runtime can be linked and tested without the compiler. It exports the
 * compiled model's ABI (runtime/src/ModelABI.h) with a trivial "model":
 *
 *   - vocab_size is STUB_VOCAB; the logits after token t are 0 except
 *     `peak` at (t + 1) % STUB_VOCAB, where `peak` is the first byte of the
 *     weights: greedy decoding counts up, and the weights must be passed.
 *   - each token writes t + 1 to its cache row in every layer (keys and
 *     values); a token whose earlier rows of the cache were never written
 *     (a wrong `start`) predicts 0 instead.
 *   - decode fails the same way when given more than one token.
 *   - the logits buffer is over-allocated and `aligned` is offset from
 *     `allocated`, so a runtime that frees the wrong pointer fails.
 *
 * The .pqw files it accepts are written by runtime-test (write-pqw). */

#include <stdint.h>
#include <stdlib.h>

#define STUB_VOCAB 256
#define DESCRIPTOR(T, R)                                                       \
  struct {                                                                     \
    T *allocated, *aligned;                                                    \
    int64_t offset, sizes[R], strides[R];                                      \
  }
typedef DESCRIPTOR(float, 2) Logits;
typedef DESCRIPTOR(const uint8_t, 1) Weights;
typedef DESCRIPTOR(const int32_t, 1) Tokens;
typedef DESCRIPTOR(float, 4) Cache;

/* "STUB0001": runtime-test writes the same id into its artifacts. */
const uint64_t pquant_weights_layout_id = 0x5354554230303031ull;
/* runtime-test's default data section. */
const uint64_t pquant_weights_data_size = 8288;

static float *cacheRow(Cache *cache, int64_t layer, int64_t position) {
  return cache->aligned + cache->offset + layer * cache->strides[0] +
         position * cache->strides[1];
}

static void run(Logits *logits, Weights *weights, Tokens *tokens, int64_t start,
                Cache *keys, Cache *values, int decode) {
  const int64_t count = tokens->sizes[0];
  const float peak = weights->aligned[weights->offset];
  float *buffer = calloc(count * STUB_VOCAB + 16, sizeof(float));
  logits->allocated = buffer;
  logits->aligned = buffer + 16;
  logits->offset = 0;
  logits->sizes[0] = count;
  logits->sizes[1] = STUB_VOCAB;
  logits->strides[0] = STUB_VOCAB;
  logits->strides[1] = 1;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t position = start + i;
    const int32_t token =
        tokens->aligned[tokens->offset + i * tokens->strides[0]];
    int history = !decode || count == 1;
    for (int64_t p = 0; p < position; ++p)
      history = history && cacheRow(keys, 0, p)[0] != 0;
    for (int64_t layer = 0; layer < keys->sizes[0]; ++layer)
      cacheRow(keys, layer, position)[0] =
          cacheRow(values, layer, position)[0] = (float)(token + 1);
    logits->aligned[i * STUB_VOCAB + (history ? (token + 1) % STUB_VOCAB : 0)] =
        peak;
  }
}

void _mlir_ciface_prefill(Logits *logits, Weights *weights, Tokens *tokens,
                          int64_t start, Cache *keys, Cache *values) {
  run(logits, weights, tokens, start, keys, values, 0);
}

void _mlir_ciface_decode(Logits *logits, Weights *weights, Tokens *tokens,
                         int64_t start, Cache *keys, Cache *values) {
  run(logits, weights, tokens, start, keys, values, 1);
}
