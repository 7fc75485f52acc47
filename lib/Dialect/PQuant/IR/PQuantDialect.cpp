//===- PQuantDialect.cpp - pquant dialect registration ----------------------===//

#include "pquant/Dialect/PQuant/IR/PQuantDialect.h"
#include "pquant/Dialect/PQuant/IR/PQuantAttributes.h"
#include "pquant/Dialect/PQuant/IR/PQuantOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

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
