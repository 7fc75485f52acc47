/*===- CudaSession.h - Running compiled GPU code directly ---------*- C -*-===*
 *
 * For test harnesses and benchmarks that call the entry points of a GPU
 * compilation that is not a model (pquant-compile -target=sm_90 of single
 * layers): load the PTX the object embeds, move buffers, pass the launch
 * context to pquant_gpu_entry_<name>, time with events, capture graphs.
 * Models go through pquant/runtime.h instead.
 *
 *===----------------------------------------------------------------------===*/

#ifndef PQUANT_RUNTIME_CUDASESSION_H
#define PQUANT_RUNTIME_CUDASESSION_H

#include "pquant/runtime.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pq_gpu pq_gpu;

/* What a -target=sm_* object that is not a model embeds. */
extern const char pquant_gpu_ptx[];
extern const char *const pquant_gpu_kernel_names[];
extern const int32_t pquant_gpu_kernel_count;
extern const char pquant_gpu_chip[];

/* Opens GPU 0 with the kernels of `ptx` (pass the symbols above). */
PQ_API pq_status pq_gpu_open(const char *ptx, const char *chip,
                             const char *const *kernels, int32_t count,
                             pq_gpu **out);
PQ_API void pq_gpu_close(pq_gpu *gpu);
/* "NVIDIA H100 80GB HBM3 (sm_90)" */
PQ_API const char *pq_gpu_name(const pq_gpu *gpu);

/* The `ctx` argument of pquant_gpu_entry_<name>; pq_gpu_sync reports the
 * first launch failure. */
PQ_API void *pq_gpu_context(pq_gpu *gpu);

PQ_API pq_status pq_gpu_alloc(pq_gpu *gpu, size_t bytes, uint64_t *device);
PQ_API void pq_gpu_free(pq_gpu *gpu, uint64_t device);
PQ_API pq_status pq_gpu_upload(pq_gpu *gpu, uint64_t device, const void *host,
                               size_t bytes);
PQ_API pq_status pq_gpu_download(pq_gpu *gpu, void *host, uint64_t device,
                                 size_t bytes);
/* Device-to-device copy on the stream (asynchronous). */
PQ_API pq_status pq_gpu_copy(pq_gpu *gpu, uint64_t target, uint64_t source,
                             size_t bytes);
/* Waits for the stream; returns a launch or execution failure. */
PQ_API pq_status pq_gpu_sync(pq_gpu *gpu);

/* Events 0..15 on the stream, and the milliseconds between two. */
PQ_API pq_status pq_gpu_record(pq_gpu *gpu, int event);
PQ_API pq_status pq_gpu_elapsed(pq_gpu *gpu, int from, int to, float *ms);

/* Times every launch from now on with events (not while capturing); then
 * the milliseconds and launches of the kernels whose name starts with
 * `prefix`, summed (synchronizes first). */
PQ_API pq_status pq_gpu_profile_start(pq_gpu *gpu);
PQ_API pq_status pq_gpu_profile_read(pq_gpu *gpu, const char *prefix,
                                     double *ms, int64_t *launches);
PQ_API void pq_gpu_profile_stop(pq_gpu *gpu);

/* From now on, launches of the kernel named `name` are dropped (so a
 * benchmark can time an entry point's other kernels); NULL drops none. */
PQ_API pq_status pq_gpu_skip_kernel(pq_gpu *gpu, const char *name);

/* Captures the stream's work between begin and end into graph slot 0..7,
 * then replays it. */
PQ_API pq_status pq_gpu_capture_begin(pq_gpu *gpu);
PQ_API pq_status pq_gpu_capture_end(pq_gpu *gpu, int slot);
PQ_API pq_status pq_gpu_replay(pq_gpu *gpu, int slot);

#ifdef __cplusplus
}
#endif

#endif /* PQUANT_RUNTIME_CUDASESSION_H */
