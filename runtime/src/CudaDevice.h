//===- CudaDevice.h - A GPU, its kernels, and how compiled code launches ------*- C++ -*-===//
//
// A Device is the primary context of GPU 0, one stream, and the PTX module
// of a compilation with its kernels resolved by name. Compiled host code
// (pquant_gpu_entry_<name>, see pquant-lower-to-gpu) receives a
// LaunchContext and calls back into pquant_gpu_launch and
// pquant_gpu_scratch, defined here: kernel launches go to the device's
// stream; the first failure is kept in the context, later launches are
// skipped, and the caller reports it when the entry point returns.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_RUNTIME_CUDADEVICE_H
#define PQUANT_RUNTIME_CUDADEVICE_H

#include "CudaDriver.h"

namespace pq::cuda {

struct Device {
  const Driver *driver = nullptr;
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUstream stream = nullptr;
  CUmodule module = nullptr;
  CUfunction *functions = nullptr;
  /// Per kernel, the grid of a persistent launch (0 until its first).
  int *residentBlocks = nullptr;
  int32_t count = 0;
  int major = 0, minor = 0, multiprocessors = 0;
  /// Kernels are launched as programmatic dependents of the previous one
  /// (their code, for sm_90 and later, waits for it with
  /// griddepcontrol.wait); PQUANT_CUDA_PROGRAMMATIC=0 turns it off.
  bool programmatic = false;
  char name[128] = {};
};

/// Opens GPU 0 and loads `ptx` (NUL-terminated) with the `count` kernels
/// `names`, checking that the GPU can run code for `chip` ("sm_90"; may be
/// NULL). Messages start with `what` (a path, or a description).
pq_status openDevice(const char *what, const char *ptx, const char *chip,
                     const char *const *names, int32_t count, Device *&out);
void closeDevice(Device *device);

/// Scratch memory of one entry point. It only grows, and not while frozen
/// (a captured graph holds its address).
struct Arena {
  CUdeviceptr base = 0;
  size_t size = 0;
  bool frozen = false;
};

/// Kernel timings (PQUANT_CUDA_PROFILE=1): an event before and after each
/// launch, summed per kernel when the work is done.
struct Profile {
  static constexpr int32_t kMaxLaunches = 8192;
  CUevent events[2 * kMaxLaunches] = {};
  int32_t kernels[kMaxLaunches] = {};
  int32_t pending = 0;
  double *milliseconds = nullptr; // per kernel
  int64_t *calls = nullptr;
};

/// What compiled code receives as its `ctx`.
struct LaunchContext {
  Device *device = nullptr;
  Arena arena;
  pq_status status = PQ_OK; ///< the first failure, with pq_last_error()
  Profile *profile = nullptr; ///< set to time every launch
  int64_t launches = 0;       ///< kernels launched so far
  /// Whether an entry point compiled with a persistent kernel runs it
  /// (else its kernels one by one).
  bool persistent = false;
  /// A kernel whose launches are dropped (benchmarks time the others), or -1.
  int32_t skippedKernel = -1;
};

/// Starts timing every launch of `context` (PQUANT_CUDA_PROFILE=1).
pq_status startProfile(LaunchContext &context);
/// Adds the timings of the finished launches (after a synchronization).
void collectProfile(LaunchContext &context);
/// Prints the time per kernel, largest first, to stderr, and frees it.
void reportProfile(LaunchContext &context, const char *const *names,
                   const char *title);

/// Frees the arena of `context`.
void releaseArena(LaunchContext &context);

} // namespace pq::cuda

extern "C" {
/// Called by compiled host code: launches kernel `kernel` of the context's
/// device with `count` 8-byte parameters `params`.
void pquant_gpu_launch(void *ctx, int32_t kernel, int64_t gridX, int64_t gridY,
                       int64_t gridZ, int64_t blockX, int64_t blockY,
                       int64_t blockZ, int64_t sharedBytes, int32_t count,
                       const uint64_t *params);
/// Called by compiled host code: device scratch of at least `bytes` bytes,
/// or 0 after a failure.
uint64_t pquant_gpu_scratch(void *ctx, int64_t bytes);
/// Called by compiled host code of an entry point that has a persistent
/// kernel: nonzero to run it, 0 for the kernels one by one.
int32_t pquant_gpu_persistent(void *ctx);
/// Called by compiled host code: launches persistent kernel `kernel` with
/// blocks of `blockX` threads, as many as are resident at once up to
/// `blocksPerSM` per SM, as a cooperative launch.
void pquant_gpu_launch_persistent(void *ctx, int32_t kernel, int64_t blockX,
                                  int64_t blocksPerSM, int32_t count,
                                  const uint64_t *params);
}

#endif // PQUANT_RUNTIME_CUDADEVICE_H
