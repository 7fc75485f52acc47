//===- Sampling.h - Checks shared by pq_sample and pq_generate --*- C++ -*-===//

#ifndef PQUANT_RUNTIME_SAMPLING_H
#define PQUANT_RUNTIME_SAMPLING_H

#include "pquant/runtime.h"

namespace pq {

/// Checks `params`, and that there is a random generator if they need one,
/// so pq_generate can refuse bad parameters before it runs the model.
pq_status checkSampling(const pq_sampling *params, bool haveRng);

} // namespace pq

#endif // PQUANT_RUNTIME_SAMPLING_H
