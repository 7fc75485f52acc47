//===- Main.cpp - main() of a statically linked compiled model ------------===//
//
// pquant_main: linked with the model object and pquant_runtime into an
// executable that runs the CLI on the runtime it contains.
//
//===----------------------------------------------------------------------===//

#include "pquant/cli.h"

#include <limits.h>
#include <unistd.h>

int main(int argc, char **argv) {
#define PQ_CLI_ADDRESS(name) &::name,
  static const pq_api api = {PQ_CLI_FUNCTIONS(PQ_CLI_ADDRESS)};
#undef PQ_CLI_ADDRESS
  // The weights are found next to the executable, wherever it is run from.
  char self[PATH_MAX];
  ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  const char *modelPath = argv[0];
  if (length > 0) {
    self[length] = '\0';
    modelPath = self;
  }
  return pq_cli_main(argv[0], modelPath, argc - 1, argv + 1, &api);
}
