//===- artifact-fuzzer.cpp - Fuzz the .pqw loader and verifier ------------===//
//
// The input is a .pqw file. It is opened twice:
//
//  - with pq::openArtifact for code of the weight layout and data size the
//    file itself records (when its FlatBuffer verifies), so that every check
//    up to the checksum runs, and a file that passes is read at the first
//    and last byte of its data section and of every tensor;
//  - with pq_model_open, the C API, for the TEST STUB model
//    (test/Runtime/Inputs/stub_model.c) linked in: the compatibility checks
//    and, for a stub artifact, the KV cache allocation and one prefill.
//
// A refusal must come with a message that starts with the path.
//
//===----------------------------------------------------------------------===//

#include "Artifact.h"

#include "pquant/Artifact/pqw_generated.h"
#include "pquant/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace pquant::artifact;

namespace {

int fd = -1;
char path[64];

[[noreturn]] void die(const char *what) {
  fprintf(stderr, "artifact-fuzzer: %s\n", what);
  abort();
}

void checkMessage() {
  if (strncmp(pq_last_error(), path, strlen(path)) != 0)
    die("a refusal whose message does not start with the path");
}

unsigned touch(const uint8_t *bytes, uint64_t size) {
  return size ? bytes[0] + bytes[size - 1] : 0;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  // A memory file: no disk traffic, and a regular file for the loader.
  fd = memfd_create("pquant-artifact-fuzzer", MFD_CLOEXEC);
  if (fd < 0)
    die("memfd_create failed");
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
    die("cannot write the memory file");

  pq::CodeLayout code = {0, 0};
  flatbuffers::Verifier verifier(data, size);
  if (size >= 8 && ModelBufferHasIdentifier(data) &&
      VerifyModelBuffer(verifier)) {
    const Model *model = GetModel(data);
    code = {model->layout_id(), model->data_size()};
  }
  pq::Artifact artifact;
  if (pq_status status = pq::openArtifact(path, code, artifact)) {
    (void)status;
    checkMessage();
  } else {
    unsigned sum = touch(artifact.data, artifact.dataSize);
    const Model *model = GetModel(artifact.file);
    if (model->tensors())
      for (const Tensor *tensor : *model->tensors())
        sum += touch(artifact.data + tensor->offset(), tensor->size());
    volatile unsigned sink = sum;
    (void)sink;
    pq::closeArtifact(artifact);
  }

  pq_model *model = nullptr;
  if (pq_model_open(path, &model) != PQ_OK) {
    checkMessage();
    return 0;
  }
  // The stub (unlike compiled code, which fixes the cache shape) writes a
  // row in every layer the config claims: past 256 MB of cache that measures
  // the machine's memory, not the runtime.
  const pq_config &config = *pq_model_config(model);
  double cacheBytes = 8.0 * double(config.num_layers) *
                      double(config.max_seq_len) *
                      double(config.num_kv_heads) * double(config.head_dim);
  if (cacheBytes > 256.0 * (1 << 20)) {
    pq_model_close(model);
    return 0;
  }
  // The stub returns 256 logits; the runtime must refuse other shapes
  // before it copies them.
  int32_t token = 1;
  float logits[256];
  pq_prefill(model, &token, 1, logits);
  pq_model_close(model);
  return 0;
}
