//===- PQuant.td - the whole pquant dialect ----------------*- tablegen -*-===//
//
// Umbrella used to generate the dialect document: attributes and ops.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANT_TD
#define PQUANT_DIALECT_PQUANT_IR_PQUANT_TD

include "pquant/Dialect/PQuant/IR/PQuantAttributes.td"
include "pquant/Dialect/PQuant/IR/PQuantOps.td"

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANT_TD
