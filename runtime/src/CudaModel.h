//===- CudaModel.h - Running a compiled model on a GPU ----------*- C++ -*-===//
//
// The GPU backend of pq_model, in libpquant_cuda, which pquant-compile links
// only into GPU models (-target=sm_80|sm_90). Model.cpp refers to these
// functions weakly: in a CPU model they are null and never called.
//
// A GPU model holds its weights, KV cache and scratch on the device. The
// compiled host code (pquant_gpu_entry_prefill / _decode) launches the
// kernels of the .pqw's PTX; decode steps after the first replay a CUDA
// graph of the whole step (PQUANT_CUDA_GRAPHS=0 launches each kernel
// instead), fed the token and position through device memory.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_RUNTIME_CUDAMODEL_H
#define PQUANT_RUNTIME_CUDAMODEL_H

#include "Artifact.h"

namespace pq::cuda {

struct Model;

/// Opens GPU 0 for the verified `artifact` (read from `path`): loads its
/// PTX, uploads the weights, allocates the KV cache.
__attribute__((weak)) pq_status openModel(const char *path,
                                          const pq::Artifact &artifact,
                                          Model *&out);
/// Runs `count` tokens at `position` through the decode (one token) or
/// prefill entry point; `logits` receives count × vocab floats from malloc.
__attribute__((weak)) pq_status runModel(Model *model, bool decode,
                                         const int32_t *tokens, int64_t count,
                                         int64_t position, float *&logits);
__attribute__((weak)) void closeModel(Model *model);

} // namespace pq::cuda

#endif // PQUANT_RUNTIME_CUDAMODEL_H
