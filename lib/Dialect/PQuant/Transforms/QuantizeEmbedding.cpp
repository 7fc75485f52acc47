//===- QuantizeEmbedding.cpp - an int8 embedding table ---------------------===//

#include "Int8RowWeights.h"

#include "pquant/Dialect/PQuant/Transforms/Passes.h"

namespace pquant {
#define GEN_PASS_DEF_QUANTIZEEMBEDDING
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

struct QuantizeEmbeddingPass
    : pquant::impl::QuantizeEmbeddingBase<QuantizeEmbeddingPass> {
  void runOnOperation() override {
    SmallVector<EmbeddingOp> embeddings;
    getOperation()->walk([&](EmbeddingOp op) {
      if (!op.getScales())
        embeddings.push_back(op);
    });
    for (EmbeddingOp embedding : embeddings) {
      WeightOp reference = floatCheckpointWeight(
          embedding, embedding.getTable(), "an int8 embedding");
      if (!reference)
        return signalPassFailure();
      OpBuilder b(embedding);
      Int8RowWeights table = createInt8RowWeights(b, embedding, reference);
      Value rows = EmbeddingOp::create(b, embedding.getLoc(), embedding.getType(),
                                       table.rows, embedding.getTokens(),
                                       table.scales);
      embedding.replaceAllUsesWith(rows);
      embedding.erase();
      if (reference->use_empty())
        reference.erase();
    }
  }
};

} // namespace
