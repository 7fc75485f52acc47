//===- Checkpoint.h - pQuant checkpoints: config.json + safetensors -*- C++ -*-===//
//
// Reads and validates a checkpoint directory as docs/checkpoint-format.md
// specifies. Every file is untrusted input: each problem becomes an
// llvm::Error naming the file and, where there is one, the tensor.
//
//===----------------------------------------------------------------------===//

#ifndef PQUANT_IMPORT_CHECKPOINT_H
#define PQUANT_IMPORT_CHECKPOINT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace pquant {

/// Model hyper-parameters, the keys of config.json.
struct ModelConfig {
  int64_t vocabSize = 0, hiddenSize = 0, numLayers = 0, numHeads = 0,
          numKVHeads = 0, ffnBinSize = 0, ffnHpSize = 0, numExperts = 0,
          topK = 0, maxSeqLen = 0;
  bool gateWeighting = false, subln = false, tieEmbeddings = false;
  double ropeTheta = 0, rmsNormEps = 0;
  /// "latent" checkpoints hold f32 training weights, quantized on import.
  bool latent = false;

  int64_t headDim() const { return hiddenSize / numHeads; }

  /// Parses and checks config.json text; `source` names the file in errors.
  static llvm::Expected<ModelConfig> parse(llvm::StringRef json,
                                           llvm::StringRef source);
};

enum class DType { F32, F16, I8, U8 };
llvm::StringRef dtypeName(DType dtype);
unsigned dtypeSize(DType dtype);

/// A tensor as stored: element type, shape and its bytes (little endian).
struct TensorView {
  DType dtype;
  llvm::SmallVector<int64_t, 4> shape;
  llvm::ArrayRef<uint8_t> bytes;
};

/// What role a logical weight plays; decides its stored dtype and shape.
enum class WeightKind {
  Embedding, ///< embed / lm_head table, F32 or F16
  Norm,      ///< rmsnorm weight, F32 or F16
  Binary,    ///< 1-bit [N, K]: U8 [N, ceil(K/8)] + F32 scale [1] or [N]
  Int8,      ///< int8 experts [E, N, K]: I8 + F32 scale [E, N]
  Router,    ///< F32 [E, D]
  Scalar,    ///< F32 [1] (alpha, beta)
};

/// One logical weight of a model and its logical shape.
struct WeightSpec {
  std::string name;
  WeightKind kind;
  llvm::SmallVector<int64_t, 3> shape;
};

/// Every logical weight of a model with `config`, in a fixed order.
std::vector<WeightSpec> weightSpecs(const ModelConfig &config);

/// `layers.0.attn.q.weight` -> `layers.0.attn.q.scale`.
std::string scaleName(llvm::StringRef weightName);

/// A memory-mapped safetensors file whose header has been checked: every
/// entry well formed, and the entries tile the data buffer exactly.
class SafeTensorsFile {
public:
  static llvm::Expected<std::unique_ptr<SafeTensorsFile>>
  open(llvm::StringRef path);

  /// The tensor called `name`, or null.
  const TensorView *lookup(llvm::StringRef name) const;
  llvm::ArrayRef<std::string> names() const { return order; }
  llvm::StringRef path() const { return filePath; }

private:
  std::string filePath;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  llvm::StringMap<TensorView> tensors;
  std::vector<std::string> order;
};

/// A checked checkpoint in deployable form. For a latent checkpoint the
/// 1-bit and int8 weights (and their scales) are quantized into owned
/// buffers; every other tensor points into the mapped file.
class Checkpoint {
public:
  /// Loads and checks `directory`. A latent checkpoint is an error unless
  /// `allowLatent` is set.
  static llvm::Expected<std::unique_ptr<Checkpoint>>
  load(llvm::StringRef directory, bool allowLatent);

  const ModelConfig &getConfig() const { return config; }
  llvm::StringRef getDirectory() const { return directory; }
  /// The deployable tensor called `name` (a weight or a scale); it exists
  /// for every name weightSpecs() and scaleName() give.
  const TensorView &get(llvm::StringRef name) const;

private:
  std::string directory;
  ModelConfig config;
  std::unique_ptr<SafeTensorsFile> file;
  llvm::StringMap<TensorView> quantized;
  /// A deque: growing it never moves the buffers `quantized` points into.
  std::deque<std::vector<uint8_t>> ownedBuffers;
};

/// Per-row int8 absmax quantization of an F32 or F16 tensor [..., K] (the
/// activation rule applied to weight rows), all in float: s = max|w| / 127,
/// q = clamp(round_half_away(w / s), -127, 127). Returns the int8 values and
/// the F32 scales (little-endian), one scale per row.
std::pair<std::vector<uint8_t>, std::vector<uint8_t>>
quantizeRowsInt8(const TensorView &tensor);

} // namespace pquant

#endif // PQUANT_IMPORT_CHECKPOINT_H
