//===- CudaSession.cpp - Running compiled GPU code directly ----------------===//

#include "CudaSession.h"

#include "CudaDevice.h"
#include "Error.h"

#include <new>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

using namespace pq::cuda;

struct pq_gpu {
  LaunchContext context;
  const char *const *names = nullptr;
  CUevent events[16] = {};
  CUgraphExec graphs[8] = {};
  char name[192] = {};
};

namespace {

const Driver &driverOf(pq_gpu *gpu) { return *gpu->context.device->driver; }

} // namespace

pq_status pq_gpu_open(const char *ptx, const char *chip,
                      const char *const *kernels, int32_t count, pq_gpu **out) {
  if (!out || !ptx || (!kernels && count))
    return pq::fail(PQ_ERROR_ARGUMENT, "pq_gpu_open: a pointer is NULL");
  *out = nullptr;
  Device *device;
  if (pq_status status = openDevice("GPU", ptx, chip, kernels, count, device))
    return status;
  void *memory = malloc(sizeof(pq_gpu));
  if (!memory) {
    closeDevice(device);
    return pq::fail(PQ_ERROR_MEMORY, "cannot allocate the GPU session");
  }
  pq_gpu *gpu = new (memory) pq_gpu();
  gpu->context.device = device;
  gpu->names = kernels;
  snprintf(gpu->name, sizeof gpu->name, "%s (sm_%d%d)", device->name,
           device->major, device->minor);
  *out = gpu;
  return PQ_OK;
}

void pq_gpu_close(pq_gpu *gpu) {
  if (!gpu)
    return;
  const Driver &driver = driverOf(gpu);
  driver.cuStreamSynchronize(gpu->context.device->stream);
  for (CUevent event : gpu->events)
    if (event)
      driver.cuEventDestroy(event);
  for (CUgraphExec graph : gpu->graphs)
    if (graph)
      driver.cuGraphExecDestroy(graph);
  pq_gpu_profile_stop(gpu);
  releaseArena(gpu->context);
  closeDevice(gpu->context.device);
  gpu->~pq_gpu();
  free(gpu);
}

const char *pq_gpu_name(const pq_gpu *gpu) { return gpu ? gpu->name : ""; }

void *pq_gpu_context(pq_gpu *gpu) { return gpu ? &gpu->context : nullptr; }

pq_status pq_gpu_alloc(pq_gpu *gpu, size_t bytes, uint64_t *device) {
  CUdeviceptr pointer = 0;
  char what[64];
  snprintf(what, sizeof what, "cuMemAlloc(%zu bytes)", bytes);
  if (pq_status status = check(driverOf(gpu).cuMemAlloc(&pointer, bytes ? bytes : 1), what))
    return status;
  *device = pointer;
  return PQ_OK;
}

void pq_gpu_free(pq_gpu *gpu, uint64_t device) {
  if (device)
    driverOf(gpu).cuMemFree(device);
}

pq_status pq_gpu_upload(pq_gpu *gpu, uint64_t device, const void *host, size_t bytes) {
  return check(driverOf(gpu).cuMemcpyHtoD(device, host, bytes), "cuMemcpyHtoD");
}

pq_status pq_gpu_download(pq_gpu *gpu, void *host, uint64_t device, size_t bytes) {
  if (pq_status status = pq_gpu_sync(gpu))
    return status;
  return check(driverOf(gpu).cuMemcpyDtoH(host, device, bytes), "cuMemcpyDtoH");
}

pq_status pq_gpu_copy(pq_gpu *gpu, uint64_t target, uint64_t source, size_t bytes) {
  return check(driverOf(gpu).cuMemcpyDtoDAsync(target, source, bytes,
                                               gpu->context.device->stream),
               "cuMemcpyDtoDAsync");
}

pq_status pq_gpu_sync(pq_gpu *gpu) {
  if (gpu->context.status)
    return gpu->context.status;
  return check(driverOf(gpu).cuStreamSynchronize(gpu->context.device->stream),
               "cuStreamSynchronize (running the kernels)");
}

pq_status pq_gpu_record(pq_gpu *gpu, int event) {
  if (event < 0 || event >= 16)
    return pq::fail(PQ_ERROR_ARGUMENT, "event %d is not in [0, 16)", event);
  const Driver &driver = driverOf(gpu);
  if (!gpu->events[event])
    if (pq_status status = check(driver.cuEventCreate(&gpu->events[event], 0), "cuEventCreate"))
      return status;
  return check(driver.cuEventRecord(gpu->events[event], gpu->context.device->stream),
               "cuEventRecord");
}

pq_status pq_gpu_elapsed(pq_gpu *gpu, int from, int to, float *ms) {
  if (from < 0 || from >= 16 || to < 0 || to >= 16 || !gpu->events[from] ||
      !gpu->events[to])
    return pq::fail(PQ_ERROR_ARGUMENT, "events %d and %d were not recorded", from, to);
  const Driver &driver = driverOf(gpu);
  if (pq_status status = check(driver.cuEventSynchronize(gpu->events[to]), "cuEventSynchronize"))
    return status;
  return check(driver.cuEventElapsedTime(ms, gpu->events[from], gpu->events[to]),
               "cuEventElapsedTime");
}

pq_status pq_gpu_skip_kernel(pq_gpu *gpu, const char *name) {
  gpu->context.skippedKernel = -1;
  if (!name)
    return PQ_OK;
  for (int32_t i = 0; i < gpu->context.device->count; ++i)
    if (strcmp(gpu->names[i], name) == 0) {
      gpu->context.skippedKernel = i;
      return PQ_OK;
    }
  return pq::fail(PQ_ERROR_ARGUMENT, "pq_gpu_skip_kernel: no kernel named '%.64s'", name);
}

pq_status pq_gpu_capture_begin(pq_gpu *gpu) {
  return check(driverOf(gpu).cuStreamBeginCapture(gpu->context.device->stream,
                                                  CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
               "cuStreamBeginCapture");
}

pq_status pq_gpu_capture_end(pq_gpu *gpu, int slot) {
  if (slot < 0 || slot >= 8)
    return pq::fail(PQ_ERROR_ARGUMENT, "graph slot %d is not in [0, 8)", slot);
  const Driver &driver = driverOf(gpu);
  CUgraph graph = nullptr;
  if (pq_status status = check(driver.cuStreamEndCapture(gpu->context.device->stream, &graph),
                               "cuStreamEndCapture"))
    return status;
  if (gpu->context.status) {
    driver.cuGraphDestroy(graph);
    return gpu->context.status;
  }
  if (gpu->graphs[slot])
    driver.cuGraphExecDestroy(gpu->graphs[slot]);
  gpu->graphs[slot] = nullptr;
  pq_status status = check(driver.cuGraphInstantiateWithFlags(&gpu->graphs[slot], graph, 0),
                           "cuGraphInstantiateWithFlags");
  driver.cuGraphDestroy(graph);
  gpu->context.arena.frozen = true;
  return status;
}

pq_status pq_gpu_replay(pq_gpu *gpu, int slot) {
  if (slot < 0 || slot >= 8 || !gpu->graphs[slot])
    return pq::fail(PQ_ERROR_ARGUMENT, "no graph in slot %d", slot);
  return check(driverOf(gpu).cuGraphLaunch(gpu->graphs[slot], gpu->context.device->stream),
               "cuGraphLaunch");
}

pq_status pq_gpu_profile_start(pq_gpu *gpu) {
  if (gpu->context.profile)
    return PQ_OK;
  return startProfile(gpu->context);
}

pq_status pq_gpu_profile_read(pq_gpu *gpu, const char *prefix, double *ms,
                              int64_t *launches) {
  if (!gpu->context.profile)
    return pq::fail(PQ_ERROR_ARGUMENT, "pq_gpu_profile_read: not profiling");
  if (pq_status status = pq_gpu_sync(gpu))
    return status;
  collectProfile(gpu->context);
  *ms = 0;
  *launches = 0;
  size_t length = strlen(prefix);
  for (int32_t i = 0; i < gpu->context.device->count; ++i)
    if (strncmp(gpu->names[i], prefix, length) == 0) {
      *ms += gpu->context.profile->milliseconds[i];
      *launches += gpu->context.profile->calls[i];
    }
  return PQ_OK;
}

void pq_gpu_profile_stop(pq_gpu *gpu) {
  if (!gpu->context.profile)
    return;
  // reportProfile frees it; its report is not wanted here.
  Profile *profile = gpu->context.profile;
  const Driver &driver = driverOf(gpu);
  driver.cuStreamSynchronize(gpu->context.device->stream);
  for (CUevent event : profile->events)
    if (event)
      driver.cuEventDestroy(event);
  free(profile->milliseconds);
  free(profile->calls);
  profile->~Profile();
  free(profile);
  gpu->context.profile = nullptr;
}
