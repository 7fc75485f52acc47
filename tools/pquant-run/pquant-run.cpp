//===- pquant-run.cpp - Run a model compiled as a shared library ----------===//
//
//   pquant-run model.so [--weights model.pqw] --prompt "..." -n 64
//
// `pquant-compile --emit=shared` links the runtime into the model, so the
// library exports the pq_* C API; this tool dlopen()s it, looks the API up
// and runs the same CLI as a statically linked model executable.
//
//===----------------------------------------------------------------------===//

#include "pquant/cli.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <string>

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') {
    bool help =
        argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    fprintf(help ? stdout : stderr,
            "usage: pquant-run MODEL.so [--weights FILE] (--prompt TEXT | "
            "--tokens LIST | --score FILE) ...\n"
            "Runs a model built by pquant-compile --emit=shared; "
            "`pquant-run MODEL.so --help` lists the flags.\n");
    return help ? 0 : 1;
  }
  // dlopen() searches the library path for a bare name; users mean a file.
  const char *model = argv[1];
  std::string path = strchr(model, '/') ? model : std::string("./") + model;
  void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    fprintf(stderr, "pquant-run: error: cannot load %s: %s\n", model,
            dlerror());
    return 1;
  }

  pq_api api;
#define PQ_CLI_LOOKUP(name)                                                    \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(library, #name));      \
  if (!api.name) {                                                             \
    fprintf(stderr,                                                            \
            "pquant-run: error: %s does not export %s: is it a model built "   \
            "by pquant-compile --emit=shared?\n",                              \
            model, #name);                                                     \
    dlclose(library);                                                          \
    return 1;                                                                  \
  }
  PQ_CLI_FUNCTIONS(PQ_CLI_LOOKUP)
#undef PQ_CLI_LOOKUP

  std::string program = std::string("pquant-run ") + model;
  int status = pq_cli_main(program.c_str(), model, argc - 2, argv + 2, &api);
  // The model stays loaded: its runtime's worker threads run its code and
  // wait on its data until the process exits, so unloading it here would
  // crash them (test/Runtime/pquant-run-exit.test).
  return status;
}
