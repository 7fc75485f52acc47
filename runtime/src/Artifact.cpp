//===- Artifact.cpp - Mapping and verifying a .pqw artifact ---------------===//
//
// The checks run from cheap to expensive and from structure to meaning: the
// FlatBuffer, the data section's bounds, the config and tensor table, then
// whether the artifact fits this code (architecture, layout id), and last
// the checksum, which reads every data byte.
//
//===----------------------------------------------------------------------===//

#include "Artifact.h"
#include "Error.h"

#include "pquant/Artifact/DataChecksum.h"
#include "pquant/Artifact/pqw_generated.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace pquant::artifact;

namespace {

constexpr uint32_t kFormatVersion = 2;
constexpr uint64_t kAlignment = 64;

#if defined(__x86_64__)
constexpr const char *kHostArch = "x86_64";
#elif defined(__aarch64__)
constexpr const char *kHostArch = "aarch64";
#else
#error "the pquant runtime supports x86_64 and aarch64 hosts"
#endif

bool verifyModel(const uint8_t *buffer, size_t size) {
  flatbuffers::Verifier verifier(buffer, size);
  return VerifyModelBuffer(verifier);
}

/// Whether the architecture (first component) of the LLVM triple `triple` is
/// the one this code runs on; `arch` receives it for messages.
bool tripleMatchesHost(const flatbuffers::String &triple, char (&arch)[32]) {
  const char *dash =
      static_cast<const char *>(memchr(triple.data(), '-', triple.size()));
  size_t length = dash ? dash - triple.data() : triple.size();
  snprintf(arch, sizeof arch, "%.*s", static_cast<int>(length), triple.data());
  if (strcmp(arch, "amd64") == 0)
    return strcmp(kHostArch, "x86_64") == 0;
  if (strcmp(arch, "arm64") == 0)
    return strcmp(kHostArch, "aarch64") == 0;
  return strcmp(arch, kHostArch) == 0;
}

size_t dtypeSize(DType dtype) {
  switch (dtype) {
  case DType_I8:
    return 1;
  case DType_F16:
  case DType_I16:
    return 2;
  case DType_F32:
  case DType_I32:
    return 4;
  case DType_I64:
    return 8;
  }
  return 0; // not a DType this runtime knows
}

/// Checks the hyper-parameters with the rules of the checkpoint's config
/// (python/pquant/checkpoint.py) and converts them, so no division or size
/// computed from them can fail later.
pq_status readConfig(const char *path, const ModelConfig *config,
                     pq_config &out) {
  if (!config)
    return pq::failIn(path, PQ_ERROR_FORMAT, "no model config");
  struct {
    const char *name;
    int64_t value;
  } const counts[] = {
      {"vocab_size", config->vocab_size()},
      {"hidden_size", config->hidden_size()},
      {"num_layers", config->num_layers()},
      {"num_heads", config->num_heads()},
      {"num_kv_heads", config->num_kv_heads()},
      {"ffn_bin_size", config->ffn_bin_size()},
      {"ffn_hp_size", config->ffn_hp_size()},
      {"num_experts", config->num_experts()},
      {"top_k", config->top_k()},
      {"max_seq_len", config->max_seq_len()},
  };
  for (const auto &count : counts)
    if (count.value < 1)
      return pq::failIn(path, PQ_ERROR_FORMAT,
                        "config: %s = %lld must be an integer >= 1", count.name,
                        static_cast<long long>(count.value));
  struct {
    const char *name;
    double value;
  } const reals[] = {{"rope_theta", config->rope_theta()},
                     {"rms_norm_eps", config->rms_norm_eps()}};
  for (const auto &real : reals)
    if (!(real.value > 0 && isfinite(real.value)))
      return pq::failIn(path, PQ_ERROR_FORMAT,
                        "config: %s = %g must be a positive finite number",
                        real.name, real.value);

  out.vocab_size = config->vocab_size();
  out.hidden_size = config->hidden_size();
  out.num_layers = config->num_layers();
  out.num_heads = config->num_heads();
  out.num_kv_heads = config->num_kv_heads();
  out.ffn_bin_size = config->ffn_bin_size();
  out.ffn_hp_size = config->ffn_hp_size();
  out.num_experts = config->num_experts();
  out.top_k = config->top_k();
  out.max_seq_len = config->max_seq_len();
  out.rope_theta = config->rope_theta();
  out.rms_norm_eps = config->rms_norm_eps();
  out.gate_weighting = config->gate_weighting();
  out.subln = config->subln();
  out.tie_embeddings = config->tie_embeddings();
  out.head_dim = out.hidden_size / out.num_heads;

  if (out.hidden_size % out.num_heads || out.head_dim % 2)
    return pq::failIn(
        path, PQ_ERROR_FORMAT,
        "config: hidden_size %lld must be num_heads %lld times an even head "
        "size",
        static_cast<long long>(out.hidden_size),
        static_cast<long long>(out.num_heads));
  if (out.num_heads % out.num_kv_heads)
    return pq::failIn(path, PQ_ERROR_FORMAT,
                      "config: num_heads %lld must be a multiple of "
                      "num_kv_heads %lld",
                      static_cast<long long>(out.num_heads),
                      static_cast<long long>(out.num_kv_heads));
  if (out.top_k > out.num_experts)
    return pq::failIn(path, PQ_ERROR_FORMAT,
                      "config: top_k %lld exceeds num_experts %lld",
                      static_cast<long long>(out.top_k),
                      static_cast<long long>(out.num_experts));
  // Token ids are int32 in the compiled code's interface.
  if (out.vocab_size > INT32_MAX)
    return pq::failIn(path, PQ_ERROR_FORMAT,
                      "config: vocab_size %lld does not fit int32 token ids",
                      static_cast<long long>(out.vocab_size));
  return PQ_OK;
}

/// Checks that every tensor is well-formed and lies inside the data section.
pq_status checkTensors(const char *path, const Model &model) {
  const auto *tensors = model.tensors();
  if (!tensors)
    return PQ_OK;
  const uint64_t dataSize = model.data_size();
  for (flatbuffers::uoffset_t i = 0; i < tensors->size(); ++i) {
    const Tensor &tensor = *tensors->Get(i);
    char what[128]; // how messages name the tensor
    snprintf(what, sizeof what, "tensor %u '%.80s'", i,
             tensor.name() ? tensor.name()->c_str() : "");
    using ull = unsigned long long;

    size_t elementSize = dtypeSize(tensor.dtype());
    if (!elementSize)
      return pq::failIn(path, PQ_ERROR_FORMAT, "%s: unknown dtype %d", what,
                        tensor.dtype());
    if (!tensor.shape())
      return pq::failIn(path, PQ_ERROR_FORMAT, "%s: no shape", what);
    // The FlatBuffers verifier checks the alignment of a vector's length,
    // not of its 8-byte elements; reading misaligned ones is undefined.
    if (reinterpret_cast<uintptr_t>(tensor.shape()->data()) % alignof(int64_t))
      return pq::failIn(path, PQ_ERROR_FORMAT,
                        "%s: shape is not 8-byte aligned", what);
    uint64_t bytes = elementSize;
    for (int64_t dim : *tensor.shape()) {
      if (dim < 0)
        return pq::failIn(path, PQ_ERROR_FORMAT, "%s: negative dimension %lld",
                          what, static_cast<long long>(dim));
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes))
        return pq::failIn(path, PQ_ERROR_FORMAT,
                          "%s: shape too large (its size overflows 64 bits)",
                          what);
    }
    if (bytes != tensor.size())
      return pq::failIn(path, PQ_ERROR_FORMAT,
                        "%s: its shape holds %llu bytes, the table says %llu",
                        what, static_cast<ull>(bytes),
                        static_cast<ull>(tensor.size()));
    if (tensor.offset() % kAlignment)
      return pq::failIn(path, PQ_ERROR_FORMAT,
                        "%s: offset %llu is not 64-byte aligned", what,
                        static_cast<ull>(tensor.offset()));
    if (tensor.offset() > dataSize ||
        tensor.size() > dataSize - tensor.offset())
      return pq::failIn(path, PQ_ERROR_FORMAT,
                        "%s: bytes [%llu, +%llu) lie outside the data section "
                        "(%llu bytes)",
                        what, static_cast<ull>(tensor.offset()),
                        static_cast<ull>(tensor.size()),
                        static_cast<ull>(dataSize));

    if (const PackedLayout *packed = tensor.packed()) {
      int word = packed->word();
      if (word != 8 && word != 16 && word != 32 && word != 64)
        return pq::failIn(path, PQ_ERROR_FORMAT,
                          "%s: packed into %d-bit words (expected 8, 16, 32 "
                          "or 64)",
                          what, word);
      if (packed->rows() < 1 || packed->cols() < 1 || packed->tile_rows() < 1 ||
          packed->tile_words() < 1)
        return pq::failIn(path, PQ_ERROR_FORMAT,
                          "%s: packed layout sizes must be >= 1", what);
      uint64_t bits;
      if (__builtin_mul_overflow(static_cast<uint64_t>(packed->rows()),
                                 static_cast<uint64_t>(packed->cols()),
                                 &bits) ||
          bits / 8 + (bits % 8 != 0) > tensor.size())
        return pq::failIn(path, PQ_ERROR_FORMAT,
                          "%s: %llu bytes cannot hold %lld x %lld packed bits",
                          what, static_cast<ull>(tensor.size()),
                          static_cast<long long>(packed->rows()),
                          static_cast<long long>(packed->cols()));
    }
  }
  return PQ_OK;
}

/// Everything after mapping: `file` holds `size` bytes of `path`.
pq_status verify(const char *path, const uint8_t *file, size_t size,
                 const pq::CodeLayout &code, pq::Artifact &out) {
  if (size < 8)
    return pq::failIn(path, PQ_ERROR_FORMAT,
                      "truncated: %zu bytes, not even a .pqw header", size);
  if (!ModelBufferHasIdentifier(file)) {
    char id[4 * 4 + 1] = {};
    for (int i = 0; i < 4; ++i) {
      uint8_t c = file[4 + i];
      snprintf(id + strlen(id), 5, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
    }
    return pq::failIn(path, PQ_ERROR_FORMAT,
                      "not a .pqw artifact (file identifier \"%s\", expected "
                      "\"%s\")",
                      id, ModelIdentifier());
  }
  // The data section's place is in the FlatBuffer, so verify first over the
  // whole file (up to what 32-bit FlatBuffer offsets can address), then again
  // over [0, data_offset) once that is known: the header must end before it
  // (as it does if data_offset is past what the first pass covered).
  size_t headerLimit = size < FLATBUFFERS_MAX_BUFFER_SIZE
                           ? size
                           : FLATBUFFERS_MAX_BUFFER_SIZE - 1;
  if (!verifyModel(file, headerLimit))
    return pq::failIn(path, PQ_ERROR_FORMAT,
                      "corrupt or truncated header (FlatBuffers verification "
                      "failed)");
  const Model &model = *GetModel(file);

  // Version 1 differed only in its data checksum (FNV-1a over bytes).
  if (model.format_version() != kFormatVersion) {
    bool known = model.format_version() >= 1;
    return pq::failIn(
        path, known ? PQ_ERROR_VERSION : PQ_ERROR_FORMAT,
        "format version %u; this runtime reads version %u%s",
        model.format_version(), kFormatVersion,
        model.format_version() > kFormatVersion
            ? " (the artifact is newer: use the pquant that wrote it)"
        : known ? " (the artifact is older: compile the model again)"
                : "");
  }

  const uint64_t dataOffset = model.data_offset(), dataSize = model.data_size();
  if (dataOffset % kAlignment)
    return pq::failIn(path, PQ_ERROR_FORMAT,
                      "data offset %llu is not 64-byte aligned",
                      static_cast<unsigned long long>(dataOffset));
  if (dataOffset > size || dataSize > size - dataOffset)
    return pq::failIn(path, PQ_ERROR_FORMAT,
                      "truncated: the data section [%llu, +%llu) ends past "
                      "the end of the file (%zu bytes)",
                      static_cast<unsigned long long>(dataOffset),
                      static_cast<unsigned long long>(dataSize), size);
  if (dataOffset < headerLimit && !verifyModel(file, dataOffset))
    return pq::failIn(path, PQ_ERROR_FORMAT,
                      "the header overlaps the data section at offset %llu",
                      static_cast<unsigned long long>(dataOffset));

  if (pq_status status = readConfig(path, model.config(), out.config))
    return status;
  if (pq_status status = checkTensors(path, model))
    return status;

  const Target *target = model.target();
  if (!target || !target->triple() || !target->triple()->size())
    return pq::failIn(path, PQ_ERROR_FORMAT, "no target triple");
  char arch[32];
  if (!tripleMatchesHost(*target->triple(), arch))
    return pq::failIn(path, PQ_ERROR_MISMATCH,
                      "compiled for %s (target %.80s), but this is an %s "
                      "machine",
                      arch, target->triple()->c_str(), kHostArch);
  if (model.layout_id() != code.layoutId)
    return pq::failIn(path, PQ_ERROR_MISMATCH,
                      "weight layout %016llx, but this model was compiled "
                      "for layout %016llx: use the .pqw written by the same "
                      "pquant-compile run",
                      static_cast<unsigned long long>(model.layout_id()),
                      static_cast<unsigned long long>(code.layoutId));
  // The code reads every byte it was compiled for; a shorter section would
  // let it read past the mapping whatever the checksum says.
  if (dataSize != code.dataSize)
    return pq::failIn(path, PQ_ERROR_MISMATCH,
                      "data section of %llu bytes, but this model reads %llu",
                      static_cast<unsigned long long>(dataSize),
                      static_cast<unsigned long long>(code.dataSize));
  // The cache is allocated from the config but indexed by code compiled for
  // one shape: a config edited by hand (it is outside the checksum) would
  // let the code write past it.
  if (code.cacheShape) {
    int64_t shape[4];
    pq::kvCacheShape(out.config, shape);
    const char *names[] = {"num_layers", "max_seq_len", "num_kv_heads",
                           "head_dim"};
    for (int i = 0; i < 4; ++i)
      if (static_cast<uint64_t>(shape[i]) != code.cacheShape[i])
        return pq::failIn(path, PQ_ERROR_MISMATCH,
                          "config: %s is %lld, but this model was compiled "
                          "for %llu: use the .pqw written by the same "
                          "pquant-compile run",
                          names[i], static_cast<long long>(shape[i]),
                          static_cast<unsigned long long>(code.cacheShape[i]));
  }

  const uint8_t *data = file + dataOffset;
  uint64_t checksum = pq_data_checksum_of(data, dataSize);
  if (checksum != model.data_checksum())
    return pq::failIn(path, PQ_ERROR_CHECKSUM,
                      "data checksum %016llx, but the header records %016llx: "
                      "the file is corrupted",
                      static_cast<unsigned long long>(checksum),
                      static_cast<unsigned long long>(model.data_checksum()));
  out.data = data;
  out.dataSize = dataSize;
  return PQ_OK;
}

} // namespace

pq_status pq::openArtifact(const char *path, const CodeLayout &code,
                           Artifact &out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return failIn(path, PQ_ERROR_IO, "cannot open: %s", strerror(errno));
  struct stat info;
  if (fstat(fd, &info) != 0) {
    int error = errno;
    close(fd);
    return failIn(path, PQ_ERROR_IO, "cannot stat: %s", strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    close(fd);
    return failIn(path, PQ_ERROR_IO, "not a regular file");
  }
  size_t size = static_cast<size_t>(info.st_size);
  // mmap cannot map 0 bytes; verify() rejects such a file by its size.
  // Populated at once: the checksum reads every page anyway, and one call
  // maps them faster than a fault per 64 KB does (1.3B shape, 8-token
  // prompt and 1 token: 0.26 -> 0.16 s wall, medians of 5 paired runs).
  void *file = size ? mmap(nullptr, size, PROT_READ,
                           MAP_PRIVATE | MAP_POPULATE, fd, 0)
                    : nullptr;
  int error = errno;
  close(fd);
  if (file == MAP_FAILED)
    return failIn(path, PQ_ERROR_IO, "cannot map: %s", strerror(error));

  Artifact artifact;
  artifact.file = static_cast<const uint8_t *>(file);
  artifact.fileSize = size;
  if (pq_status status =
          verify(path, artifact.file, size, code, artifact)) {
    closeArtifact(artifact);
    return status;
  }
  out = artifact;
  return PQ_OK;
}

void pq::closeArtifact(Artifact &artifact) {
  if (artifact.file)
    munmap(const_cast<uint8_t *>(artifact.file), artifact.fileSize);
  artifact = Artifact();
}
