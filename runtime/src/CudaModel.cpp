//===- CudaModel.cpp - Running a compiled model on a GPU ------------------===//

#include "CudaModel.h"

#include "CudaDevice.h"
#include "Error.h"

#include "pquant/Artifact/pqw_generated.h"

#include <new>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

using namespace pq::cuda;

extern "C" {
// What the compiled GPU model object defines (pquant-lower-to-gpu).
void pquant_gpu_entry_prefill(void *ctx, int64_t count, const uint64_t *buffers);
void pquant_gpu_entry_decode(void *ctx, int64_t count, const uint64_t *buffers);
extern const uint64_t pquant_gpu_kernels_id;
extern const int32_t pquant_gpu_kernel_count;
}

struct pq::cuda::Model {
  Device *device = nullptr;
  LaunchContext prefill, decode;
  CUdeviceptr weights = 0, cache = 0, tokens = 0, position = 0;
  CUdeviceptr decodeLogits = 0, prefillLogits = 0;
  int64_t prefillRows = 0;
  size_t cacheBytes = 0;
  int64_t vocab = 0, maxTokens = 0;
  /// Pinned host memory: the position (i64), the token (i32), then the
  /// decode logits.
  void *pinned = nullptr;
  CUgraphExec graph = nullptr;
  bool useGraphs = true;
  /// Kernel names, for the profile (PQUANT_CUDA_PROFILE=1).
  const char **names = nullptr;
  int64_t decodes = 0;
  int64_t decodeLaunches = 0; ///< kernels of a decode step
};

namespace {

uint64_t fnv1a(uint64_t hash, const void *data, size_t size) {
  const auto *bytes = static_cast<const uint8_t *>(data);
  for (size_t i = 0; i < size; ++i)
    hash = (hash ^ bytes[i]) * 1099511628211ull;
  return hash;
}

/// The id the compiler gives a PTX module and its kernel names.
uint64_t kernelsId(const pquant::artifact::GpuCode &gpu) {
  uint64_t hash = 14695981039346656037ull;
  hash = fnv1a(hash, gpu.ptx()->c_str(), gpu.ptx()->size() + 1);
  for (const flatbuffers::String *name : *gpu.kernels())
    hash = fnv1a(hash, name->c_str(), name->size() + 1);
  return hash;
}

pq_status allocate(const Driver &driver, CUdeviceptr &out, size_t bytes,
                   const char *what) {
  char call[160];
  snprintf(call, sizeof call, "cuMemAlloc(%zu bytes for %s)", bytes, what);
  return check(driver.cuMemAlloc(&out, bytes ? bytes : 1), call);
}

} // namespace

pq_status pq::cuda::openModel(const char *path, const pq::Artifact &artifact,
                              Model *&out) {
  out = nullptr;
  const pquant::artifact::Model &header = *pquant::artifact::GetModel(artifact.file);
  const pquant::artifact::GpuCode *gpu = header.gpu();
  if (!gpu || !gpu->ptx() || !gpu->kernels() || !gpu->chip())
    return failIn(path, PQ_ERROR_MISMATCH,
                  "the artifact holds no GPU kernels, but this model runs on a "
                  "GPU: use the .pqw written by the same pquant-compile run");
  int32_t count = int32_t(gpu->kernels()->size());
  uint64_t id = kernelsId(*gpu);
  if (id != gpu->kernels_id())
    return failIn(path, PQ_ERROR_CHECKSUM,
                  "its GPU kernels hash to %016llx, but the header records "
                  "%016llx: the file is corrupted",
                  static_cast<unsigned long long>(id),
                  static_cast<unsigned long long>(gpu->kernels_id()));
  if (id != pquant_gpu_kernels_id || count != pquant_gpu_kernel_count)
    return failIn(path, PQ_ERROR_MISMATCH,
                  "GPU kernels %016llx (%d kernels), but this model was "
                  "compiled with kernels %016llx (%d): use the .pqw written by "
                  "the same pquant-compile run",
                  static_cast<unsigned long long>(id), count,
                  static_cast<unsigned long long>(pquant_gpu_kernels_id),
                  pquant_gpu_kernel_count);

  const char **names = static_cast<const char **>(malloc(sizeof(char *) * (count + 1)));
  void *memory = malloc(sizeof(Model));
  if (!names || !memory) {
    free(names);
    free(memory);
    return failIn(path, PQ_ERROR_MEMORY, "cannot allocate the GPU model");
  }
  for (int32_t i = 0; i < count; ++i)
    names[i] = gpu->kernels()->Get(i)->c_str();
  Device *device;
  pq_status status = openDevice(path, gpu->ptx()->c_str(), gpu->chip()->c_str(),
                                names, count, device);
  if (status) {
    free(names);
    free(memory);
    return status;
  }
  Model *model = new (memory) Model();
  model->names = names; // they point into the mapped artifact
  model->device = device;
  model->prefill.device = model->decode.device = device;
  const pq_config &config = artifact.config;
  model->vocab = config.vocab_size;
  model->maxTokens = config.max_seq_len;
  const char *graphs = getenv("PQUANT_CUDA_GRAPHS");
  model->useGraphs = !(graphs && strcmp(graphs, "0") == 0);
  // The decode step as one persistent kernel (slower than the graph of its
  // kernels for now; docs/gpu.md).
  const char *persistent = getenv("PQUANT_CUDA_PERSISTENT");
  model->decode.persistent = persistent && strcmp(persistent, "1") == 0;
  const Driver &driver = *device->driver;
  // Timing every launch: no graphs then.
  const char *profile = getenv("PQUANT_CUDA_PROFILE");
  if (profile && strcmp(profile, "0") != 0) {
    model->useGraphs = false;
    if ((status = startProfile(model->prefill)) || (status = startProfile(model->decode))) {
      closeModel(model);
      return status;
    }
  }

  auto fail = [&](pq_status status) {
    char message[1024];
    snprintf(message, sizeof message, "%s", pq_last_error());
    closeModel(model);
    return failIn(path, status, "%s", message);
  };
  // The KV cache: keys then values, [layers, max_seq_len, kv heads, head dim].
  uint64_t cacheFloats = 2;
  bool overflow = false;
  for (int64_t dim : {config.num_layers, config.max_seq_len, config.num_kv_heads,
                      config.head_dim})
    overflow |= __builtin_mul_overflow(cacheFloats, uint64_t(dim), &cacheFloats);
  if (overflow || cacheFloats > (uint64_t(1) << 40))
    return fail(pq::fail(PQ_ERROR_MEMORY, "the KV cache is too large"));
  model->cacheBytes = cacheFloats * sizeof(float);
  if ((status = allocate(driver, model->weights, artifact.dataSize, "the weights")) ||
      (status = check(driver.cuMemcpyHtoD(model->weights, artifact.data, artifact.dataSize),
                      "cuMemcpyHtoD (uploading the weights)")) ||
      (status = allocate(driver, model->cache, model->cacheBytes, "the KV cache")) ||
      (status = check(driver.cuMemsetD8(model->cache, 0, model->cacheBytes),
                      "cuMemsetD8 (clearing the KV cache)")) ||
      (status = allocate(driver, model->tokens, sizeof(int32_t) * config.max_seq_len,
                         "the tokens")) ||
      (status = allocate(driver, model->position, sizeof(int64_t), "the position")) ||
      (status = allocate(driver, model->decodeLogits, sizeof(float) * config.vocab_size,
                         "the logits")) ||
      (status = check(driver.cuMemAllocHost(&model->pinned,
                                            16 + sizeof(float) * config.vocab_size),
                      "cuMemAllocHost")))
    return fail(status);
  out = model;
  return PQ_OK;
}

void pq::cuda::closeModel(Model *model) {
  if (!model)
    return;
  const Driver &driver = *model->device->driver;
  driver.cuStreamSynchronize(model->device->stream);
  collectProfile(model->prefill);
  collectProfile(model->decode);
  reportProfile(model->prefill, model->names, "GPU profile, prefill");
  reportProfile(model->decode, model->names, "GPU profile, decode");
  free(model->names);
  if (model->graph)
    driver.cuGraphExecDestroy(model->graph);
  for (CUdeviceptr buffer : {model->weights, model->cache, model->tokens, model->position,
                             model->decodeLogits, model->prefillLogits})
    if (buffer)
      driver.cuMemFree(buffer);
  if (model->pinned)
    driver.cuMemFreeHost(model->pinned);
  releaseArena(model->prefill);
  releaseArena(model->decode);
  closeDevice(model->device);
  model->~Model();
  free(model);
}

pq_status pq::cuda::runModel(Model *model, bool decode, const int32_t *tokens,
                             int64_t count, int64_t position, float *&logits) {
  logits = nullptr;
  const Driver &driver = *model->device->driver;
  CUstream stream = model->device->stream;
  LaunchContext &context = decode ? model->decode : model->prefill;
  context.status = PQ_OK;
  const size_t rowBytes = sizeof(float) * model->vocab;
  if (count < 1 || count > model->maxTokens || (decode && count != 1))
    return pq::fail(PQ_ERROR_INTERNAL, "GPU model: %lld tokens",
                    static_cast<long long>(count));

  // Inputs: through pinned memory for decode (asynchronous, graph-friendly).
  auto *hostPosition = static_cast<int64_t *>(model->pinned);
  auto *hostToken = reinterpret_cast<int32_t *>(hostPosition + 1);
  auto *hostLogits = reinterpret_cast<float *>(hostPosition + 2);
  *hostPosition = position;
  pq_status status;
  if ((status = check(driver.cuMemcpyHtoDAsync(model->position, hostPosition,
                                               sizeof(int64_t), stream),
                      "cuMemcpyHtoDAsync (the position)")))
    return status;
  if (decode) {
    *hostToken = tokens[0];
    status = check(driver.cuMemcpyHtoDAsync(model->tokens, hostToken, sizeof(int32_t), stream),
                   "cuMemcpyHtoDAsync (the token)");
  } else {
    status = check(driver.cuMemcpyHtoDAsync(model->tokens, tokens,
                                            sizeof(int32_t) * count, stream),
                   "cuMemcpyHtoDAsync (the tokens)");
  }
  if (status)
    return status;

  CUdeviceptr out = model->decodeLogits;
  if (!decode) {
    if (count > model->prefillRows) {
      if ((status = check(driver.cuStreamSynchronize(stream), "cuStreamSynchronize")))
        return status;
      if (model->prefillLogits)
        driver.cuMemFree(model->prefillLogits);
      model->prefillLogits = 0;
      model->prefillRows = 0;
      if ((status = allocate(driver, model->prefillLogits, rowBytes * count, "the logits")))
        return status;
      model->prefillRows = count;
    }
    out = model->prefillLogits;
  }
  const uint64_t buffers[] = {model->weights, model->tokens, model->position,
                              model->cache, model->cache + model->cacheBytes / 2, out};

  if (!decode) {
    pquant_gpu_entry_prefill(&context, count, buffers);
  } else if (model->graph) {
    status = check(driver.cuGraphLaunch(model->graph, stream), "cuGraphLaunch (decode)");
  } else if (model->useGraphs && model->decodes > 0 && model->decodeLaunches > 1) {
    // The first decode step sized the scratch; capture the second (a step
    // of one launch, a persistent kernel, gains nothing from a graph).
    if ((status = check(driver.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                        "cuStreamBeginCapture")))
      return status;
    context.arena.frozen = true;
    pquant_gpu_entry_decode(&context, 1, buffers);
    CUgraph graph = nullptr;
    pq_status ended = check(driver.cuStreamEndCapture(stream, &graph), "cuStreamEndCapture");
    if (context.status || ended) {
      if (graph)
        driver.cuGraphDestroy(graph);
      return context.status ? context.status : ended;
    }
    status = check(driver.cuGraphInstantiateWithFlags(&model->graph, graph, 0),
                   "cuGraphInstantiateWithFlags (decode)");
    driver.cuGraphDestroy(graph);
    if (!status)
      status = check(driver.cuGraphLaunch(model->graph, stream), "cuGraphLaunch (decode)");
  } else {
    int64_t before = context.launches;
    pquant_gpu_entry_decode(&context, 1, buffers);
    model->decodeLaunches = context.launches - before;
  }
  if (status)
    return status;
  if (context.status)
    return context.status;
  if (decode)
    ++model->decodes;

  float *result = static_cast<float *>(malloc(rowBytes * count));
  if (!result)
    return pq::fail(PQ_ERROR_MEMORY, "cannot allocate %lld logits",
                    static_cast<long long>(count * model->vocab));
  if (decode) {
    status = check(driver.cuMemcpyDtoHAsync(hostLogits, out, rowBytes, stream),
                   "cuMemcpyDtoHAsync (the logits)");
    if (!status)
      status = check(driver.cuStreamSynchronize(stream), "running the decode step");
    collectProfile(context);
    if (!status)
      memcpy(result, hostLogits, rowBytes);
  } else {
    status = check(driver.cuStreamSynchronize(stream), "running the prefill");
    collectProfile(context);
    if (!status)
      status = check(driver.cuMemcpyDtoH(result, out, rowBytes * count),
                     "cuMemcpyDtoH (the logits)");
  }
  if (status) {
    free(result);
    return status;
  }
  logits = result;
  return PQ_OK;
}
