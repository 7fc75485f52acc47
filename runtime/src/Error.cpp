//===- Error.cpp - Failure reporting of the runtime -----------------------===//

#include "Error.h"

#include <stdarg.h>
#include <stdio.h>

namespace {
// A fixed buffer: reporting a failure must not allocate (the failure may be
// an allocation), and a trivially destructible thread_local needs no C++
// runtime support.
thread_local char lastError[1024];
} // namespace

pq_status pq::fail(pq_status status, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(lastError, sizeof lastError, format, args);
  va_end(args);
  return status;
}

pq_status pq::failIn(const char *path, pq_status status, const char *format,
                     ...) {
  int prefix = snprintf(lastError, sizeof lastError, "%s: ", path);
  if (prefix < 0 || static_cast<size_t>(prefix) >= sizeof lastError)
    return status; // the path alone fills the buffer
  va_list args;
  va_start(args, format);
  vsnprintf(lastError + prefix, sizeof lastError - prefix, format, args);
  va_end(args);
  return status;
}

const char *pq_last_error(void) { return lastError; }

const char *pq_status_name(pq_status status) {
  switch (status) {
  case PQ_OK:
    return "ok";
  case PQ_ERROR_ARGUMENT:
    return "invalid argument";
  case PQ_ERROR_IO:
    return "i/o error";
  case PQ_ERROR_FORMAT:
    return "invalid artifact";
  case PQ_ERROR_VERSION:
    return "unsupported format version";
  case PQ_ERROR_CHECKSUM:
    return "checksum mismatch";
  case PQ_ERROR_MISMATCH:
    return "artifact does not match the compiled model";
  case PQ_ERROR_CONTEXT:
    return "context full";
  case PQ_ERROR_MEMORY:
    return "out of memory";
  case PQ_ERROR_INTERNAL:
    return "internal error";
  case PQ_ERROR_DEVICE:
    return "GPU error";
  }
  return "unknown status";
}
