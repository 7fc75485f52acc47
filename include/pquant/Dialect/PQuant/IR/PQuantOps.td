//===- PQuantOps.td - all pquant ops -----------------------*- tablegen -*-===//
//
// Umbrella over the op files, one per concern, so a single generated
// PQuantOps.h.inc and one op document cover the dialect.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTOPS_TD
#define PQUANT_DIALECT_PQUANT_IR_PQUANTOPS_TD

include "pquant/Dialect/PQuant/IR/PQuantLinearOps.td"
include "pquant/Dialect/PQuant/IR/PQuantExpertOps.td"
include "pquant/Dialect/PQuant/IR/PQuantModelOps.td"
include "pquant/Dialect/PQuant/IR/PQuantVectorOps.td"

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTOPS_TD
