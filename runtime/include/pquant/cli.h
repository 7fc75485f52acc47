//===- pquant/cli.h - The command line of a compiled model ------*- C++ -*-===//
//
// One implementation of `./model --prompt ...` for both ways a model runs:
// the static executable (pquant_main, calling the linked runtime) and
// pquant-run (calling the runtime inside a shared model it dlopen()ed). The
// CLI reaches the runtime only through a pq_api table, filled with the
// functions' addresses or with dlsym().
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_CLI_H
#define PQUANT_CLI_H

#include "pquant/runtime.h"

/// The runtime functions the CLI calls, as an X-macro: X(name) for each.
#define PQ_CLI_FUNCTIONS(X)                                                    \
  X(pq_last_error)                                                             \
  X(pq_model_open)                                                             \
  X(pq_model_close)                                                            \
  X(pq_model_config)                                                           \
  X(pq_generate)                                                               \
  X(pq_reset)                                                                  \
  X(pq_set_threads)                                                            \
  X(pq_score)

struct pq_api {
#define PQ_CLI_MEMBER(name) decltype(&::name) name;
  PQ_CLI_FUNCTIONS(PQ_CLI_MEMBER)
#undef PQ_CLI_MEMBER
};

/// Runs the CLI on `argc` flags `argv` (the program name not included);
/// returns the exit status. `program` names the command in messages and
/// usage; `model_path` is the executable or shared library: the weights are
/// `model_path`.pqw unless --weights says otherwise.
int pq_cli_main(const char *program, const char *model_path, int argc,
                char **argv, const pq_api *api);

#endif // PQUANT_CLI_H
