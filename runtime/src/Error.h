//===- Error.h - Failure reporting of the runtime ---------------*- C++ -*-===//
//
// Every failing pq_* call records a message for pq_last_error() through
// fail() or failIn(), so a status and its message are always set together.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_RUNTIME_ERROR_H
#define PQUANT_RUNTIME_ERROR_H

#include "pquant/runtime.h"

namespace pq {

/// Records the printf-formatted message as this thread's last error and
/// returns `status`.
pq_status fail(pq_status status, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/// As fail(), for a problem with the file `path`: the message starts with it.
pq_status failIn(const char *path, pq_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

} // namespace pq

#endif // PQUANT_RUNTIME_ERROR_H
