//===- PQuantDialect.cpp - pquant dialect registration ----------------------===//

#include "pquant/Dialect/PQuant/IR/PQuantDialect.h"
#include "pquant/Dialect/PQuant/IR/PQuantAttributes.h"
#include "pquant/Dialect/PQuant/IR/PQuantOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/Signals.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

using namespace mlir;
using namespace pquant;

#include "pquant/Dialect/PQuant/IR/PQuantDialect.cpp.inc"

void PQuantDialect::initialize() {
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "pquant/Dialect/PQuant/IR/PQuantOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Running out of memory
//===----------------------------------------------------------------------===//

// Every pquant tool links this library, so this is where they all learn to
// treat running out of memory as an error like any other: a message and
// exit status 1, not LLVM's default abort (a crash report, a core dump).
// Partial output files are removed as on an interrupt. Nothing here may
// allocate.
namespace {
void reportOutOfMemory(void *, const char *reason, bool) {
  const char *parts[] = {program_invocation_short_name,
                         ": error: out of memory (", reason ? reason : "",
                         ")\n"};
  for (const char *part : parts)
    (void)!::write(2, part, strlen(part));
  llvm::sys::RunInterruptHandlers();
  _exit(1);
}

[[maybe_unused]] const bool outOfMemoryIsAnError = [] {
  llvm::install_bad_alloc_error_handler(reportOutOfMemory);
  return true;
}();
} // namespace
