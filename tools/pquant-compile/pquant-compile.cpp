//===- pquant-compile.cpp - pquant ahead-of-time compiler driver ------------===//
//
//   pquant-compile model.mlir -target=aarch64 -mcpu=neoverse-n1 --emit=object -o model.o
//
// Runs pquant-cpu-pipeline, translates to LLVM IR, optimizes and generates
// code in process with LLVM's TargetMachine. MLIR's pass manager, printing
// and timing options (--mlir-print-ir-after-all, --mlir-timing, crash
// reproducers, ...) work here as in pquant-opt.
//
//===----------------------------------------------------------------------===//

#include "pquant/Artifact/ArtifactWriter.h"
#include "pquant/Dialect/PQuant/IR/PQuantDialect.h"
#include "pquant/Import/Checkpoint.h"
#include "pquant/Pipelines/GPUPipeline.h"
#include "pquant/Pipelines/Pipelines.h"
#include "pquant/Target/CPUTarget.h"
#include "pquant/Target/GPUTarget.h"
#include "pquant/Tuning/Tuner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Target/TargetMachine.h"

#include <chrono>

using namespace llvm;

namespace {

enum class Emit { Default, MLIR, LLVM, Assembly, Object, Shared, Executable, PTX };

cl::OptionCategory compileCategory("pquant-compile options");

cl::opt<std::string> inputFile(cl::Positional, cl::cat(compileCategory),
                               cl::desc("<input .mlir>"), cl::init("-"));
cl::opt<std::string> outputFile("o", cl::cat(compileCategory),
                                cl::desc("Output file"), cl::value_desc("file"),
                                cl::init("-"));
cl::opt<std::string> targetName(
    "target", cl::cat(compileCategory),
    cl::desc("Target: x86_64, aarch64, or host (this machine, its CPU and "
             "features); sm_80 or sm_90 for an NVIDIA GPU (PTX kernels launched "
             "by x86-64 host code)"),
    cl::init("host"));
cl::opt<std::string> cpuName(
    "mcpu", cl::cat(compileCategory),
    cl::desc("CPU to tune and select instructions for (znver4, "
             "neoverse-n1, ...); without it code is generic and can be "
             "many times slower"));
cl::opt<std::string>
    featureString("mattr", cl::cat(compileCategory),
                  cl::desc("Target features, e.g. +avx512vpopcntdq,+dotprod"));
cl::opt<unsigned> optLevel("O", cl::cat(compileCategory), cl::Prefix,
                           cl::desc("LLVM optimization level 0-3 (default 3)"),
                           cl::init(3));
cl::opt<std::string> strategy(
    "strategy", cl::cat(compileCategory),
    cl::desc("BitLinear kernel strategy: auto (per target: where 64-bit "
             "vector popcount is fast, bit-serial popcount for one token and "
             "table lookups for several (256 rows or more); else unpack + dot "
             "product where the CPU has one), bitserial, unpack-dot or lookup "
             "(for one token, byte tables in registers where the CPU has "
             "AVX-512 VBMI and VNNI)"),
    cl::init("auto"));
cl::opt<bool> tune(
    "tune", cl::cat(compileCategory),
    cl::desc("Time the BitLinear kernel candidates (bitserial, lookup, "
             "unpack-dot column chunks) for the model's shapes on this machine, decode "
             "and prefill, and compile each BitLinear with the fastest; "
             "-target=host only. The .pqw records the measurements. With "
             "--strategy, only that strategy's candidates"));
cl::opt<std::string> tuneCache(
    "tune-cache", cl::cat(compileCategory),
    cl::desc("With --tune: reuse the measurements in this JSON file (same "
             "machine, threads, shape and candidates) and add new ones"),
    cl::value_desc("file"));
enum class LMHead { F32, Int8 };
cl::opt<LMHead> lmHead(
    "lm-head", cl::cat(compileCategory),
    cl::desc("How the lm_head runs (CPU targets)"),
    cl::values(clEnumValN(LMHead::F32, "f32",
                          "on the checkpoint's f32 or f16 weights (default)"),
               clEnumValN(LMHead::Int8, "int8",
                          "on int8 weights quantized per row, with int8 "
                          "activations: a quarter of the bytes of f32")),
    cl::init(LMHead::F32));
enum class EmbeddingTable { F32, Int8 };
cl::opt<EmbeddingTable> embeddingTable(
    "embedding", cl::cat(compileCategory),
    cl::desc("How the token embedding is stored (CPU targets)"),
    cl::values(clEnumValN(EmbeddingTable::F32, "f32",
                          "the checkpoint's f32 or f16 table (default)"),
               clEnumValN(EmbeddingTable::Int8, "int8",
                          "int8 rows with per-row scales: a quarter of the "
                          "memory of f32, the same decode speed")),
    cl::init(EmbeddingTable::F32));

/// The int8 tables the command line asks for.
pquant::Int8Tables int8Tables() {
  return {lmHead == LMHead::Int8, embeddingTable == EmbeddingTable::Int8};
}
cl::opt<Emit> emit(
    "emit", cl::cat(compileCategory), cl::desc("What to write"),
    cl::values(clEnumValN(Emit::MLIR, "mlir", "MLIR in the LLVM dialect"),
               clEnumValN(Emit::LLVM, "llvm", "optimized LLVM IR"),
               clEnumValN(Emit::Assembly, "asm", "target assembly"),
               clEnumValN(Emit::Object, "object", "an object file"),
               clEnumValN(Emit::Shared, "shared",
                          "a shared library; for a model, with the runtime's "
                          "C API, for pquant-run"),
               clEnumValN(Emit::Executable, "executable",
                          "a model's static executable, linked with the "
                          "runtime (the default for a model)"),
               clEnumValN(Emit::PTX, "ptx",
                          "the kernels' PTX (GPU targets)")),
    cl::init(Emit::Default));

int fail(const Twine &message) {
  WithColor::error(errs(), "pquant-compile") << message << "\n";
  return 1;
}

/// Generates code for `module` into `os` as assembly or an object file.
bool generateCode(Module &module, TargetMachine &machine, raw_pwrite_stream &os,
                  CodeGenFileType type) {
  legacy::PassManager codegen;
  if (machine.addPassesToEmitFile(codegen, os, nullptr, type))
    return false;
  codegen.run(module);
  return true;
}

void optimize(Module &module, TargetMachine &machine) {
  LoopAnalysisManager loops;
  FunctionAnalysisManager functions;
  CGSCCAnalysisManager cgscc;
  ModuleAnalysisManager modules;
  PassBuilder builder(&machine);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  OptimizationLevel level = optLevel == 0   ? OptimizationLevel::O0
                            : optLevel == 1 ? OptimizationLevel::O1
                            : optLevel == 2 ? OptimizationLevel::O2
                                            : OptimizationLevel::O3;
  ModulePassManager pipeline = level == OptimizationLevel::O0
                                   ? builder.buildO0DefaultPipeline(level)
                                   : builder.buildPerModuleDefaultPipeline(level);
  pipeline.run(module, modules);
}

/// Runs `program` (found in `directories` or on PATH) with `args`.
int runTool(StringRef program, ArrayRef<StringRef> directories,
            ArrayRef<std::string> args) {
  ErrorOr<std::string> path = sys::findProgramByName(program, directories);
  if (!path)
    path = sys::findProgramByName(program); // then PATH
  if (!path)
    return fail("cannot find " + program + " (install it, see scripts/setup.sh)");
  SmallVector<StringRef> argv = {*path};
  argv.append(args.begin(), args.end());
  std::string message;
  if (sys::ExecuteAndWait(*path, argv, std::nullopt, {}, 0, 0, &message) != 0)
    return fail(program + " failed" + (message.empty() ? "" : ": " + message));
  return 0;
}

/// Writes `module` as an object to a temporary file and links it into
/// `output` (see link()).
int writeLinked(Module &module, TargetMachine &machine, StringRef output,
                const pquant::CPUTarget &target, bool isModel, bool shared,
                bool gpu);

/// Compiles `module` (pquant IR that is not a model) with `target`'s CPU
/// pipeline into a shared library of kernels at `path`: what --tune times.
mlir::LogicalResult compileKernelLibrary(mlir::ModuleOp module, StringRef path,
                                         const pquant::CPUTarget &target) {
  mlir::PassManager pm(module.getContext());
  // Every BitLinear of a benchmark carries its kernel; the strategy option
  // does not matter.
  pquant::buildCPUPipeline(pm, target, "auto", int8Tables());
  if (failed(pm.run(module)))
    return mlir::failure();
  LLVMContext llvmContext;
  std::unique_ptr<Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, llvmContext, "pquant-tune");
  if (!llvmModule)
    return module.emitError("translation to LLVM IR failed");
  Expected<std::unique_ptr<TargetMachine>> machine =
      target.createTargetMachine(optLevel);
  if (!machine)
    return module.emitError(toString(machine.takeError()));
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  llvmModule->setDataLayout((*machine)->createDataLayout());
  optimize(*llvmModule, **machine);
  return mlir::success(writeLinked(*llvmModule, **machine, path, target,
                                   /*isModel=*/false, /*shared=*/true,
                                   /*gpu=*/false) == 0);
}

/// Links `object` into `output`: a shared library of kernels, or for a
/// model an executable or shared library with the runtime. Kernels call the
/// runtime's thread pool, so a library of kernels takes that part of it.
int link(StringRef object, StringRef output, const pquant::CPUTarget &target,
         bool isModel, bool shared, bool gpu) {
  std::string libs = PQUANT_RUNTIME_LIB_DIR;
  std::string suffix = target.isAArch64() ? "_aarch64" : "";
  // The host links with clang, aarch64 with Debian's cross g++ and its sysroot.
  StringRef driver = target.isAArch64() ? "aarch64-linux-gnu-g++" : "clang++";
  SmallVector<std::string> args = {object.str(), "-o", output.str(), "-L" + libs};
  // A sanitizer build (cmake -DPQUANT_SANITIZE=ON) instruments the host
  // runtime libraries: their link needs the sanitizer runtime, which is a
  // shared library there, so host executables are not static.
  bool sanitized = false;
#ifdef PQUANT_HOST_LINK_FLAGS
  if (!target.isAArch64()) {
    SmallVector<StringRef> flags;
    StringRef(PQUANT_HOST_LINK_FLAGS).split(flags, ' ', -1, false);
    for (StringRef flag : flags)
      args.push_back(flag.str());
    sanitized = true;
  }
#endif
  if (!isModel) {
    append_range(args, SmallVector<std::string>{"-shared",
                                                "-lpquant_runtime" + suffix});
    return runTool(driver, {PQUANT_LLVM_TOOLS_DIR}, args);
  }
  if (gpu) {
    // GPU models load libcuda.so.1 with dlopen, so they are not static; the
    // CUDA backend goes in whole (the runtime refers to it weakly).
    if (shared)
      append_range(args, SmallVector<std::string>{
                             "-shared", "-Wl,--whole-archive", "-lpquant_runtime",
                             "-lpquant_cuda", "-Wl,--no-whole-archive"});
    else
      append_range(args, SmallVector<std::string>{
                             "-Wl,--whole-archive", "-lpquant_cuda",
                             "-Wl,--no-whole-archive", "-lpquant_main",
                             "-lpquant_runtime"});
    append_range(args, SmallVector<std::string>{"-lm", "-ldl"});
    return runTool(driver, {PQUANT_LLVM_TOOLS_DIR}, args);
  }
  if (shared)
    append_range(args, SmallVector<std::string>{
                           "-shared", "-Wl,--whole-archive",
                           "-lpquant_runtime" + suffix, "-Wl,--no-whole-archive"});
  else
    append_range(args, SmallVector<std::string>{"-static", "-lpquant_main" + suffix,
                                                "-lpquant_runtime" + suffix});
  if (sanitized)
    llvm::erase(args, "-static");
  args.push_back("-lm");
  return runTool(driver, {PQUANT_LLVM_TOOLS_DIR}, args);
}

int writeLinked(Module &module, TargetMachine &machine, StringRef output,
                const pquant::CPUTarget &target, bool isModel, bool shared,
                bool gpu) {
  SmallString<128> objectPath;
  if (std::error_code ec = sys::fs::createTemporaryFile("pquant", "o", objectPath))
    return fail("cannot create a temporary object file: " + ec.message());
  FileRemover removeObject(objectPath);
  {
    std::error_code ec;
    raw_fd_ostream object(objectPath, ec, sys::fs::OF_None);
    if (ec)
      return fail("cannot write " + objectPath + ": " + ec.message());
    if (!generateCode(module, machine, object, CodeGenFileType::ObjectFile))
      return fail("the target cannot emit object files");
  }
  return link(objectPath, output, target, isModel, shared, gpu);
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  std::string commandLine = join(ArrayRef<char *>(argv, argc), " ");
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  // LLVM's and MLIR's own options still work but would bury these in
  // hundreds of lines of --help.
  cl::HideUnrelatedOptions({&compileCategory});
  cl::ParseCommandLineOptions(
      argc, argv,
      "pquant-compile: compile pquant IR to a model for a CPU or an NVIDIA "
      "GPU\n\n"
      "Runs pquant-cpu-pipeline (or, for -target=sm_80/sm_90, "
      "pquant-gpu-pipeline; the same as pquant-opt's), then LLVM's optimizer "
      "and code generator for -target/-mcpu/-mattr, and writes what --emit "
      "asks for. A model (an input with prefill and decode functions) "
      "becomes an executable and its .pqw artifact; each function becomes a "
      "symbol with a C entry point _mlir_ciface_<name> taking memref "
      "descriptors.\n");
  if (optLevel > 3)
    return fail("-O" + Twine(optLevel.getValue()) + " is not 0, 1, 2 or 3");

  // A GPU target's host code is generic x86-64: it only launches kernels.
  bool gpu = pquant::isGPUTarget(targetName);
  Expected<pquant::CPUTarget> target =
      gpu ? pquant::CPUTarget::resolve("x86_64", "x86-64", "")
          : pquant::CPUTarget::resolve(targetName, cpuName, featureString);
  if (!target)
    return fail(toString(target.takeError()));
  if (tune && (gpu || !target->isHost))
    return fail("--tune times kernels on this machine: it needs -target=host, "
                "not -target=" + targetName);
  if (!tuneCache.empty() && !tune)
    return fail("--tune-cache needs --tune");
  if (gpu && (lmHead == LMHead::Int8 || embeddingTable == EmbeddingTable::Int8))
    return fail("--lm-head=int8 and --embedding=int8 are for CPU targets; "
                "-target=" + targetName + " runs the checkpoint's tables");
  if (!gpu && target->cpu.empty())
    WithColor::warning(errs(), "pquant-compile")
        << "no CPU named for " << targetName
        << ": generating generic code, which can be many times slower; pass "
           "-mcpu=<cpu> (or -target=host)\n";

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  registry.insert<pquant::PQuantDialect>();
  mlir::MLIRContext context(registry);

  std::string error;
  std::unique_ptr<MemoryBuffer> input = mlir::openInputFile(inputFile, &error);
  if (!input)
    return fail(error);
  SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1; // the parser reported where

  // A model (from pquant-import) becomes an executable and its weights
  // artifact; anything else (single layers) an object by default.
  bool isModel = (*module)->hasAttr("pquant.config");
  Emit kind = emit != Emit::Default ? emit.getValue()
              : isModel             ? Emit::Executable
                                    : Emit::Object;
  if (kind == Emit::Executable && !isModel)
    return fail("--emit=executable needs a model imported by pquant-import");
  if (kind == Emit::PTX && !gpu)
    return fail("--emit=ptx needs a GPU target (-target=sm_80 or -target=sm_90)");
  bool writesArtifact =
      isModel && (kind == Emit::Executable || kind == Emit::Shared);
  std::unique_ptr<pquant::Checkpoint> checkpoint;
  if (writesArtifact) {
    auto directory = (*module)->getAttrOfType<mlir::StringAttr>("pquant.checkpoint");
    if (!directory)
      return fail("the model has no pquant.checkpoint to read weights from; "
                  "import it without --inline-weights to build an executable");
    Expected<std::unique_ptr<pquant::Checkpoint>> loaded =
        pquant::Checkpoint::load(directory.getValue(), /*allowLatent=*/false);
    if (!loaded)
      return fail(toString(loaded.takeError()));
    checkpoint = std::move(*loaded);
  }

  std::optional<pquant::TuningTable> tuning;
  if (tune) {
    pquant::TuneOptions options;
    if (strategy != "auto")
      options.strategies = {strategy == "unpack-dot" ? "unpack_dot"
                                                     : strategy.getValue()};
    options.cachePath = tuneCache;
    mlir::FailureOr<pquant::TuningTable> tuned = pquant::tuneBitLinears(
        *module, *target, options,
        [&](mlir::ModuleOp benchmark, StringRef path) {
          return compileKernelLibrary(benchmark, path, *target);
        },
        [](const Twine &line) { errs() << "pquant-compile: " << line << "\n"; });
    if (failed(tuned))
      return 1; // reported as diagnostics
    tuning = std::move(*tuned);
  }

  mlir::DefaultTimingManager timing;
  mlir::applyDefaultTimingManagerCLOptions(timing);
  mlir::PassManager pm(&context);
  if (failed(mlir::applyPassManagerCLOptions(pm)))
    return 1;
  mlir::TimingScope timingScope = timing.getRootScope();
  pm.enableTiming(timingScope);
  // The KV cache shape the model's code indexes (static in its memref
  // types): exported so the runtime can refuse a .pqw whose config would
  // size the cache differently.
  SmallVector<int64_t, 4> cacheShape;
  if (isModel)
    if (auto decode = module->lookupSymbol<mlir::func::FuncOp>("decode"))
      for (mlir::Type type : decode.getArgumentTypes())
        if (auto cache = dyn_cast<mlir::MemRefType>(type);
            cache && cache.getRank() == 4 && cache.hasStaticShape()) {
          cacheShape.assign(cache.getShape().begin(), cache.getShape().end());
          break;
        }
  if (gpu)
    pquant::buildGPUPipeline(pm, targetName);
  else
    pquant::buildCPUPipeline(pm, *target, strategy, int8Tables());
  if (failed(pm.run(*module)))
    return 1;
  // GPU kernels: PTX for the .pqw of a model, else for the object itself.
  std::optional<pquant::GPUCode> gpuCode;
  if (gpu && kind != Emit::MLIR) {
    Expected<pquant::GPUCode> code = pquant::takeGPUCode(*module);
    if (!code)
      return fail(toString(code.takeError()));
    gpuCode = std::move(*code);
  }
  if (kind == Emit::PTX) {
    std::unique_ptr<ToolOutputFile> ptx = mlir::openOutputFile(outputFile, &error);
    if (!ptx)
      return fail(error);
    ptx->os() << gpuCode->ptx;
    ptx->keep();
    return 0;
  }

  bool linked = kind == Emit::Shared || kind == Emit::Executable;
  if (linked && outputFile == "-")
    return fail("writing a shared library or an executable needs -o <file>");
  std::unique_ptr<ToolOutputFile> output;
  if (!linked) {
    output = mlir::openOutputFile(outputFile, &error);
    if (!output)
      return fail(error);
  }
  // A model's code records the weights layout it reads, so the runtime can
  // refuse a .pqw written for other code.
  std::optional<pquant::WeightsTable> table;
  if (isModel && (*module)->hasAttr("pquant.weights")) {
    Expected<pquant::WeightsTable> read = pquant::WeightsTable::fromModule(*module);
    if (!read)
      return fail(toString(read.takeError()));
    table = std::move(*read);
  }
  if (writesArtifact) {
    if (!table)
      return fail("the model reads no weights from an artifact");
    std::string artifactPath = outputFile + ".pqw";
    pquant::Producer producer{PQUANT_VERSION, PQUANT_GIT_COMMIT, commandLine};
    auto progress = [&, last = std::chrono::steady_clock::now()](
                        size_t done, size_t total) mutable {
      auto now = std::chrono::steady_clock::now();
      if (done == total || now - last > std::chrono::seconds(1)) {
        errs() << "pquant-compile: writing " << artifactPath << ": " << done
               << "/" << total << " tensors\n";
        last = now;
      }
    };
    if (Error error = pquant::writeArtifact(artifactPath, *checkpoint, *table,
                                            *target, producer, progress,
                                            gpuCode ? &*gpuCode : nullptr,
                                            tuning ? &*tuning : nullptr))
      return fail(toString(std::move(error)));
  }

  if (kind == Emit::MLIR) {
    module->print(output->os());
    output->keep();
    return 0;
  }

  LLVMContext llvmContext;
  std::unique_ptr<Module> llvmModule =
      mlir::translateModuleToLLVMIR(*module, llvmContext, "pquant");
  if (!llvmModule)
    return fail("translation to LLVM IR failed");
  Expected<std::unique_ptr<TargetMachine>> machine =
      target->createTargetMachine(optLevel);
  if (!machine)
    return fail(toString(machine.takeError()));
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  llvmModule->setDataLayout((*machine)->createDataLayout());
  if (table) {
    // The runtime refuses a .pqw whose layout or data size differs from what
    // this code reads, before the code can read out of bounds.
    Type *i64 = Type::getInt64Ty(llvmContext);
    for (auto [name, value] :
         {std::pair<StringRef, uint64_t>{"pquant_weights_layout_id",
                                         table->layoutId()},
          {"pquant_weights_data_size", uint64_t(table->size)}})
      new GlobalVariable(*llvmModule, i64, /*isConstant=*/true,
                         GlobalValue::ExternalLinkage,
                         ConstantInt::get(i64, value), name);
    if (!cacheShape.empty()) {
      auto *shapeType = ArrayType::get(i64, cacheShape.size());
      SmallVector<Constant *, 4> dims;
      for (int64_t dim : cacheShape)
        dims.push_back(ConstantInt::get(i64, uint64_t(dim)));
      new GlobalVariable(*llvmModule, shapeType, /*isConstant=*/true,
                         GlobalValue::ExternalLinkage,
                         ConstantArray::get(shapeType, dims),
                         "pquant_kv_cache_shape");
    }
  }
  if (gpuCode)
    pquant::addGPUCodeGlobals(*llvmModule, *gpuCode, /*embed=*/!isModel);
  optimize(*llvmModule, **machine);

  switch (kind) {
  case Emit::Default:
  case Emit::MLIR:
  case Emit::PTX:
    break;
  case Emit::LLVM:
    llvmModule->print(output->os(), nullptr);
    output->keep();
    return 0;
  case Emit::Assembly:
  case Emit::Object:
    if (!generateCode(*llvmModule, **machine, output->os(),
                      emit == Emit::Assembly ? CodeGenFileType::AssemblyFile
                                             : CodeGenFileType::ObjectFile))
      return fail("the target cannot emit this file type");
    output->keep();
    return 0;
  case Emit::Shared:
  case Emit::Executable:
    return writeLinked(*llvmModule, **machine, outputFile, *target, isModel,
                       kind == Emit::Shared, gpu);
  }
  return 0;
}
