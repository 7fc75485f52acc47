//===- checkpoint-fuzzer.cpp - Fuzz the checkpoint reader -----------------===//
//
// One input is a whole checkpoint directory, config.json and
// model.safetensors, loaded with pquant::Checkpoint::load as pquant-import
// and pquant-compile load one. The input is
//
//   FLAGS CONFIG "\n#safetensors\n" WEIGHTS
//
// FLAGS is one byte: bit 0 set means WEIGHTS is
// `HEADER "\n#data\n" DATA` and the fuzzer writes the 8-byte header length
// itself (so mutations that grow or shrink the JSON header keep it framed);
// bit 1 allows latent checkpoints (pquant-import --latent). Otherwise
// WEIGHTS is the file's bytes as they are. A load must succeed or fail with
// an error message; on success every tensor the model needs must be there
// and lie inside the file.
//
//===----------------------------------------------------------------------===//

#include "pquant/Import/Checkpoint.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Endian.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>

using namespace pquant;

namespace {

std::string directory;

void writeFile(const std::string &path, llvm::StringRef bytes) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, bytes.data(), bytes.size()) !=
                    static_cast<ssize_t>(bytes.size())) {
    perror(path.c_str());
    abort();
  }
  close(fd);
}

void removeDirectory() {
  unlink((directory + "/config.json").c_str());
  unlink((directory + "/model.safetensors").c_str());
  rmdir(directory.c_str());
}

/// Reads the first and last byte of `tensor` so ASan sees where it points.
unsigned touch(const TensorView &tensor) {
  if (tensor.bytes.empty())
    return 0;
  return tensor.bytes.front() + tensor.bytes.back();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const char *tmp = getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") +
                        "/pquant-checkpoint-fuzzer-XXXXXX";
  if (!mkdtemp(pattern.data())) {
    perror("mkdtemp");
    abort();
  }
  directory = pattern;
  atexit(removeDirectory);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  const uint8_t flags = data[0];
  llvm::StringRef input(reinterpret_cast<const char *>(data + 1), size - 1);
  auto [config, weights] = input.split("\n#safetensors\n");
  std::string file;
  if (flags & 1) {
    auto [header, tensorData] = weights.split("\n#data\n");
    char length[8];
    llvm::support::endian::write64le(length, header.size());
    file.append(length, 8);
    file += header;
    file += tensorData;
  } else {
    file = weights.str();
  }
  writeFile(directory + "/config.json", config);
  writeFile(directory + "/model.safetensors", file);

  llvm::Expected<std::unique_ptr<Checkpoint>> checkpoint =
      Checkpoint::load(directory, /*allowLatent=*/flags & 2);
  if (!checkpoint) {
    std::string message = llvm::toString(checkpoint.takeError());
    if (message.empty())
      abort(); // every refusal must say why
    return 0;
  }
  // Loaded: every weight and scale the model reads exists and is readable.
  unsigned sum = 0;
  for (const WeightSpec &spec : weightSpecs((*checkpoint)->getConfig())) {
    sum += touch((*checkpoint)->get(spec.name));
    if (spec.kind == WeightKind::Binary || spec.kind == WeightKind::Int8)
      sum += touch((*checkpoint)->get(scaleName(spec.name)));
  }
  volatile unsigned sink = sum;
  (void)sink;
  return 0;
}
