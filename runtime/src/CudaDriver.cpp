//===- CudaDriver.cpp - The CUDA driver API, opened at run time -----------===//

#include "CudaDriver.h"

#include "Error.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

namespace {

pq::cuda::Driver driver;
pq_status loadStatus = PQ_OK;
char loadError[512];
pthread_once_t once = PTHREAD_ONCE_INIT;

/// Looks up `name`, else `fallback` (may be NULL), in libcuda.
bool resolve(void *library, void *slot, const char *name, const char *fallback) {
  void *symbol = dlsym(library, name);
  if (!symbol && fallback)
    symbol = dlsym(library, fallback);
  *static_cast<void **>(slot) = symbol;
  return symbol != nullptr;
}

void load() {
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    snprintf(loadError, sizeof loadError,
             "cannot load the CUDA driver libcuda.so.1 (%s): a GPU model needs "
             "an NVIDIA GPU and its driver",
             why ? why : "not found");
    loadStatus = PQ_ERROR_DEVICE;
    return;
  }
  struct {
    void *slot;
    const char *name;
    const char *fallback;
  } const functions[] = {
      {&driver.cuInit, "cuInit", nullptr},
      {&driver.cuDriverGetVersion, "cuDriverGetVersion", nullptr},
      {&driver.cuGetErrorName, "cuGetErrorName", nullptr},
      {&driver.cuGetErrorString, "cuGetErrorString", nullptr},
      {&driver.cuDeviceGetCount, "cuDeviceGetCount", nullptr},
      {&driver.cuDeviceGet, "cuDeviceGet", nullptr},
      {&driver.cuDeviceGetName, "cuDeviceGetName", nullptr},
      {&driver.cuDeviceGetAttribute, "cuDeviceGetAttribute", nullptr},
      {&driver.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", nullptr},
      {&driver.cuDevicePrimaryCtxRelease,
       "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"},
      {&driver.cuCtxSetCurrent, "cuCtxSetCurrent", nullptr},
      {&driver.cuModuleLoadDataEx, "cuModuleLoadDataEx", nullptr},
      {&driver.cuModuleUnload, "cuModuleUnload", nullptr},
      {&driver.cuModuleGetFunction, "cuModuleGetFunction", nullptr},
      {&driver.cuMemAlloc, "cuMemAlloc_v2", nullptr},
      {&driver.cuMemFree, "cuMemFree_v2", nullptr},
      {&driver.cuMemAllocHost, "cuMemAllocHost_v2", nullptr},
      {&driver.cuMemFreeHost, "cuMemFreeHost", nullptr},
      {&driver.cuMemcpyHtoD, "cuMemcpyHtoD_v2", nullptr},
      {&driver.cuMemcpyDtoH, "cuMemcpyDtoH_v2", nullptr},
      {&driver.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", nullptr},
      {&driver.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", nullptr},
      {&driver.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", nullptr},
      {&driver.cuMemsetD8, "cuMemsetD8_v2", nullptr},
      {&driver.cuStreamCreate, "cuStreamCreate", nullptr},
      {&driver.cuStreamDestroy, "cuStreamDestroy_v2", nullptr},
      {&driver.cuStreamSynchronize, "cuStreamSynchronize", nullptr},
      {&driver.cuLaunchKernel, "cuLaunchKernel", nullptr},
      {&driver.cuLaunchKernelEx, "cuLaunchKernelEx", nullptr},
      {&driver.cuLaunchCooperativeKernel, "cuLaunchCooperativeKernel", nullptr},
      {&driver.cuOccupancyMaxActiveBlocksPerMultiprocessor,
       "cuOccupancyMaxActiveBlocksPerMultiprocessor", nullptr},
      {&driver.cuEventCreate, "cuEventCreate", nullptr},
      {&driver.cuEventDestroy, "cuEventDestroy_v2", nullptr},
      {&driver.cuEventRecord, "cuEventRecord", nullptr},
      {&driver.cuEventSynchronize, "cuEventSynchronize", nullptr},
      {&driver.cuEventElapsedTime,
       "cuEventElapsedTime_v2", "cuEventElapsedTime"},
      {&driver.cuStreamBeginCapture, "cuStreamBeginCapture_v2", nullptr},
      {&driver.cuStreamEndCapture, "cuStreamEndCapture", nullptr},
      {&driver.cuGraphInstantiateWithFlags,
       "cuGraphInstantiateWithFlags", nullptr},
      {&driver.cuGraphLaunch, "cuGraphLaunch", nullptr},
      {&driver.cuGraphExecDestroy, "cuGraphExecDestroy", nullptr},
      {&driver.cuGraphDestroy, "cuGraphDestroy", nullptr},
  };
  for (const auto &function : functions)
    if (!resolve(library, function.slot, function.name, function.fallback)) {
      snprintf(loadError, sizeof loadError,
               "the CUDA driver libcuda.so.1 has no %s: the driver is too old "
               "(CUDA 12 or newer is needed)",
               function.name);
      loadStatus = PQ_ERROR_DEVICE;
      return;
    }
  // The library stays loaded for the life of the process.
  if (pq::cuda::CUresult result = driver.cuInit(0)) {
    const char *name = "unknown";
    const char *text = "";
    driver.cuGetErrorName(result, &name);
    driver.cuGetErrorString(result, &text);
    snprintf(loadError, sizeof loadError,
             "cuInit failed: %s: %s (is an NVIDIA GPU present and its driver "
             "loaded?)",
             name ? name : "unknown", text ? text : "");
    loadStatus = PQ_ERROR_DEVICE;
  }
}

} // namespace

pq_status pq::cuda::loadDriver(const Driver *&out) {
  pthread_once(&once, load);
  if (loadStatus)
    return fail(loadStatus, "%s", loadError);
  out = &driver;
  return PQ_OK;
}

pq_status pq::cuda::check(CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return PQ_OK;
  const char *name = nullptr, *text = nullptr;
  if (driver.cuGetErrorName)
    driver.cuGetErrorName(result, &name);
  if (driver.cuGetErrorString)
    driver.cuGetErrorString(result, &text);
  return fail(PQ_ERROR_DEVICE, "%s failed: %s (%d): %s", what,
              name ? name : "unknown CUDA error", result, text ? text : "");
}
