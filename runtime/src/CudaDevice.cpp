//===- CudaDevice.cpp - A GPU, its kernels, and how compiled code launches ---===//

#include "CudaDevice.h"

#include "Error.h"

#include <algorithm>
#include <new>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

using namespace pq::cuda;

namespace {

constexpr int32_t kMaxParams = 64;

/// "sm_90" -> 90; 0 if it is not of that form.
int chipVersion(const char *chip) {
  if (!chip || strncmp(chip, "sm_", 3) != 0)
    return 0;
  char *end;
  long version = strtol(chip + 3, &end, 10);
  return *end == '\0' && version > 0 && version < 1000 ? int(version) : 0;
}

} // namespace

pq_status pq::cuda::openDevice(const char *what, const char *ptx,
                               const char *chip, const char *const *names,
                               int32_t count, Device *&out) {
  out = nullptr;
  const Driver *driver;
  if (pq_status status = loadDriver(driver)) {
    char message[1024];
    snprintf(message, sizeof message, "%s", pq_last_error());
    return failIn(what, status, "%s", message);
  }
  void *memory = malloc(sizeof(Device));
  if (!memory)
    return failIn(what, PQ_ERROR_MEMORY, "cannot allocate the GPU state");
  Device *device = new (memory) Device();
  device->driver = driver;
  auto fail = [&](pq_status status) {
    char message[1024];
    snprintf(message, sizeof message, "%s", pq_last_error());
    closeDevice(device);
    return failIn(what, status, "%s", message);
  };

  int devices = 0;
  if (pq_status status = check(driver->cuDeviceGetCount(&devices), "cuDeviceGetCount"))
    return fail(status);
  if (devices < 1) {
    closeDevice(device);
    return failIn(what, PQ_ERROR_DEVICE, "no CUDA device found");
  }
  if (pq_status status = check(driver->cuDeviceGet(&device->device, 0), "cuDeviceGet"))
    return fail(status);
  if (pq_status status = check(
          driver->cuDeviceGetName(device->name, sizeof device->name - 1, device->device),
          "cuDeviceGetName"))
    return fail(status);
  if (pq_status status =
          check(driver->cuDeviceGetAttribute(
                    &device->major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                    device->device),
                "cuDeviceGetAttribute"))
    return fail(status);
  if (pq_status status =
          check(driver->cuDeviceGetAttribute(
                    &device->minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                    device->device),
                "cuDeviceGetAttribute"))
    return fail(status);
  int required = chipVersion(chip);
  if (chip && !required) {
    closeDevice(device);
    return failIn(what, PQ_ERROR_FORMAT, "unknown GPU architecture '%.32s'", chip);
  }
  if (required > device->major * 10 + device->minor) {
    int major = device->major, minor = device->minor;
    char name[sizeof device->name];
    memcpy(name, device->name, sizeof name);
    closeDevice(device);
    return failIn(what, PQ_ERROR_MISMATCH,
                  "compiled for %s, but GPU 0 (%s) is sm_%d%d: recompile with "
                  "-target=sm_%d%d",
                  chip, name, major, minor, major, minor);
  }
  const char *programmatic = getenv("PQUANT_CUDA_PROGRAMMATIC");
  device->programmatic = required >= 90 && device->major >= 9 &&
                         !(programmatic && strcmp(programmatic, "0") == 0);
  if (pq_status status =
          check(driver->cuDeviceGetAttribute(&device->multiprocessors,
                                             CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                                             device->device),
                "cuDeviceGetAttribute"))
    return fail(status);
  if (pq_status status = check(
          driver->cuDevicePrimaryCtxRetain(&device->context, device->device),
          "cuDevicePrimaryCtxRetain"))
    return fail(status);
  if (pq_status status =
          check(driver->cuCtxSetCurrent(device->context), "cuCtxSetCurrent"))
    return fail(status);
  if (pq_status status = check(
          driver->cuStreamCreate(&device->stream, CU_STREAM_NON_BLOCKING),
          "cuStreamCreate"))
    return fail(status);

  // The driver compiles the PTX for this GPU; its log explains a failure.
  static char errorLog[8192];
  errorLog[0] = '\0';
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {errorLog, reinterpret_cast<void *>(sizeof errorLog - 1)};
  CUresult loaded = driver->cuModuleLoadDataEx(&device->module, ptx, 2, options, values);
  if (loaded != CUDA_SUCCESS) {
    check(loaded, "cuModuleLoadDataEx (compiling the PTX for this GPU)");
    char message[1024];
    snprintf(message, sizeof message, "%s%s%.600s", pq_last_error(),
             errorLog[0] ? "; the JIT log: " : "", errorLog);
    closeDevice(device);
    return failIn(what, PQ_ERROR_DEVICE, "%s", message);
  }
  device->functions =
      static_cast<CUfunction *>(calloc(count > 0 ? count : 1, sizeof(CUfunction)));
  device->residentBlocks = static_cast<int *>(calloc(count > 0 ? count : 1, sizeof(int)));
  if (!device->functions || !device->residentBlocks) {
    closeDevice(device);
    return failIn(what, PQ_ERROR_MEMORY, "cannot allocate %d kernel handles", count);
  }
  device->count = count;
  for (int32_t i = 0; i < count; ++i) {
    CUresult result =
        driver->cuModuleGetFunction(&device->functions[i], device->module, names[i]);
    if (result != CUDA_SUCCESS) {
      char call[200];
      snprintf(call, sizeof call, "cuModuleGetFunction(\"%.120s\")", names[i]);
      check(result, call);
      return fail(PQ_ERROR_DEVICE);
    }
  }
  out = device;
  return PQ_OK;
}

void pq::cuda::closeDevice(Device *device) {
  if (!device)
    return;
  const Driver *driver = device->driver;
  if (device->module)
    driver->cuModuleUnload(device->module);
  if (device->stream)
    driver->cuStreamDestroy(device->stream);
  if (device->context)
    driver->cuDevicePrimaryCtxRelease(device->device);
  free(device->functions);
  free(device->residentBlocks);
  device->~Device();
  free(device);
}

void pq::cuda::releaseArena(LaunchContext &context) {
  if (context.arena.base && context.device)
    context.device->driver->cuMemFree(context.arena.base);
  context.arena = Arena();
}

namespace {

/// Launches kernel `kernel` on the context's stream, timed when profiling;
/// a failure is kept in the context.
void launchKernel(LaunchContext *context, int32_t kernel, const unsigned grid[3],
                  const unsigned block[3], unsigned sharedBytes, int32_t count,
                  const uint64_t *params, bool cooperative) {
  Device *device = context->device;
  Profile *profile = context->profile;
  if (profile && profile->pending < Profile::kMaxLaunches) {
    int32_t i = profile->pending;
    CUevent *pair = &profile->events[2 * i];
    if (!pair[0])
      device->driver->cuEventCreate(&pair[0], 0);
    if (!pair[1])
      device->driver->cuEventCreate(&pair[1], 0);
    device->driver->cuEventRecord(pair[0], device->stream);
  }
  void *pointers[kMaxParams];
  for (int32_t i = 0; i < count; ++i)
    pointers[i] = const_cast<uint64_t *>(&params[i]);
  CUfunction function = device->functions[kernel];
  CUresult result;
  const char *call;
  if (cooperative) {
    call = "cuLaunchCooperativeKernel";
    result = device->driver->cuLaunchCooperativeKernel(
        function, grid[0], grid[1], grid[2], block[0], block[1], block[2], sharedBytes,
        device->stream, pointers);
  } else if (device->programmatic) {
    call = "cuLaunchKernelEx";
    CUlaunchAttribute attribute = {};
    attribute.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attribute.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig config = {grid[0],  grid[1],  grid[2],     block[0],       block[1],
                             block[2], sharedBytes, device->stream, &attribute, 1};
    result = device->driver->cuLaunchKernelEx(&config, function, pointers, nullptr);
  } else {
    call = "cuLaunchKernel";
    result = device->driver->cuLaunchKernel(function, grid[0], grid[1], grid[2], block[0],
                                            block[1], block[2], sharedBytes,
                                            device->stream, pointers, nullptr);
  }
  if (result != CUDA_SUCCESS) {
    char what[96];
    snprintf(what, sizeof what, "%s(kernel %d)", call, kernel);
    context->status = check(result, what);
  }
  ++context->launches;
  if (profile && profile->pending < Profile::kMaxLaunches) {
    device->driver->cuEventRecord(profile->events[2 * profile->pending + 1],
                                  device->stream);
    profile->kernels[profile->pending++] = kernel;
  }
}

} // namespace

void pquant_gpu_launch(void *ctx, int32_t kernel, int64_t gridX, int64_t gridY,
                       int64_t gridZ, int64_t blockX, int64_t blockY,
                       int64_t blockZ, int64_t sharedBytes, int32_t count,
                       const uint64_t *params) {
  auto *context = static_cast<LaunchContext *>(ctx);
  if (!context || context->status)
    return;
  Device *device = context->device;
  auto within = [](int64_t value, int64_t low, int64_t high) {
    return value >= low && value <= high;
  };
  if (kernel < 0 || kernel >= device->count || count < 0 || count > kMaxParams ||
      !within(gridX, 1, 0x7fffffff) || !within(gridY, 1, 65535) ||
      !within(gridZ, 1, 65535) || !within(blockX, 1, 1024) ||
      !within(blockY, 1, 1024) || !within(blockZ, 1, 64) ||
      !within(sharedBytes, 0, 1 << 20)) {
    context->status = pq::fail(
        PQ_ERROR_INTERNAL,
        "compiled code launched kernel %d of %d with grid %lld x %lld x %lld, "
        "block %lld x %lld x %lld and %d parameters: is the runtime from the "
        "same pquant?",
        kernel, device->count, static_cast<long long>(gridX),
        static_cast<long long>(gridY), static_cast<long long>(gridZ),
        static_cast<long long>(blockX), static_cast<long long>(blockY),
        static_cast<long long>(blockZ), count);
    return;
  }
  if (kernel == context->skippedKernel)
    return;
  const unsigned grid[3] = {unsigned(gridX), unsigned(gridY), unsigned(gridZ)};
  const unsigned block[3] = {unsigned(blockX), unsigned(blockY), unsigned(blockZ)};
  launchKernel(context, kernel, grid, block, unsigned(sharedBytes), count, params,
               /*cooperative=*/false);
}

int32_t pquant_gpu_persistent(void *ctx) {
  return ctx && static_cast<LaunchContext *>(ctx)->persistent;
}

void pquant_gpu_launch_persistent(void *ctx, int32_t kernel, int64_t blockX,
                                  int64_t blocksPerSM, int32_t count,
                                  const uint64_t *params) {
  auto *context = static_cast<LaunchContext *>(ctx);
  if (!context || context->status)
    return;
  Device *device = context->device;
  if (kernel < 0 || kernel >= device->count || count < 0 || count > kMaxParams ||
      blockX < 1 || blockX > 1024 || blocksPerSM < 1 || blocksPerSM > 32) {
    context->status = pq::fail(
        PQ_ERROR_INTERNAL,
        "compiled code launched persistent kernel %d of %d with blocks of %lld "
        "threads, %lld per SM and %d parameters: is the runtime from the same "
        "pquant?",
        kernel, device->count, static_cast<long long>(blockX),
        static_cast<long long>(blocksPerSM), count);
    return;
  }
  // As many blocks as are resident at once, up to blocksPerSM per SM: the
  // kernel's grid barriers need every block running (a cooperative launch
  // fails rather than deadlocks otherwise).
  int &resident = device->residentBlocks[kernel];
  if (!resident) {
    int perSM = 0;
    if ((context->status = check(device->driver->cuOccupancyMaxActiveBlocksPerMultiprocessor(
                                     &perSM, device->functions[kernel], int(blockX), 0),
                                 "cuOccupancyMaxActiveBlocksPerMultiprocessor")))
      return;
    if (perSM < 1) {
      context->status = pq::fail(PQ_ERROR_DEVICE,
                                 "persistent kernel %d cannot run blocks of %lld "
                                 "threads on this GPU",
                                 kernel, static_cast<long long>(blockX));
      return;
    }
    resident = device->multiprocessors * std::min<int>(perSM, int(blocksPerSM));
  }
  const unsigned grid[3] = {unsigned(resident), 1, 1};
  const unsigned block[3] = {unsigned(blockX), 1, 1};
  launchKernel(context, kernel, grid, block, 0, count, params, /*cooperative=*/true);
}

pq_status pq::cuda::startProfile(LaunchContext &context) {
  int32_t count = context.device->count;
  void *memory = calloc(1, sizeof(Profile));
  double *ms = static_cast<double *>(calloc(count + 1, sizeof(double)));
  int64_t *calls = static_cast<int64_t *>(calloc(count + 1, sizeof(int64_t)));
  if (!memory || !ms || !calls) {
    free(memory);
    free(ms);
    free(calls);
    return fail(PQ_ERROR_MEMORY, "cannot allocate the kernel profile");
  }
  context.profile = new (memory) Profile();
  context.profile->milliseconds = ms;
  context.profile->calls = calls;
  return PQ_OK;
}

void pq::cuda::collectProfile(LaunchContext &context) {
  Profile *profile = context.profile;
  if (!profile)
    return;
  const Driver &driver = *context.device->driver;
  for (int32_t i = 0; i < profile->pending; ++i) {
    float ms = 0;
    driver.cuEventSynchronize(profile->events[2 * i + 1]);
    driver.cuEventElapsedTime(&ms, profile->events[2 * i], profile->events[2 * i + 1]);
    profile->milliseconds[profile->kernels[i]] += ms;
    profile->calls[profile->kernels[i]] += 1;
  }
  profile->pending = 0;
}

void pq::cuda::reportProfile(LaunchContext &context, const char *const *names,
                             const char *title) {
  Profile *profile = context.profile;
  if (!profile)
    return;
  int32_t count = context.device->count;
  double total = 0;
  int64_t launches = 0;
  for (int32_t i = 0; i < count; ++i) {
    total += profile->milliseconds[i];
    launches += profile->calls[i];
  }
  fprintf(stderr, "%s: %lld launches, %.3f ms of kernel time\n", title,
          static_cast<long long>(launches), total);
  // Largest first: a selection over the few kernels of a model.
  bool *shown = static_cast<bool *>(calloc(count + 1, sizeof(bool)));
  for (int32_t rank = 0; shown && rank < count; ++rank) {
    int32_t best = -1;
    for (int32_t i = 0; i < count; ++i)
      if (!shown[i] && profile->calls[i] &&
          (best < 0 || profile->milliseconds[i] > profile->milliseconds[best]))
        best = i;
    if (best < 0)
      break;
    shown[best] = true;
    fprintf(stderr, "  %8.3f ms %5.1f%% %7lld x %7.2f us  %s\n",
            profile->milliseconds[best], 100.0 * profile->milliseconds[best] / total,
            static_cast<long long>(profile->calls[best]),
            1e3 * profile->milliseconds[best] / profile->calls[best], names[best]);
  }
  free(shown);
  for (CUevent event : profile->events)
    if (event)
      context.device->driver->cuEventDestroy(event);
  free(profile->milliseconds);
  free(profile->calls);
  profile->~Profile();
  free(profile);
  context.profile = nullptr;
}

uint64_t pquant_gpu_scratch(void *ctx, int64_t bytes) {
  auto *context = static_cast<LaunchContext *>(ctx);
  if (!context || context->status)
    return 0;
  Arena &arena = context->arena;
  if (bytes <= 0)
    bytes = 1;
  if (size_t(bytes) <= arena.size)
    return arena.base;
  if (arena.frozen) {
    context->status = pq::fail(PQ_ERROR_INTERNAL,
                               "compiled code asked for %lld bytes of scratch while a "
                               "captured graph holds %zu",
                               static_cast<long long>(bytes), arena.size);
    return 0;
  }
  const Driver *driver = context->device->driver;
  // Earlier work may still read the old scratch.
  if ((context->status = check(driver->cuStreamSynchronize(context->device->stream),
                               "cuStreamSynchronize")))
    return 0;
  if (arena.base)
    driver->cuMemFree(arena.base);
  arena = Arena();
  size_t size = (size_t(bytes) + (1u << 20) - 1) & ~size_t((1u << 20) - 1);
  CUdeviceptr base = 0;
  CUresult result = driver->cuMemAlloc(&base, size);
  if (result != CUDA_SUCCESS) {
    char what[96];
    snprintf(what, sizeof what, "cuMemAlloc(%zu bytes of scratch)", size);
    context->status = check(result, what);
    return 0;
  }
  arena.base = base;
  arena.size = size;
  return base;
}
