//===- ModelImporter.h - checkpoint to pquant IR ----------------*- C++ -*-===//

#ifndef PQUANT_IMPORT_MODELIMPORTER_H
#define PQUANT_IMPORT_MODELIMPORTER_H

#include "pquant/Dialect/PQuant/IR/PQuantAttributes.h"
#include "pquant/Import/Checkpoint.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace pquant {

struct ImportOptions {
  /// Embed tensor data as constants instead of `pquant.weight` references
  /// to the checkpoint (which the module then names in `pquant.checkpoint`).
  bool inlineWeights = false;
};

/// Builds the decoder of `checkpoint` as a module with two entry points:
///
///   @prefill(tokens: tensor<?xi32>, start: index, keys, values)
///       -> tensor<?xVxf32>
///   @decode(token: tensor<1xi32>, start: index, keys, values)
///       -> tensor<1xVxf32>
///
/// returning logits; `keys` and `values` are the KV caches of all layers,
/// `memref<layers x max_seq_len x Hkv x Dh x f32>`, updated in place.
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context,
                                              const Checkpoint &checkpoint,
                                              const ImportOptions &options);

/// The #pquant.packed layout checkpoints store a rows × cols 1-bit weight
/// in: bytes of one row, bit k % 8 of byte k / 8, least significant first.
PackedLayoutAttr checkpointLayout(mlir::MLIRContext *context, int64_t rows,
                                  int64_t cols);

/// Parameter counts of a model, for the importer's summary line.
struct ModelSize {
  int64_t parameters = 0;    ///< every stored weight, scales excluded
  int64_t binaryWeights = 0; ///< 1-bit linear weights
  int64_t int8Weights = 0;   ///< int8 expert weights, all experts
  int64_t activeInt8Weights = 0; ///< int8 weights one token reads (top_k experts)

  /// Bits per linear-layer weight over everything stored.
  double storedBitsPerWeight() const;
  /// Bits per linear-layer weight that one token reads.
  double activeBitsPerWeight() const;
};
ModelSize measureModel(const ModelConfig &config);

} // namespace pquant

#endif // PQUANT_IMPORT_MODELIMPORTER_H
