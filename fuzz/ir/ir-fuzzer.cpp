//===- ir-fuzzer.cpp - Fuzz parsing and verifying pquant IR ---------------===//
//
// The input is MLIR text in the dialects pquant-import writes (pquant, func,
// arith, tensor). It is parsed and verified as pquant-opt would; what
// verifies is printed, parsed back and printed again, and both prints must
// be equal (pquant-opt --verify-roundtrip), in the custom and the generic
// form. Diagnostics are expected and dropped; a crash, a sanitizer report
// or a round trip that fails is a bug.
//
//===----------------------------------------------------------------------===//

#include "pquant/Dialect/PQuant/IR/PQuantDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <stdio.h>
#include <stdlib.h>

using namespace mlir;

namespace {

std::string print(ModuleOp module, bool generic) {
  std::string text;
  llvm::raw_string_ostream os(text);
  OpPrintingFlags flags;
  if (generic)
    flags.printGenericOpForm();
  module->print(os, flags);
  return text;
}

[[noreturn]] void roundTripFailed(const char *what, const std::string &first,
                                  const std::string &second) {
  fprintf(stderr, "ir-fuzzer: %s\n--- printed:\n%s\n--- then:\n%s\n", what,
          first.c_str(), second.c_str());
  abort();
}

/// A context with the dialects of pquant-import's output; diagnostics,
/// which are expected, are dropped. Single-threaded: threads would only add
/// nondeterminism here.
std::unique_ptr<MLIRContext> makeContext() {
  DialectRegistry registry;
  registry.insert<pquant::PQuantDialect, arith::ArithDialect,
                  func::FuncDialect, tensor::TensorDialect>();
  auto context = std::make_unique<MLIRContext>(
      registry, MLIRContext::Threading::DISABLED);
  context->loadAllAvailableDialects();
  context->getDiagEngine().registerHandler([](Diagnostic &) {});
  return context;
}

/// Prints `module`, parses that back (in a context of its own, as resource
/// names are unique per context) and prints it again: both must parse and
/// verify, and the prints must be equal.
void checkRoundTrip(ModuleOp module, bool generic) {
  std::string first = print(module, generic);
  std::unique_ptr<MLIRContext> context = makeContext();
  ParserConfig config(context.get());
  OwningOpRef<ModuleOp> again = parseSourceString<ModuleOp>(first, config);
  if (!again)
    roundTripFailed("the printed IR does not parse (or verify)", first, "");
  std::string second = print(*again, generic);
  if (first != second)
    roundTripFailed("printing the parsed print gives other IR", first, second);
}

/// How deep brackets nest in `text`: ( [ { and < (not the > of ->),
/// outside string literals and comments. MLIR's parser recurses once or
/// more per level with no limit, so IR nested some thousands deep overflows
/// its stack, in mlir-opt as in pquant-opt and pquant-compile: a known
/// limitation of the upstream parser (docs/fuzzing.md), which this fuzzer
/// steps around to keep looking for pquant's own bugs.
int nesting(llvm::StringRef text) {
  int depth = 0, deepest = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') { // a string: skip to its end
      while (++i < text.size() && text[i] != '"')
        i += text[i] == '\\';
    } else if (c == '/' && text.substr(i).starts_with("//")) {
      i = std::min(text.find('\n', i), text.size());
    } else if (c == '(' || c == '[' || c == '{' || c == '<') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ')' || c == ']' || c == '}' ||
               (c == '>' && (i == 0 || text[i - 1] != '-'))) {
      --depth;
    }
  }
  return deepest;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // Making a context costs more than parsing most inputs, so one serves
  // many; a new one now and then bounds the attributes and types that pile
  // up in it.
  static std::unique_ptr<MLIRContext> context;
  static unsigned uses = 0;
  if (!context || ++uses % 1000 == 0)
    context = makeContext();
  ParserConfig config(context.get()); // verifies after parsing
  // The tools parse files, which MemoryBuffer ends with a NUL; MLIR's lexer
  // relies on that, so the input gets one too.
  std::string text(reinterpret_cast<const char *>(data), size);
  if (nesting(text) > 256)
    return -1; // not added to the corpus
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, config);
  if (!module)
    return 0;
  checkRoundTrip(*module, /*generic=*/false);
  checkRoundTrip(*module, /*generic=*/true);
  return 0;
}
