/*===- pquant/runtime.h - C API of the pquant model runtime -----*- C -*-===*
 *
 * The runtime loads a model's .pqw artifact, verifies it, owns the KV cache,
 * calls the compiled entry points (prefill, decode) and samples. A compiled
 * model is linked with this library: a static executable calls it through
 * pquant_main's CLI, a shared model exports it (pquant-run, Python ctypes).
 *
 * Errors: every function that can fail returns a pq_status; PQ_OK is 0. The
 * message of the last failure on the calling thread, which names the file
 * and the problem, is pq_last_error(). Nothing here aborts or throws; invalid
 * arguments (NULL, out-of-range tokens) are reported, not trusted.
 *
 * Threads: a pq_model is not thread-safe (its KV cache is state); different
 * models may be used from different threads.
 *
 *===----------------------------------------------------------------------===*/

#ifndef PQUANT_RUNTIME_H
#define PQUANT_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PQ_API __attribute__((visibility("default")))

typedef enum pq_status {
  PQ_OK = 0,
  PQ_ERROR_ARGUMENT = 1, /* NULL pointer, token out of range, bad parameter */
  PQ_ERROR_IO = 2,       /* the file cannot be opened or mapped */
  PQ_ERROR_FORMAT = 3,   /* not a valid .pqw: identifier, structure, bounds,
                            tensor table or model config */
  PQ_ERROR_VERSION = 4,  /* a format_version this runtime does not read */
  PQ_ERROR_CHECKSUM = 5, /* the data section does not match data_checksum */
  PQ_ERROR_MISMATCH = 6, /* the artifact is for other compiled code: another
                            layout_id or another CPU architecture */
  PQ_ERROR_CONTEXT = 7,  /* the tokens do not fit in the KV cache */
  PQ_ERROR_MEMORY = 8,   /* an allocation failed */
  PQ_ERROR_INTERNAL = 9, /* the compiled code returned something unexpected */
  PQ_ERROR_DEVICE = 10,  /* a GPU model: no usable GPU or CUDA driver, or a
                            CUDA call failed (the message names it) */
} pq_status;

/* A short name for a status ("checksum", "format", ...). */
PQ_API const char *pq_status_name(pq_status status);

/* The message of the last failed call on this thread ("" if none). Valid
 * until the next failing call on the same thread. */
PQ_API const char *pq_last_error(void);

/* The model hyper-parameters recorded in the artifact (config.json). */
typedef struct pq_config {
  int64_t vocab_size, hidden_size, num_layers, num_heads, num_kv_heads;
  int64_t head_dim; /* hidden_size / num_heads */
  int64_t ffn_bin_size, ffn_hp_size, num_experts, top_k, max_seq_len;
  double rope_theta, rms_norm_eps;
  int32_t gate_weighting, subln, tie_embeddings; /* 0 or 1 */
} pq_config;

typedef struct pq_model pq_model;

/* Maps and verifies `pqw_path` and allocates the KV cache. On failure *out is
 * NULL. The artifact must come from the compilation this code was linked
 * with (same layout_id) and be for this CPU architecture. */
PQ_API pq_status pq_model_open(const char *pqw_path, pq_model **out);
PQ_API void pq_model_close(pq_model *model); /* NULL is fine */

PQ_API const pq_config *pq_model_config(const pq_model *model);
/* Tokens in the KV cache: the position the next token gets. */
PQ_API int64_t pq_model_position(const pq_model *model);
/* Empties the KV cache (position 0). */
PQ_API void pq_reset(pq_model *model);

/* Appends `count` >= 1 tokens at the current position. `logits`, if not NULL,
 * receives the vocab_size logits that follow the last token. */
PQ_API pq_status pq_prefill(pq_model *model, const int32_t *tokens,
                            int64_t count, float *logits);
/* As pq_prefill; `logits` receives count x vocab_size logits, row i those
 * that follow tokens[i]. */
PQ_API pq_status pq_prefill_all(pq_model *model, const int32_t *tokens,
                                int64_t count, float *logits);
/* Appends one token through the decode entry point; `logits` (vocab_size,
 * may be NULL) receives the logits that follow it. */
PQ_API pq_status pq_decode(pq_model *model, int32_t token, float *logits);

/* --- Threads ------------------------------------------------------------ */

/* Sets how many threads the compiled code of every model in this process
 * runs on, the calling thread included. 0 means the default: the environment
 * variable PQUANT_THREADS if set to a count, else one per online CPU. Call it
 * while no model is running. */
PQ_API pq_status pq_set_threads(int threads);
/* The number of threads the compiled code runs on. */
PQ_API int pq_threads(void);

/* --- Sampling ----------------------------------------------------------- */

typedef struct pq_sampling {
  double temperature; /* 0: greedy (argmax, lowest id on ties); > 0 scales
                         the logits before the softmax */
  double top_p;       /* (0, 1]: sample within the smallest set of most
                         likely tokens whose mass reaches top_p; 1: off */
  uint64_t seed;      /* seeds pq_generate's generator */
} pq_sampling;

/* State of the pseudo-random generator (xoshiro256**); seed it first. */
typedef struct pq_rng {
  uint64_t state[4];
} pq_rng;

PQ_API void pq_rng_seed(pq_rng *rng, uint64_t seed);

/* Draws a token from `vocab` logits. `rng` may be NULL for greedy sampling.
 * NaN logits never win; if no logit is usable the argmax is returned. */
PQ_API pq_status pq_sample(const float *logits, int64_t vocab,
                           const pq_sampling *params, pq_rng *rng,
                           int32_t *token);

/* --- Generation and scoring --------------------------------------------- */

/* Called with each new token; a non-zero return stops the generation. */
typedef int (*pq_token_fn)(void *user, int32_t token);

typedef struct pq_stats {
  int64_t prompt_tokens, generated_tokens;
  double prompt_seconds;     /* the prefill */
  double generation_seconds; /* from the end of the prefill to the last token */
  double prompt_tokens_per_second, generation_tokens_per_second;
  int32_t context_full; /* 1 if generation stopped at max_seq_len */
} pq_stats;

/* Prefills `prompt` (count >= 1) at the current position, then samples up to
 * `max_tokens` new tokens, passing each to `on_token` (may be NULL) and
 * storing it in `tokens_out` (room for max_tokens, may be NULL). Stops early
 * when on_token returns non-zero or the KV cache is full. The last token is
 * not yet in the cache: pass it first in the next prompt to go on. `stats`
 * may be NULL. */
PQ_API pq_status pq_generate(pq_model *model, const int32_t *prompt,
                             int64_t prompt_count, int64_t max_tokens,
                             const pq_sampling *params, pq_token_fn on_token,
                             void *user, int32_t *tokens_out, pq_stats *stats);

/* Teacher-forced negative log-likelihood of `tokens`, in chunks of
 * max_seq_len tokens with the cache reset before each; the first token of a
 * chunk has no prediction. Sets *nll (total, in nats) and *predicted (the
 * number of predicted tokens). Leaves the cache reset. */
PQ_API pq_status pq_score(pq_model *model, const int32_t *tokens, int64_t count,
                          double *nll, int64_t *predicted);

#ifdef __cplusplus
}
#endif

#endif /* PQUANT_RUNTIME_H */
