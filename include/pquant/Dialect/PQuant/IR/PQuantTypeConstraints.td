//===- PQuantTypeConstraints.td - operand type constraints -*- tablegen -*-===//

#ifndef PQUANT_DIALECT_PQUANT_IR_PQUANTTYPECONSTRAINTS_TD
#define PQUANT_DIALECT_PQUANT_IR_PQUANTTYPECONSTRAINTS_TD

include "mlir/IR/CommonTypeConstraints.td"

def PQuant_F32Vector : TensorRankOf<[F32], [1]>;
def PQuant_F32Matrix : TensorRankOf<[F32], [2]>;
def PQuant_F32Tensor3D : TensorRankOf<[F32], [3]>;
def PQuant_I8Matrix : TensorRankOf<[I8], [2]>;
def PQuant_I32Vector : TensorRankOf<[I32], [1]>;
def PQuant_I32Matrix : TensorRankOf<[I32], [2]>;
def PQuant_FloatVector : TensorRankOf<[F32, F16], [1]>;
def PQuant_FloatMatrix : TensorRankOf<[F32, F16], [2]>;
def PQuant_FloatTensor3D : TensorRankOf<[F32, F16], [3]>;
def PQuant_ExpertWeight : TensorRankOf<[I8], [3]>;

def PQuant_PackedWeight : Type<
    CPred<"::pquant::isPackedWeightType($_self)">,
    "tensor with a #pquant.packed encoding", "::mlir::RankedTensorType">;

// A 1-bit weight matrix: unpacked `tensor<NxKxi1>` (1 = +1, 0 = −1) or packed.
def PQuant_BinaryWeight : AnyTypeOf<[TensorRankOf<[I1], [2]>, PQuant_PackedWeight],
    "1-bit weight: tensor<NxKxi1> or a tensor with a #pquant.packed encoding">;

#endif // PQUANT_DIALECT_PQUANT_IR_PQUANTTYPECONSTRAINTS_TD
