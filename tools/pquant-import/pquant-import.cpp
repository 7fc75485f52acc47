//===- pquant-import.cpp - pQuant checkpoint to pquant IR -------------------===//
//
//   pquant-import CHECKPOINT_DIR -o model.mlir [--inline-weights] [--latent]
//
//===----------------------------------------------------------------------===//

#include "pquant/Import/Checkpoint.h"
#include "pquant/Import/ModelImporter.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;

static cl::OptionCategory importCategory("pquant-import options");

static cl::opt<std::string>
    checkpointDir(cl::Positional, cl::Required, cl::cat(importCategory),
                  cl::desc("<checkpoint directory with config.json and "
                           "model.safetensors>"));

static cl::opt<std::string> outputFile("o", cl::cat(importCategory),
                                       cl::desc("Output .mlir file"),
                                       cl::value_desc("file"), cl::init("-"));

static cl::opt<bool> inlineWeights(
    "inline-weights", cl::cat(importCategory),
    cl::desc("Embed the weights as constants instead of referencing them by "
             "name from the checkpoint (for small models)"));

static cl::opt<bool> latent(
    "latent", cl::cat(importCategory),
    cl::desc("Accept a latent checkpoint (f32 training weights): quantize its "
             "1-bit and int8 weights as docs/semantics.md says and embed the "
             "results (implies --inline-weights)"));

static int fail(const Twine &message) {
  WithColor::error(errs(), "pquant-import") << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::HideUnrelatedOptions({&importCategory});
  cl::ParseCommandLineOptions(
      argc, argv,
      "pquant-import: build pquant IR for a pQuant checkpoint\n\n"
      "Reads CHECKPOINT_DIR/config.json and CHECKPOINT_DIR/model.safetensors "
      "(see docs/checkpoint-format.md), checks every tensor, and writes a "
      "module with @prefill and @decode entry points. By default weights are "
      "referenced by name (pquant.weight) and the module records the "
      "checkpoint directory, so even large models give small IR.\n");

  Expected<std::unique_ptr<pquant::Checkpoint>> checkpoint =
      pquant::Checkpoint::load(checkpointDir, latent);
  if (!checkpoint)
    return fail(toString(checkpoint.takeError()));

  mlir::MLIRContext context;
  pquant::ImportOptions options;
  options.inlineWeights = inlineWeights || latent;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      pquant::importModel(context, **checkpoint, options);
  if (failed(mlir::verify(*module)))
    return fail("internal error: the imported module does not verify");

  std::string error;
  std::unique_ptr<ToolOutputFile> output =
      mlir::openOutputFile(outputFile, &error);
  if (!output)
    return fail(error);
  module->print(output->os());
  output->keep();

  const pquant::ModelConfig &config = (*checkpoint)->getConfig();
  pquant::ModelSize size = pquant::measureModel(config);
  // The IR may be going to stdout; the summary must not mix into it.
  raw_ostream &summary = outputFile == "-" ? errs() : outs();
  summary << formatv(
      "pquant-import: {0} layers, {1:f2}M parameters ({2:f2}M 1-bit, {3:f2}M "
      "int8 in {4} experts), {5:f2} bits per linear weight stored, {6:f2} "
      "read per token\n",
      config.numLayers, size.parameters / 1e6, size.binaryWeights / 1e6,
      size.int8Weights / 1e6, config.numExperts, size.storedBitsPerWeight(),
      size.activeBitsPerWeight());
  return 0;
}
