//===- Sampling.cpp - Drawing the next token from logits ------------------===//
//
// Sampling works in double precision on weights exp((l - max) / T), which
// never overflow; NaN logits get weight 0. Top-p sorts only the tokens that
// can be in the nucleus (see nucleusThreshold), a few among a large vocab.
//
//===----------------------------------------------------------------------===//

#include "Sampling.h"
#include "Error.h"

#include <algorithm>
#include <math.h>
#include <stdlib.h>

namespace {

uint64_t rotateLeft(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t nextRandom(pq_rng &rng) {
  uint64_t *s = rng.state;
  uint64_t result = rotateLeft(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotateLeft(s[3], 45);
  return result;
}

/// Uniform in [0, 1).
double nextUniform(pq_rng &rng) {
  return static_cast<double>(nextRandom(rng) >> 11) * 0x1.0p-53;
}

/// The first largest logit; NaN never wins. -1 if every logit is NaN.
int64_t argmax(const float *logits, int64_t vocab) {
  int64_t best = -1;
  for (int64_t i = 0; i < vocab; ++i)
    if (!isnan(logits[i]) && (best < 0 || logits[i] > logits[best]))
      best = i;
  return best;
}

/// The unnormalized probability of `logit`: exp((logit - max) / T) <= 1.
double weight(float logit, double max, double temperature) {
  return isnan(logit) ? 0 : exp((logit - max) / temperature);
}

struct Candidate {
  double weight;
  int32_t token;
};

/// A token of the nucleus of mass top_p has probability above
/// (1 - top_p) / vocab: the tokens at least as unlikely as it, itself
/// included, hold more than 1 - top_p. Half of that bound leaves room for
/// rounding and still admits the most likely token (probability >= 1/vocab).
double nucleusThreshold(double total, double topP, int64_t vocab) {
  return total * (1 - topP) / (2 * static_cast<double>(vocab));
}

/// Draws from the nucleus of mass top_p; `total` is the sum of all weights.
pq_status sampleTopP(const float *logits, int64_t vocab, double max,
                     double temperature, double total, double topP, pq_rng &rng,
                     int32_t &token) {
  auto *candidates =
      static_cast<Candidate *>(malloc(sizeof(Candidate) * vocab));
  if (!candidates)
    return pq::fail(PQ_ERROR_MEMORY,
                    "cannot allocate top-p scratch for %lld "
                    "tokens",
                    static_cast<long long>(vocab));
  double threshold = nucleusThreshold(total, topP, vocab);
  int64_t count = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    double w = weight(logits[i], max, temperature);
    if (w >= threshold && w > 0)
      candidates[count++] = {w, static_cast<int32_t>(i)};
  }
  // Ties go to the lower id, as in greedy decoding.
  std::sort(candidates, candidates + count,
            [](const Candidate &a, const Candidate &b) {
              return a.weight > b.weight ||
                     (a.weight == b.weight && a.token < b.token);
            });
  double mass = 0;
  int64_t size = 0;
  while (size < count && mass < topP * total)
    mass += candidates[size++].weight;
  double target = nextUniform(rng) * mass;
  token = candidates[size - 1].token; // if rounding leaves target unreached
  double sum = 0;
  for (int64_t i = 0; i < size; ++i)
    if ((sum += candidates[i].weight) > target) {
      token = candidates[i].token;
      break;
    }
  free(candidates);
  return PQ_OK;
}

} // namespace

pq_status pq::checkSampling(const pq_sampling *params, bool haveRng) {
  if (!params)
    return fail(PQ_ERROR_ARGUMENT, "sampling parameters are NULL");
  if (!(params->temperature >= 0 && isfinite(params->temperature)))
    return fail(PQ_ERROR_ARGUMENT,
                "temperature %g must be a finite number >= 0 (0 is greedy)",
                params->temperature);
  if (!(params->top_p > 0 && params->top_p <= 1))
    return fail(PQ_ERROR_ARGUMENT, "top-p %g must be in (0, 1] (1 is off)",
                params->top_p);
  if (params->temperature > 0 && !haveRng)
    return fail(PQ_ERROR_ARGUMENT,
                "sampling at temperature %g needs a random generator",
                params->temperature);
  return PQ_OK;
}

void pq_rng_seed(pq_rng *rng, uint64_t seed) {
  // splitmix64 spreads any seed, 0 included, over the whole state.
  for (uint64_t &word : rng->state) {
    uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    word = z ^ (z >> 31);
  }
}

pq_status pq_sample(const float *logits, int64_t vocab,
                    const pq_sampling *params, pq_rng *rng, int32_t *token) {
  if (!logits || !token)
    return pq::fail(PQ_ERROR_ARGUMENT, "pq_sample: logits or token is NULL");
  if (vocab < 1 || vocab > INT32_MAX)
    return pq::fail(PQ_ERROR_ARGUMENT, "pq_sample: vocab %lld out of range",
                    static_cast<long long>(vocab));
  if (pq_status status = pq::checkSampling(params, rng != nullptr))
    return status;

  int64_t best = argmax(logits, vocab);
  *token = static_cast<int32_t>(best < 0 ? 0 : best);
  double max = best < 0 ? NAN : logits[best];
  // Greedy, or nothing to sample from: all NaN, or an infinite logit that
  // outweighs the rest.
  if (params->temperature == 0 || !isfinite(max))
    return PQ_OK;

  const double temperature = params->temperature;
  double total = 0;
  for (int64_t i = 0; i < vocab; ++i)
    total += weight(logits[i], max, temperature);
  if (params->top_p < 1)
    return sampleTopP(logits, vocab, max, temperature, total, params->top_p,
                      *rng, *token);

  double target = nextUniform(*rng) * total, sum = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if ((sum += weight(logits[i], max, temperature)) > target) {
      *token = static_cast<int32_t>(i);
      break;
    }
  } // rounding can leave target unreached: then *token stays the argmax
  return PQ_OK;
}
