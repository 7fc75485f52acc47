//===- Cli.cpp - The command line of a compiled model ---------------------===//
//
//   ./model [--weights model.pqw] --prompt TEXT | --tokens 1,2,3 [-n 64]
//           [--temperature T] [--top-p P] [--seed S]
//   ./model [--weights model.pqw] --score FILE
//
// Exit status 0 on success, 1 on any error (with a message on stderr).
// Generated text goes to stdout as it comes; speed goes to stderr.
//
//===----------------------------------------------------------------------===//

#include "pquant/cli.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace {

struct Options {
  const char *weights = nullptr;
  const char *prompt = nullptr; // text, encoded as byte tokens
  const char *tokens = nullptr; // comma-separated ids
  const char *score = nullptr;  // file to evaluate
  int64_t maxTokens = 64;
  int threads = 0; // 0: the runtime's default
  int64_t warmups = 0; // untimed runs before the timed one
  pq_sampling sampling = {/*temperature=*/0, /*top_p=*/1, /*seed=*/0};
};

bool parseInteger(const char *text, long long min, long long max,
                  long long &out) {
  char *end;
  errno = 0;
  out = strtoll(text, &end, 10);
  return *text && !*end && !errno && out >= min && out <= max;
}

bool parseReal(const char *text, double &out) {
  char *end;
  errno = 0;
  out = strtod(text, &end);
  return *text && !*end && !errno;
}

/// A flag that takes a value. `parse` stores it and returns nullptr, or
/// returns what a valid value looks like.
struct Flag {
  const char *name, *value, *help;
  const char *(*parse)(const char *text, Options &options);
};

const Flag kFlags[] = {
    {"--weights", "FILE",
     "the .pqw artifact (default: the model's path + .pqw)",
     [](const char *text, Options &options) -> const char * {
       options.weights = text;
       return nullptr;
     }},
    {"--prompt", "TEXT",
     "text to continue, one token per byte (byte-level vocabulary)",
     [](const char *text, Options &options) -> const char * {
       options.prompt = text;
       return *text ? nullptr : "non-empty text";
     }},
    {"--tokens", "LIST", "prompt token ids, comma-separated: 1,2,3",
     [](const char *text, Options &options) -> const char * {
       options.tokens = text;
       return nullptr; // checked when parsed into ids
     }},
    {"-n", "N", "number of tokens to generate (default 64)",
     [](const char *text, Options &options) -> const char * {
       long long count;
       if (!parseInteger(text, 0, INT64_MAX, count))
         return "an integer >= 0";
       options.maxTokens = count;
       return nullptr;
     }},
    {"--temperature", "T", "sampling temperature; 0 is greedy (default 0)",
     [](const char *text, Options &options) -> const char * {
       double &value = options.sampling.temperature;
       return parseReal(text, value) && value >= 0 && isfinite(value)
                  ? nullptr
                  : "a finite number >= 0";
     }},
    {"--top-p", "P",
     "sample among the likeliest tokens of mass P; 1 is off (default 1)",
     [](const char *text, Options &options) -> const char * {
       double &value = options.sampling.top_p;
       return parseReal(text, value) && value > 0 && value <= 1
                  ? nullptr
                  : "a number in (0, 1]";
     }},
    {"--seed", "S", "random seed of the sampler (default 0)",
     [](const char *text, Options &options) -> const char * {
       char *end;
       errno = 0;
       options.sampling.seed = strtoull(text, &end, 10);
       return *text && *text != '-' && !*end && !errno
                  ? nullptr
                  : "an integer in [0, 2^64)";
     }},
    {"--score", "FILE",
     "teacher-forced NLL, perplexity and bits per byte of FILE",
     [](const char *text, Options &options) -> const char * {
       options.score = text;
       return nullptr;
     }},
    {"--threads", "N",
     "threads to run on (default: $PQUANT_THREADS, else one per CPU)",
     [](const char *text, Options &options) -> const char * {
       long long count;
       if (!parseInteger(text, 1, 256, count))
         return "an integer in [1, 256]";
       options.threads = static_cast<int>(count);
       return nullptr;
     }},
    // A process's first prompt also pays for faulting in the KV cache's
    // fresh memory (10% of a 512-token 1.3B prefill here, by perf);
    // llama-bench likewise times after a warm-up run.
    {"--warmup", "N",
     "first run the prompt and generation N times, untimed and unprinted, "
     "the cache reset after each (default 0)",
     [](const char *text, Options &options) -> const char * {
       long long count;
       if (!parseInteger(text, 0, 1000, count))
         return "an integer in [0, 1000]";
       options.warmups = count;
       return nullptr;
     }},
};

void printUsage(const char *program, FILE *out) {
  fprintf(out,
          "usage: %s [--weights FILE] (--prompt TEXT | --tokens LIST) "
          "[-n N]\n"
          "       [--temperature T] [--top-p P] [--seed S]\n"
          "   or: %s [--weights FILE] --score FILE\n\n"
          "Runs a pquant-compiled model: generates text or token ids "
          "(stdout) and\nreports prompt and generation speed (stderr).\n\n",
          program, program);
  for (const Flag &flag : kFlags) {
    char synopsis[32];
    snprintf(synopsis, sizeof synopsis, "%s %s", flag.name, flag.value);
    fprintf(out, "  %-16s %s\n", synopsis, flag.help);
  }
  fprintf(out, "  %-16s this help\n", "--help");
}

enum class Parse { Ok, Help, Error };

/// Reads the flags, as `--flag value` or `--flag=value`.
Parse parseFlags(const char *program, int argc, char **argv, Options &options) {
  for (int i = 0; i < argc; ++i) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
      return Parse::Help;
    const char *equals = strncmp(arg, "--", 2) ? nullptr : strchr(arg, '=');
    size_t nameLength = equals ? equals - arg : strlen(arg);
    const Flag *flag = nullptr;
    for (const Flag &candidate : kFlags)
      if (strlen(candidate.name) == nameLength &&
          !strncmp(candidate.name, arg, nameLength))
        flag = &candidate;
    if (!flag) {
      fprintf(stderr, "%s: error: unknown argument '%s' (see --help)\n",
              program, arg);
      return Parse::Error;
    }
    const char *value = equals         ? equals + 1
                        : i + 1 < argc ? argv[++i]
                                       : nullptr;
    if (!value) {
      fprintf(stderr, "%s: error: %s needs a value (%s)\n", program, flag->name,
              flag->value);
      return Parse::Error;
    }
    if (const char *expected = flag->parse(value, options)) {
      fprintf(stderr, "%s: error: %s: invalid value '%s', expected %s\n",
              program, flag->name, value, expected);
      return Parse::Error;
    }
  }
  int modes = !!options.prompt + !!options.tokens + !!options.score;
  if (modes != 1) {
    fprintf(stderr, "%s: error: %s (see --help)\n", program,
            modes ? "--prompt, --tokens and --score exclude each other"
                  : "give --prompt, --tokens or --score");
    return Parse::Error;
  }
  return Parse::Ok;
}

/// Token ids from "1,2,3" into a malloc'ed array; false with a message on
/// stderr if the list is malformed.
bool parseTokenList(const char *program, const char *list, int32_t *&tokens,
                    int64_t &count) {
  count = 1;
  for (const char *c = list; *c; ++c)
    count += *c == ',';
  tokens = static_cast<int32_t *>(malloc(sizeof(int32_t) * count));
  if (!tokens) {
    fprintf(stderr, "%s: error: out of memory\n", program);
    return false;
  }
  const char *item = list;
  for (int64_t i = 0; i < count; ++i) {
    char *end;
    errno = 0;
    long long id = strtoll(item, &end, 10);
    if (end == item || (*end && *end != ',') || errno || id < 0 ||
        id > INT32_MAX) {
      fprintf(stderr,
              "%s: error: --tokens: '%s' is not a comma-separated list of "
              "token ids\n",
              program, list);
      free(tokens);
      tokens = nullptr;
      return false;
    }
    tokens[i] = static_cast<int32_t>(id);
    item = end + 1;
  }
  return true;
}

/// The bytes of `text`, one token each (room for one at least, so an empty
/// text is not mistaken for a failed allocation).
int32_t *bytesToTokens(const unsigned char *text, int64_t count) {
  auto *tokens =
      static_cast<int32_t *>(malloc(sizeof(int32_t) * (count ? count : 1)));
  for (int64_t i = 0; tokens && i < count; ++i)
    tokens[i] = text[i];
  return tokens;
}

/// The bytes of `path` as tokens; nullptr with a message on stderr on error.
int32_t *readFileTokens(const char *program, const char *path, int64_t &count) {
  FILE *file = fopen(path, "rb");
  if (!file) {
    fprintf(stderr, "%s: error: %s: %s\n", program, path, strerror(errno));
    return nullptr;
  }
  // Read to the end rather than trust a size, so pipes work too.
  unsigned char *bytes = nullptr;
  size_t size = 0, capacity = 0;
  bool ok = true;
  while (ok) {
    if (size == capacity) {
      capacity = capacity ? 2 * capacity : 1 << 16;
      auto *grown = static_cast<unsigned char *>(realloc(bytes, capacity));
      if (!(ok = grown != nullptr))
        break;
      bytes = grown;
    }
    size_t got = fread(bytes + size, 1, capacity - size, file);
    size += got;
    if (!got)
      break;
  }
  ok = ok && !ferror(file);
  fclose(file);
  int32_t *tokens = ok ? bytesToTokens(bytes, size) : nullptr;
  free(bytes);
  if (!tokens)
    fprintf(stderr, "%s: error: %s: cannot read it into memory\n", program,
            path);
  count = static_cast<int64_t>(size);
  return tokens;
}

/// Streams generated tokens: bytes for a --prompt, ids for --tokens.
struct Printer {
  bool text;
  bool first = true;

  static int print(void *self, int32_t token) {
    Printer &printer = *static_cast<Printer *>(self);
    if (printer.text && token < 256)
      putchar(token);
    else if (printer.text)
      printf("<%d>", token);
    else
      printf(printer.first ? "%d" : ",%d", token);
    printer.first = false;
    fflush(stdout);
    return 0;
  }
};

int generate(const char *program, const pq_api &api, pq_model *model,
             const Options &options, const int32_t *prompt, int64_t count) {
  for (int64_t run = 0; run < options.warmups; ++run) {
    if (api.pq_generate(model, prompt, count, options.maxTokens,
                        &options.sampling, nullptr, nullptr, nullptr,
                        nullptr)) {
      fprintf(stderr, "%s: error: %s\n", program, api.pq_last_error());
      return 1;
    }
    api.pq_reset(model);
  }
  Printer printer{/*text=*/options.prompt != nullptr};
  pq_stats stats;
  pq_status status = api.pq_generate(model, prompt, count, options.maxTokens,
                                     &options.sampling, Printer::print,
                                     &printer, nullptr, &stats);
  if (!printer.first)
    putchar('\n');
  fflush(stdout);
  if (status) {
    fprintf(stderr, "%s: error: %s\n", program, api.pq_last_error());
    return 1;
  }
  if (stats.context_full)
    fprintf(stderr,
            "%s: note: stopped after %lld tokens: the context of %lld tokens "
            "is full\n",
            program, static_cast<long long>(stats.generated_tokens),
            static_cast<long long>(api.pq_model_config(model)->max_seq_len));
  fprintf(stderr,
          "prompt: %lld tokens, %.1f tokens/s; generation: %lld tokens, %.1f "
          "tokens/s\n",
          static_cast<long long>(stats.prompt_tokens),
          stats.prompt_tokens_per_second,
          static_cast<long long>(stats.generated_tokens),
          stats.generation_tokens_per_second);
  return 0;
}

int score(const char *program, const pq_api &api, pq_model *model,
          const char *path, const int32_t *tokens, int64_t count) {
  double nll;
  int64_t predicted;
  if (api.pq_score(model, tokens, count, &nll, &predicted)) {
    fprintf(stderr, "%s: error: %s\n", program, api.pq_last_error());
    return 1;
  }
  if (!predicted) {
    fprintf(stderr, "%s: error: %s: nothing to score (%lld bytes)\n", program,
            path, static_cast<long long>(count));
    return 1;
  }
  double perToken = nll / static_cast<double>(predicted);
  printf("%s: %lld bytes, %lld predicted\n"
         "nll: %.6f nats/token\n"
         "perplexity: %.4f\n"
         "bits per byte: %.4f\n",
         path, static_cast<long long>(count), static_cast<long long>(predicted),
         perToken, exp(perToken), perToken / log(2.0));
  return 0;
}

/// Where pquant-compile writes the weights: the model's path + ".pqw".
char *defaultWeights(const char *modelPath) {
  size_t size = strlen(modelPath) + sizeof ".pqw";
  char *path = static_cast<char *>(malloc(size));
  if (path)
    snprintf(path, size, "%s.pqw", modelPath);
  return path;
}

} // namespace

int pq_cli_main(const char *program, const char *model_path, int argc,
                char **argv, const pq_api *api) {
  // The compiled code mallocs its activations on every call ([tokens, ffn]
  // floats: megabytes in a prefill). Above glibc's mmap threshold each would
  // be mapped, faulted in page by page and unmapped again every time; the
  // program running a model keeps them in its heap instead.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  Options options;
  switch (parseFlags(program, argc, argv, options)) {
  case Parse::Help:
    printUsage(program, stdout);
    return 0;
  case Parse::Error:
    return 1;
  case Parse::Ok:
    break;
  }

  // Read the input before the (possibly large) model is mapped and checked.
  int32_t *tokens = nullptr;
  int64_t count = 0;
  if (options.tokens) {
    if (!parseTokenList(program, options.tokens, tokens, count))
      return 1;
  } else if (options.score) {
    if (!(tokens = readFileTokens(program, options.score, count)))
      return 1;
  } else {
    count = static_cast<int64_t>(strlen(options.prompt));
    tokens = bytesToTokens(
        reinterpret_cast<const unsigned char *>(options.prompt), count);
    if (!tokens) {
      fprintf(stderr, "%s: error: out of memory\n", program);
      return 1;
    }
  }

  char *weights = options.weights ? nullptr : defaultWeights(model_path);
  pq_model *model = nullptr;
  int status = 1;
  if (!options.weights && !weights)
    fprintf(stderr, "%s: error: out of memory\n", program);
  else if (api->pq_set_threads(options.threads))
    fprintf(stderr, "%s: error: %s\n", program, api->pq_last_error());
  else if (api->pq_model_open(options.weights ? options.weights : weights,
                              &model))
    fprintf(stderr, "%s: error: %s\n", program, api->pq_last_error());
  else if (!options.tokens && api->pq_model_config(model)->vocab_size < 256)
    fprintf(stderr,
            "%s: error: %s reads text as bytes, which needs a byte-level "
            "vocabulary (vocab_size >= 256; this model has %lld): use "
            "--tokens\n",
            program, options.score ? "--score" : "--prompt",
            static_cast<long long>(api->pq_model_config(model)->vocab_size));
  else if (options.score)
    status = score(program, *api, model, options.score, tokens, count);
  else
    status = generate(program, *api, model, options, tokens, count);
  api->pq_model_close(model);
  free(weights);
  free(tokens);
  return status;
}
