//===- LowerToGPU.cpp - pquant entry points to GPU kernels and host code ----===//
//
// Each public function becomes host code that launches kernels this pass
// generates into one gpu.module:
//
//   func.func @pquant_gpu_entry_<name>(%ctx: !llvm.ptr, %count: i64,
//                                      %buffers: !llvm.ptr)
//
// `buffers` holds the device addresses of the weights data section (when
// the module reads pquant.weight), of every argument (an `index` argument
// is the address of an i64 on the device) and of every result, in that
// order; `count` is the number of tokens M where shapes leave it open.
// The host code asks the runtime for scratch memory once
// (pquant_gpu_scratch) and launches each kernel through pquant_gpu_launch
// with 8-byte parameters.
//
//===----------------------------------------------------------------------===//

#include "GPUBuilder.h"
#include "Kernels.h"
#include "Persistent.h"

#include "pquant/Conversion/Passes.h"
#include "pquant/Dialect/PQuant/IR/PQuantOps.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <map>

namespace pquant {
#define GEN_PASS_DEF_LOWERTOGPU
#include "pquant/Conversion/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;
using namespace pquant::gpu;

namespace {

/// Alignment of weights in the data section (as pquant-externalize-weights).
constexpr int64_t kWeightAlignment = 64;
/// Scratch buffers: fixed ones at 256-byte offsets; per-token ones at
/// offsets that are multiples of 16 bytes per token, scaled by M rounded up
/// to 64, so 1024-byte aligned.
constexpr int64_t kFixedAlignment = 256, kPerTokenAlignment = 16,
                  kTokenRounding = 64;
/// Shared memory a kernel may declare statically.
constexpr int64_t kMaxAttentionRows = 8192;
/// A persistent kernel has one block of kRowThreads threads per SM (64
/// registers each): its row stages use the whole block, as their kernels
/// do, and its kThreads-thread stages run kRowThreads / kThreads blocks at
/// once, one per group of threads.
constexpr int64_t kPersistentBlocksPerSM = 1;
constexpr int64_t kGroups = kRowThreads / kThreads;
/// Static shared memory a block may have.
constexpr int64_t kMaxStaticShared = 48 * 1024;

std::string hexBits(float value) {
  return llvm::formatv("{0:x8}", llvm::bit_cast<uint32_t>(value)).str();
}

int64_t byteSize(ShapedType type, int64_t tokens) {
  int64_t elements = 1;
  for (auto [i, dim] : llvm::enumerate(type.getShape()))
    elements *= ShapedType::isDynamic(dim) ? (i == 0 ? tokens : 1) : dim;
  return elements * type.getElementTypeBitWidth() / 8;
}

/// Where a tensor lives on the device.
struct Location {
  enum Kind { Slot, Scratch } kind = Slot;
  int64_t slot = 0;   // index into the buffers array
  int64_t offset = 0; // bytes after the slot's address
  int64_t scratch = -1;
};

struct ScratchBuffer {
  bool perToken;
  int64_t bytes; // per token when perToken
  int64_t first = -1, last = -1;
  int64_t offset = 0;
};

/// A device buffer: the one holding a tensor value (aux 0), or one that a
/// kernel derives from it for others (the BitLinear activations of an int8
/// tensor, aux kBitActivations, and their sums, aux kBitSums).
using BufferKey = std::pair<Value, unsigned>;
constexpr unsigned kBitActivations = 1, kBitSums = 2;

/// One kernel launch: the buffers it reads and writes, in the kernel's
/// parameter order, and the value whose first dimension is M.
struct Launch {
  int64_t kernel;
  SmallVector<BufferKey> buffers;
  Value tokensOf;
};

/// The kernels of the module, created once per name. A kernel gets its
/// number in the host code's table when host code first launches it; one
/// that only serves as a persistent kernel's stage is erased at the end.
class KernelSet {
public:
  KernelSet(ModuleOp module, mlir::gpu::GPUModuleOp kernels)
      : module(module), kernels(kernels) {}

  using Body = llvm::function_ref<LaunchShape(ImplicitLocOpBuilder &, ValueRange)>;

  int64_t get(StringRef name, int64_t buffers, Body body) {
    auto it = index.find(name);
    if (it != index.end())
      return it->second;
    MLIRContext *context = module.getContext();
    SmallVector<Type> params(buffers, LLVM::LLVMPointerType::get(context, kGlobal));
    params.push_back(IntegerType::get(context, 64));
    OpBuilder builder(kernels.getBodyRegion());
    builder.setInsertionPointToEnd(kernels.getBody());
    auto func = mlir::gpu::GPUFuncOp::create(
        builder, module.getLoc(), name, builder.getFunctionType(params, {}));
    func->setAttr(mlir::gpu::GPUDialect::getKernelFuncAttrName(),
                  builder.getUnitAttr());
    Block &entry = func.getBody().front();
    ImplicitLocOpBuilder b(module.getLoc(), builder);
    b.setInsertionPointToStart(&entry);
    LaunchShape shape = body(b, entry.getArguments());
    mlir::gpu::ReturnOp::create(b);
    // Kernels that prefetch nothing wait for the earlier ones first thing.
    bool waits = false;
    func.walk([&](NVVM::GriddepcontrolOp) { waits = true; });
    if (!waits) {
      b.setInsertionPointToStart(&entry);
      waitForPriorKernels(b);
    }
    func.setKnownBlockSizeAttr(
        b.getDenseI32ArrayAttr({int32_t(shape.block), 1, 1}));
    if (shape.minBlocksPerSM)
      func->setAttr(NVVM::NVVMDialect::getMinctasmAttrName(),
                    b.getI32IntegerAttr(shape.minBlocksPerSM));
    all.push_back({func, shape, -1});
    index[name] = all.size() - 1;
    return all.size() - 1;
  }

  const LaunchShape &shape(int64_t kernel) const { return all[kernel].shape; }
  mlir::gpu::GPUFuncOp func(int64_t kernel) const { return all[kernel].func; }

  /// The kernel's number in the table of launched kernels.
  int64_t launchIndex(int64_t kernel) {
    Kernel &k = all[kernel];
    if (k.launchIndex < 0) {
      k.launchIndex = names.size();
      names.push_back(k.func.getName().str());
    }
    return k.launchIndex;
  }

  void eraseUnlaunched() {
    for (Kernel &k : all)
      if (k.launchIndex < 0)
        k.func.erase();
    all.clear();
  }

  ArrayRef<std::string> getNames() const { return names; }

private:
  struct Kernel {
    mlir::gpu::GPUFuncOp func;
    LaunchShape shape;
    int64_t launchIndex;
  };
  ModuleOp module;
  mlir::gpu::GPUModuleOp kernels;
  llvm::StringMap<int64_t> index;
  std::vector<Kernel> all;
  std::vector<std::string> names;
};

/// The weights table of the module: one 64-byte aligned offset per (name,
/// type), shared by every entry point, recorded as `pquant.weights` in the
/// format of pquant-externalize-weights.
class WeightsTable {
public:
  int64_t offsetOf(WeightOp weight) {
    auto key = std::make_pair(weight.getNameAttr(), weight.getType());
    auto [it, inserted] = offsets.try_emplace(key, size);
    if (inserted) {
      auto type = cast<RankedTensorType>(weight.getType());
      size = llvm::alignTo(size + byteSize(type, 0), kWeightAlignment);
    }
    return it->second;
  }

  void record(ModuleOp module) {
    if (offsets.empty())
      return;
    Builder attrs(module.getContext());
    SmallVector<Attribute> tensors;
    for (auto [key, offset] : offsets)
      tensors.push_back(attrs.getDictionaryAttr({
          attrs.getNamedAttr("name", key.first),
          attrs.getNamedAttr("offset", attrs.getI64IntegerAttr(offset)),
          attrs.getNamedAttr("type", TypeAttr::get(key.second)),
      }));
    module->setAttr("pquant.weights",
                    attrs.getDictionaryAttr({
                        attrs.getNamedAttr("size", attrs.getI64IntegerAttr(size)),
                        attrs.getNamedAttr("tensors", attrs.getArrayAttr(tensors)),
                    }));
  }

private:
  llvm::MapVector<std::pair<StringAttr, Type>, int64_t> offsets;
  int64_t size = 0;
};

/// Lowers one entry function.
class EntryLowering {
public:
  EntryLowering(func::FuncOp func, KernelSet &kernels, WeightsTable &weights,
                bool hasWeightsSlot, bool persistent)
      : func(func), kernels(kernels), weights(weights),
        firstArgSlot(hasWeightsSlot ? 1 : 0), persistent(persistent) {}

  LogicalResult run() {
    if (failed(assignSlots()))
      return failure();
    // Weights first: a kernel shared by several ops reads them all.
    func.walk([&](WeightOp weight) {
      locations[{weight.getResult(), 0}] = {Location::Slot, 0,
                                            weights.offsetOf(weight)};
    });
    for (Operation &op : func.getBody().front())
      if (!handled.contains(&op) && failed(lower(&op)))
        return failure();
    fuseLaunches();
    allocateScratch();
    if (persistent && failed(buildPersistent()))
      return failure();
    emitHost();
    return success();
  }

private:
  Value root(Value value) const {
    for (auto it = aliases.find(value); it != aliases.end();
         it = aliases.find(value))
      value = it->second;
    return value;
  }

  LogicalResult assignSlots() {
    if (!func.getBody().hasOneBlock())
      return func.emitError("pquant-lower-to-gpu: entry points must have one block");
    int64_t slot = firstArgSlot;
    for (BlockArgument arg : func.getArguments()) {
      Type type = arg.getType();
      auto tensor = dyn_cast<RankedTensorType>(type);
      if (tensor) {
        for (auto [i, dim] : llvm::enumerate(tensor.getShape()))
          if (ShapedType::isDynamic(dim) && i != 0)
            return func.emitError("pquant-lower-to-gpu: argument of type ")
                   << type << " has a dynamic dimension other than the first "
                   "(tokens)";
      } else if (auto memref = dyn_cast<MemRefType>(type)) {
        if (!memref.hasStaticShape() || !memref.getLayout().isIdentity())
          return func.emitError("pquant-lower-to-gpu: memref argument ")
                 << type << " must have a static shape and identity layout";
      } else if (!type.isIndex()) {
        return func.emitError("pquant-lower-to-gpu: unsupported argument type ")
               << type;
      }
      locations[{arg, 0}] = {Location::Slot, slot++};
    }
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    for (Value result : ret.getOperands()) {
      if (!isa<RankedTensorType>(result.getType()) || isa<BlockArgument>(result) ||
          resultSlots.count(result))
        return func.emitError("pquant-lower-to-gpu: results must be distinct "
                              "tensors computed by the function");
      resultSlots[result] = slot++;
    }
    numSlots = slot;
    return success();
  }

  /// The device location of the tensor `value` produced by `op`: the result
  /// slot if it is returned, else a new scratch buffer.
  void define(Value value) {
    if (auto it = resultSlots.find(value); it != resultSlots.end()) {
      locations[{value, 0}] = {Location::Slot, it->second};
      return;
    }
    auto type = cast<ShapedType>(value.getType());
    defineScratch({value, 0}, type.getRank() > 0 && type.isDynamicDim(0),
                  byteSize(type, 1));
  }

  /// A scratch buffer of `bytes` (per token when `perToken`) for `key`.
  void defineScratch(BufferKey key, bool perToken, int64_t bytes) {
    int64_t aligned = int64_t(
        llvm::alignTo(bytes, perToken ? kPerTokenAlignment : kFixedAlignment));
    scratch.push_back({perToken, aligned});
    locations[key] = {Location::Scratch, 0, 0, int64_t(scratch.size() - 1)};
  }

  /// The BitLinear activations and sums of the int8 tensor `q`.
  void defineBitActivations(Value q) {
    auto type = cast<ShapedType>(q.getType());
    bool perToken = type.isDynamicDim(0);
    int64_t tokens = perToken ? 1 : type.getDimSize(0);
    defineScratch({q, kBitActivations}, perToken,
                  tokens * bitGroups(type.getDimSize(1)) * 128);
    defineScratch({q, kBitSums}, perToken, tokens * 4);
  }

  void launch(int64_t kernel, ArrayRef<BufferKey> buffers, Value tokensOf) {
    launches.push_back(Launch{kernel, SmallVector<BufferKey>(buffers), tokensOf});
  }

  void launch(int64_t kernel, ArrayRef<Value> buffers, Value tokensOf) {
    SmallVector<BufferKey> keys;
    for (Value buffer : buffers)
      keys.push_back({buffer, 0});
    launch(kernel, keys, tokensOf);
  }

  /// Defines the results of `op` and launches `kernel` on `operands` then
  /// the results (and any `extra` buffers after the results).
  void launchOp(Operation *op, int64_t kernel, ValueRange operands,
                Value tokensOf) {
    for (Value result : op->getResults())
      define(result);
    SmallVector<Value> buffers(operands.begin(), operands.end());
    append_range(buffers, op->getResults());
    launch(kernel, buffers, tokensOf);
  }

  static int64_t dim(Value value, int64_t i) {
    return cast<ShapedType>(value.getType()).getDimSize(i);
  }

  static bool isF16(Value value) {
    return cast<ShapedType>(value.getType()).getElementType().isF16();
  }

  LogicalResult lower(Operation *op) {
    return llvm::TypeSwitch<Operation *, LogicalResult>(op)
        .Case([&](func::ReturnOp) { return success(); })
        // Shapes: the host code knows every size, M included.
        .Case([&](tensor::DimOp) { return success(); })
        .Case([&](WeightOp) { return success(); }) // placed up front
        .Case([&](tensor::ExpandShapeOp expand) {
          return alias(expand.getResult(), expand.getSrc());
        })
        .Case([&](tensor::CollapseShapeOp collapse) {
          return alias(collapse.getResult(), collapse.getSrc());
        })
        .Case([&](tensor::GenerateOp generate) { return lowerPositions(generate); })
        .Case([&](arith::ConstantOp constant) -> LogicalResult {
          if (isa<RankedTensorType>(constant.getType()) && !constant->use_empty())
            return constant.emitOpError(
                       "is a tensor constant, which the GPU target cannot "
                       "place yet")
                       .attachNote()
                   << "pass weights as pquant.weight references (import "
                      "without --inline-weights) or as arguments";
          return success();
        })
        .Case([&](arith::AddFOp addf) -> LogicalResult {
          auto type = dyn_cast<RankedTensorType>(addf.getType());
          if (!type || type.getRank() != 2 || !type.getElementType().isF32())
            return addf.emitOpError("on the GPU target must add f32 matrices");
          int64_t width = type.getDimSize(1);
          int64_t kernel = kernels.get(
              "add_" + std::to_string(width), 3,
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                return buildAdd(b, args, width);
              });
          launchOp(op, kernel, {addf.getLhs(), addf.getRhs()}, addf.getLhs());
          return success();
        })
        .Case([&](QuantizeOp quantize) {
          // In decode, the BitLinear GEMV that reads it quantizes itself.
          if (std::optional<FusedQuantize> fused = bitLinearPrologue(quantize)) {
            if (fused->store) {
              define(quantize.getOutput());
              define(quantize.getScale());
            }
            fusedQuantizes[quantize.getOutput()] = std::move(*fused);
            return success();
          }
          // Likewise an int8 or expert linear that is its only user.
          if (std::optional<FusedQuantize> fused = int8Prologue(quantize)) {
            fusedQuantizes[quantize.getOutput()] = std::move(*fused);
            return success();
          }
          int64_t k = dim(quantize.getInput(), 1);
          // For BitLinear consumers, also their activation layout.
          bool forBitLinear = llvm::any_of(quantize.getOutput().getUsers(), [&](Operation *user) {
            auto linear = dyn_cast<BitLinearOp>(user);
            return linear && linear.getInput() == quantize.getOutput();
          });
          QuantizeInput input;
          SmallVector<BufferKey> buffers;
          std::tie(input, buffers) = quantizeSource(quantize);
          int64_t inputs = buffers.size();
          int64_t kernel = kernels.get(
              (forBitLinear ? "quantize_bit_" : "quantize_") + input.name() +
                  std::to_string(k),
              inputs + (forBitLinear ? 4 : 2),
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                return buildQuantize(b, args, k, forBitLinear, input);
              });
          define(quantize.getOutput());
          define(quantize.getScale());
          Value q = quantize.getOutput();
          buffers.push_back({q, 0});
          buffers.push_back({quantize.getScale(), 0});
          if (forBitLinear) {
            defineBitActivations(q);
            buffers.push_back({q, kBitActivations});
            buffers.push_back({q, kBitSums});
          }
          launch(kernel, buffers, quantize.getInput());
          return success();
        })
        .Case([&](BitLinearOp linear) { return lowerBitLinears(linear); })
        .Case([&](Int8LinearOp linear) { return lowerInt8Linears(linear); })
        .Case([&](ExpertLinearOp linear) { return lowerInt8Linears(linear); })
        .Case([&](FloatLinearOp linear) {
          int64_t n = dim(linear.getWeight(), 0), k = dim(linear.getWeight(), 1);
          bool f16 = isF16(linear.getWeight());
          int64_t tokens = dim(linear.getInput(), 0) == 1 ? 1 : 4;
          int64_t kernel = kernels.get(
              llvm::formatv("float_linear_{0}x{1}_{2}_t{3}", n, k, f16 ? "f16" : "f32",
                            tokens)
                  .str(),
              3, [&](ImplicitLocOpBuilder &b, ValueRange args) {
                return buildFloatLinear(b, args, n, k, f16, tokens);
              });
          launchOp(op, kernel, linear->getOperands(), linear.getInput());
          return success();
        })
        .Case([&](EmbeddingOp embedding) -> LogicalResult {
          if (embedding.getScales())
            return embedding.emitOpError(
                "with an int8 table has no lowering to the GPU target");
          int64_t v = dim(embedding.getTable(), 0), d = dim(embedding.getTable(), 1);
          bool f16 = isF16(embedding.getTable());
          int64_t kernel = kernels.get(
              llvm::formatv("embedding_{0}x{1}_{2}", v, d, f16 ? "f16" : "f32").str(), 3,
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                return buildEmbedding(b, args, v, d, f16);
              });
          launchOp(op, kernel, embedding->getOperands(), embedding.getTokens());
          return success();
        })
        .Case([&](RMSNormOp norm) {
          if (fusedIntoQuantize(norm))
            return success(); // computed by the quantize kernel
          int64_t d = dim(norm.getInput(), 1);
          bool hasWeight = static_cast<bool>(norm.getWeight());
          bool f16 = hasWeight && isF16(norm.getWeight());
          float eps = norm.getEps().convertToFloat();
          std::string name = llvm::formatv("rms_norm_{0}_{1}_eps{2}", d,
                                           hasWeight ? (f16 ? "wf16" : "wf32") : "nw",
                                           hexBits(eps))
                                 .str();
          int64_t normBuffers = hasWeight ? 3 : 2;
          // A router of the norm's output (the FFN's): the same kernel, after
          // the norm, from the row it wrote.
          if (RouterOp router = routerOf(norm)) {
            int64_t e = dim(router.getWeight(), 0), topK = router.getTopK();
            std::string routerName = llvm::formatv("router_{0}x{1}_k{2}", e, d, topK).str();
            int64_t kernel = kernels.get(
                name + "_" + routerName, normBuffers + 3,
                [&](ImplicitLocOpBuilder &b, ValueRange args) {
                  return buildNormRouter(b, args, name + "_" + routerName, d, hasWeight, f16,
                                         eps, e, topK);
                });
            define(norm.getResult());
            define(router.getExperts());
            define(router.getGates());
            handled.insert(router);
            SmallVector<Value> buffers(norm->getOperands());
            buffers.append({norm.getResult(), router.getWeight(), router.getExperts(),
                            router.getGates()});
            launch(kernel, buffers, norm.getInput());
            return success();
          }
          int64_t kernel = kernels.get(
              name, normBuffers, [&](ImplicitLocOpBuilder &b, ValueRange args) {
                return buildRMSNorm(b, args, d, hasWeight, f16, eps);
              });
          launchOp(op, kernel, norm->getOperands(), norm.getInput());
          return success();
        })
        .Case([&](RoPEOp rope) -> LogicalResult {
          if (ropeFusion(rope))
            return success(); // done by the attention's cache-write kernel
          int64_t heads = dim(rope.getInput(), 1), headDim = dim(rope.getInput(), 2);
          double theta = rope.getTheta().convertToDouble();
          std::string name = llvm::formatv("rope_{0}x{1}_theta{2}", heads, headDim,
                                           hexBits(float(theta)))
                                 .str();
          int64_t kernel = kernels.get(name, 3, [&](ImplicitLocOpBuilder &b,
                                                    ValueRange args) {
            return buildRoPE(b, args, name, heads, headDim, theta);
          });
          launchOp(op, kernel, rope->getOperands(), rope.getInput());
          return success();
        })
        .Case([&](AttentionOp attention) { return lowerAttention(attention); })
        .Case([&](SiluMulOp silu) {
          if (fusedIntoQuantize(silu) || siluPaired(silu))
            return success(); // computed by the quantize or BitLinear kernel
          int64_t f = dim(silu.getGate(), 1);
          int64_t kernel = kernels.get(
              "silu_mul_" + std::to_string(f), 3,
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                return buildSiluMul(b, args, f);
              });
          launchOp(op, kernel, silu->getOperands(), silu.getGate());
          return success();
        })
        .Case([&](RouterOp router) -> LogicalResult {
          int64_t d = dim(router.getInput(), 1), e = dim(router.getWeight(), 0);
          int64_t topK = router.getTopK();
          if (e > kWarp)
            return router.emitOpError("on the GPU target supports at most ")
                   << kWarp << " experts, not " << e;
          std::string name = llvm::formatv("router_{0}x{1}_k{2}", e, d, topK).str();
          int64_t kernel = kernels.get(name, 4, [&](ImplicitLocOpBuilder &b,
                                                    ValueRange args) {
            return buildRouter(b, args, name, d, e, topK);
          });
          launchOp(op, kernel, router->getOperands(), router.getInput());
          return success();
        })
        .Case([&](CombineOp combine) {
          int64_t d = dim(combine.getBinary(), 1);
          int64_t count = combine.getExperts().size();
          bool weighted = combine.getGateWeighting();
          float alpha = combine.getAlpha().convertToFloat();
          float beta = combine.getBeta().convertToFloat();
          SmallVector<Value> operands = {combine.getBinary()};
          append_range(operands, combine.getExperts());
          if (weighted)
            operands.push_back(combine.getGates());
          // x + combine (the FFN's residual) in the same kernel.
          Value result = combine.getResult();
          Value residual = readyResidual(result, combine);
          if (residual) {
            operands.push_back(residual);
            result = (*result.getUsers().begin())->getResult(0);
            handled.insert(*combine.getResult().getUsers().begin());
          }
          int64_t kernel = kernels.get(
              llvm::formatv("combine_{0}_n{1}_a{2}_b{3}{4}{5}", d, count, hexBits(alpha),
                            hexBits(beta), weighted ? "_gated" : "",
                            residual ? "_residual" : "")
                  .str(),
              operands.size() + 1, [&](ImplicitLocOpBuilder &b, ValueRange args) {
                return buildCombine(b, args, d, count, weighted, alpha, beta,
                                    static_cast<bool>(residual));
              });
          define(result);
          SmallVector<Value> buffers(operands.begin(), operands.end());
          buffers.push_back(result);
          launch(kernel, buffers, combine.getBinary());
          return success();
        })
        .Default([](Operation *op) {
          return op->emitOpError("has no lowering to the GPU target");
        });
  }

  /// `other` when `value`'s only user is `value + other` (or `other +
  /// value`) and `other` is ready before `before`: a residual a kernel can
  /// add as it writes `value`.
  static Value readyResidual(Value value, Operation *before) {
    if (!value.hasOneUse())
      return Value();
    auto add = dyn_cast<arith::AddFOp>(*value.getUsers().begin());
    if (!add || add.getType() != value.getType())
      return Value();
    Value other = add.getLhs() == value ? add.getRhs() : add.getLhs();
    if (other == value)
      return Value();
    return definedBefore(other, before) ? other : Value();
  }

  /// What the kernel computing `quantize` quantizes, and the buffers that
  /// reads: an RMS norm or SiLU product made only for this quantize is
  /// computed by the same kernel, from its operands; else the input itself.
  static std::pair<QuantizeInput, SmallVector<BufferKey>>
  quantizeSource(QuantizeOp quantize) {
    QuantizeInput input;
    SmallVector<BufferKey> buffers;
    Operation *producer = quantize.getInput().getDefiningOp();
    if (!producer || !fusedIntoQuantize(producer)) {
      buffers.push_back({quantize.getInput(), 0});
      return {input, buffers};
    }
    if (auto norm = dyn_cast<RMSNormOp>(producer)) {
      input.kind = QuantizeInput::Norm;
      input.hasWeight = static_cast<bool>(norm.getWeight());
      input.f16Weight = input.hasWeight && isF16(norm.getWeight());
      input.eps = norm.getEps().convertToFloat();
    } else {
      input.kind = QuantizeInput::SiluMul;
    }
    for (Value operand : producer->getOperands())
      buffers.push_back({operand, 0});
    return {input, buffers};
  }

  /// Whether `value` exists before `op` runs: an argument, or defined by an
  /// earlier op of the block.
  static bool definedBefore(Value value, Operation *op) {
    return isa<BlockArgument>(value) || value.getDefiningOp()->isBeforeInBlock(op);
  }

  /// A decode quantize that the BitLinear GEMV reading it computes in its
  /// prologue: its input (an RMS norm computed there too, or a plain f32
  /// row), and whether q and s also have other users, for which block 0
  /// stores them.
  struct FusedQuantize {
    QuantizeInput input;
    SmallVector<BufferKey> inputs;
    bool store = false;
  };

  /// Whether `quantize` is computed by its BitLinear GEMV: M = 1, the first
  /// user of q and s is a BitLinear of them (so every other user comes after
  /// that launch), and its input is not a SiLU product (whose exp every
  /// block would redo).
  std::optional<FusedQuantize> bitLinearPrologue(QuantizeOp quantize) {
    Value q = quantize.getOutput(), s = quantize.getScale();
    if (dim(quantize.getInput(), 0) != 1)
      return std::nullopt;
    int64_t k = dim(quantize.getInput(), 1);
    // The activations in shared memory, 144 bytes per 128 columns.
    if (bitGroups(k) * 144 > 24 * 1024)
      return std::nullopt;
    FusedQuantize fused;
    Operation *first = nullptr;
    for (Value v : {q, s})
      for (Operation *user : v.getUsers()) {
        auto linear = dyn_cast<BitLinearOp>(user);
        if (!linear || linear.getInput() != q || linear.getInputScale() != s)
          fused.store = true;
        else if (!first || user->isBeforeInBlock(first))
          first = user;
      }
    if (!first)
      return std::nullopt;
    for (Value v : {q, s})
      for (Operation *user : v.getUsers())
        if (user != first && user->isBeforeInBlock(first))
          return std::nullopt;
    std::tie(fused.input, fused.inputs) = quantizeSource(quantize);
    if (fused.input.kind == QuantizeInput::SiluMul)
      return std::nullopt;
    // A norm of a norm whose result other ops read (the FFN's norm, which
    // the router reads, then subln): the prologue computes both from the
    // first norm's input, so this GEMV does not read what the first norm's
    // kernel writes, and the two kernels can be one launch (fuseLaunches).
    if (fused.input.kind == QuantizeInput::Norm) {
      auto outer = quantize.getInput().getDefiningOp<RMSNormOp>();
      auto inner = outer ? outer.getInput().getDefiningOp<RMSNormOp>() : RMSNormOp();
      if (inner && !inner->hasOneUse() && !fusedIntoQuantize(inner) &&
          inner.getInput().getType() == outer.getInput().getType()) {
        fused.input.preNorm = true;
        fused.input.preHasWeight = static_cast<bool>(inner.getWeight());
        fused.input.preF16Weight = fused.input.preHasWeight && isF16(inner.getWeight());
        fused.input.preEps = inner.getEps().convertToFloat();
        fused.inputs = {{inner.getInput(), 0}};
        if (inner.getWeight())
          fused.inputs.push_back({inner.getWeight(), 0});
        if (outer.getWeight())
          fused.inputs.push_back({outer.getWeight(), 0});
      }
    }
    return fused;
  }

  /// A router of the output of `norm` that the norm's kernel can run: at
  /// most a warp of experts, its weight ready before the norm.
  static RouterOp routerOf(RMSNormOp norm) {
    for (Operation *user : norm.getResult().getUsers()) {
      auto router = dyn_cast<RouterOp>(user);
      if (!router || router.getInput() != norm.getResult() ||
          dim(router.getWeight(), 0) > kWarp)
        continue;
      Value weight = router.getWeight();
      if (definedBefore(weight, norm) || weight.getDefiningOp<WeightOp>())
        return router;
    }
    return RouterOp();
  }

  /// Whether `quantize` is computed by the int8 or expert linear that is the
  /// only user of q and s: M = 1 and K small enough that every block can
  /// quantize the row (a SiLU product only up to 1024 columns).
  std::optional<FusedQuantize> int8Prologue(QuantizeOp quantize) {
    Value q = quantize.getOutput(), s = quantize.getScale();
    if (dim(quantize.getInput(), 0) != 1 || !q.hasOneUse() || !s.hasOneUse() ||
        *q.getUsers().begin() != *s.getUsers().begin() ||
        !isa<Int8LinearOp, ExpertLinearOp>(*q.getUsers().begin()))
      return std::nullopt;
    int64_t k = dim(quantize.getInput(), 1);
    FusedQuantize fused;
    std::tie(fused.input, fused.inputs) = quantizeSource(quantize);
    if (k > (fused.input.kind == QuantizeInput::SiluMul ? 1024 : 4096))
      return std::nullopt;
    return fused;
  }

  /// The combine whose only expert output is that of `linear` (top-1, the
  /// linear's only user) when the linear's kernel can compute it: binary and
  /// gates are ready before the linear.
  static CombineOp combineEpilogue(Operation *linear, int64_t count) {
    Value result = linear->getResult(0);
    if (count != 1 || !result.hasOneUse())
      return CombineOp();
    auto combine = dyn_cast<CombineOp>(*result.getUsers().begin());
    if (!combine || combine.getExperts().size() != 1 || combine.getBinary() == result ||
        combine.getBinary().getType() != result.getType())
      return CombineOp();
    if (!definedBefore(combine.getBinary(), linear) ||
        (combine.getGateWeighting() && !definedBefore(combine.getGates(), linear)))
      return CombineOp();
    return combine;
  }

  /// The BitLinears whose only user is `silu` as its gate and up, when one
  /// decode launch computes them and silu(gate) · up in its epilogue: the
  /// only two BitLinears of their input, gate first, of equal N.
  static std::optional<std::pair<BitLinearOp, BitLinearOp>> siluPair(SiluMulOp silu) {
    auto gate = silu.getGate().getDefiningOp<BitLinearOp>();
    auto up = silu.getUp().getDefiningOp<BitLinearOp>();
    if (!gate || !up || gate == up || !gate->hasOneUse() || !up->hasOneUse() ||
        dim(silu.getGate(), 0) != 1 || !up->isBeforeInBlock(silu) ||
        !gate->isBeforeInBlock(up) || gate.getInput() != up.getInput() ||
        gate.getInputScale() != up.getInputScale() ||
        dim(gate.getResult(), 1) != dim(up.getResult(), 1))
      return std::nullopt;
    int64_t linears = 0;
    for (Operation *user : gate.getInput().getUsers())
      linears += isa<BitLinearOp>(user);
    if (linears != 2)
      return std::nullopt;
    return std::make_pair(gate, up);
  }
  static bool siluPaired(Operation *op) {
    auto silu = dyn_cast<SiluMulOp>(op);
    return silu && siluPair(silu).has_value();
  }

  /// Whether `op` (an RMS norm or SiLU product) is computed by the kernel of
  /// the quantize that is its only user; its result then needs no buffer.
  static bool fusedIntoQuantize(Operation *op) {
    if (!isa<RMSNormOp, SiluMulOp>(op) || !op->getResult(0).hasOneUse() || siluPaired(op))
      return false;
    auto quantize = dyn_cast<QuantizeOp>(*op->getResult(0).getUsers().begin());
    int64_t width = cast<ShapedType>(op->getResult(0).getType()).getDimSize(1);
    // Its row is staged in shared memory.
    return quantize && width * 4 <= 40 * 1024;
  }

  /// The RoPEs of the query and key of `attention` when one kernel can do
  /// them with the cache write: each is only used there, same positions and
  /// theta.
  static std::optional<std::pair<RoPEOp, RoPEOp>> ropeFusion(AttentionOp attention) {
    auto query = attention.getQuery().getDefiningOp<RoPEOp>();
    auto key = attention.getKey().getDefiningOp<RoPEOp>();
    if (!query || !key || query == key || !query->hasOneUse() || !key->hasOneUse() ||
        query.getPositions() != key.getPositions() || query.getTheta() != key.getTheta() ||
        attention.getValue() == attention.getQuery())
      return std::nullopt;
    return std::make_pair(query, key);
  }
  static bool ropeFusion(RoPEOp rope) {
    if (!rope->hasOneUse())
      return false;
    auto attention = dyn_cast<AttentionOp>(*rope->getUsers().begin());
    return attention && ropeFusion(attention).has_value();
  }

  /// An int8 or expert linear and the next one of the same input, routing
  /// and weight shape (an expert's gate and up) in one launch.
  LogicalResult lowerInt8Linears(Operation *first) {
    using Operands = std::tuple<Value, Value, Value, Value, Value, std::optional<int64_t>>;
    auto operandsOf = [](Operation *op) -> Operands {
      if (auto expert = dyn_cast<ExpertLinearOp>(op))
        return {expert.getInput(), expert.getInputScale(), expert.getWeight(),
                expert.getWeightScale(), expert.getExperts(), expert.getSlot()};
      auto dense = cast<Int8LinearOp>(op);
      return {dense.getInput(), dense.getInputScale(), dense.getWeight(),
              dense.getWeightScale(), Value(), std::nullopt};
    };
    auto [q, s, w, ws, ids, slot] = operandsOf(first);
    SmallVector<Operation *> group = {first};
    for (Operation *op = first->getNextNode(); op && group.size() < 2; op = op->getNextNode()) {
      if (op->getName() != first->getName() || handled.contains(op))
        continue;
      auto [q2, s2, w2, ws2, ids2, slot2] = operandsOf(op);
      if (q2 == q && s2 == s && ids2 == ids && slot2 == slot && w2.getType() == w.getType() &&
          ws2.getType() == ws.getType())
        group.push_back(op);
    }
    auto weightType = cast<ShapedType>(w.getType());
    int64_t experts = ids ? weightType.getDimSize(0) : 1;
    int64_t n = weightType.getDimSize(weightType.getRank() - 2);
    int64_t k = weightType.getDimSize(weightType.getRank() - 1);
    int64_t topK = ids ? dim(ids, 1) : 1;
    int64_t count = group.size();
    std::string name =
        ids ? llvm::formatv("expert_linear_{0}x{1}x{2}_k{3}_slot{4}_m{5}", experts, n, k,
                            topK, *slot, count)
                  .str()
            : llvm::formatv("int8_linear_{0}x{1}_m{2}", n, k, count).str();
    Int8Extras extras;
    SmallVector<BufferKey> buffers;
    // The quantize is this kernel's prologue (unless a BitLinear's kernel
    // computed it and stored q and s).
    if (auto fused = fusedQuantizes.find(q);
        fused != fusedQuantizes.end() && !fused->second.store) {
      extras.prologue = fused->second.input;
      buffers = fused->second.inputs;
      name += "_q" + extras.prologue->name();
    } else {
      buffers = {{q, 0}, {s, 0}};
    }
    for (Operation *op : group) {
      auto [q2, s2, w2, ws2, ids2, slot2] = operandsOf(op);
      buffers.push_back({w2, 0});
      buffers.push_back({ws2, 0});
    }
    if (ids)
      buffers.push_back({ids, 0});
    // The FFN's combine (and its residual add) of this top-1 expert output.
    Value result = first->getResult(0);
    if (CombineOp combine = combineEpilogue(first, count)) {
      Value residual = readyResidual(combine.getResult(), first);
      extras.combine = Int8Extras::CombineEpilogue{
          combine.getGateWeighting(), combine.getAlpha().convertToFloat(),
          combine.getBeta().convertToFloat(), static_cast<bool>(residual)};
      name += llvm::formatv("_combine_a{0}_b{1}{2}{3}", hexBits(extras.combine->alpha),
                            hexBits(extras.combine->beta),
                            extras.combine->gateWeighting ? "_gated" : "",
                            residual ? "_residual" : "")
                  .str();
      buffers.push_back({combine.getBinary(), 0});
      if (extras.combine->gateWeighting)
        buffers.push_back({combine.getGates(), 0});
      handled.insert(combine);
      result = combine.getResult();
      if (residual) {
        buffers.push_back({residual, 0});
        Operation *add = *result.getUsers().begin();
        handled.insert(add);
        result = add->getResult(0);
      }
    }
    for (Operation *op : group) {
      handled.insert(op);
      if (extras.combine)
        continue;
      define(op->getResult(0));
      buffers.push_back({op->getResult(0), 0});
    }
    if (extras.combine) {
      define(result);
      buffers.push_back({result, 0});
    }
    // A copy: lambdas cannot capture structured bindings (C++17).
    auto expertSlot = slot;
    int64_t kernel = kernels.get(
        name, buffers.size(), [&](ImplicitLocOpBuilder &b, ValueRange args) {
          return buildInt8Linear(b, args, n, k, experts, expertSlot, topK,
                                 count, extras);
        });
    launch(kernel, buffers, first->getResult(0));
    return success();
  }

  static LogicalResult checkLayout(BitLinearOp linear) {
    PackedLayoutAttr layout = getPackedLayout(linear.getWeight().getType());
    if (layout && layout.getWord() == kWordBits && layout.getTileRows() == kTileRows &&
        layout.getTileWords() == kTileWords && layout.getBitOrder() == BitOrder::LsbFirst)
      return success();
    return linear.emitOpError("needs its weight packed in 32-bit words, lsb_first, "
                              "tile = [8, 4] for the GPU BitLinear kernels")
               .attachNote()
           << "run pquant-pack-weights with word=32 tile-rows=8 tile-words=4 first";
  }

  /// `linear` and every later BitLinear of the same input in one launch (q,
  /// k and v; gate and up); a residual `arith.addf` that is a BitLinear's
  /// only user is folded into it.
  LogicalResult lowerBitLinears(BitLinearOp first) {
    Value q = root(first.getInput()), s = first.getInputScale();
    int64_t k = getPackedLayout(first.getWeight().getType())
                    ? getPackedLayout(first.getWeight().getType()).getCols()
                    : dim(first.getInput(), 1);
    SmallVector<BitLinearOp> group;
    for (Operation *op = first; op; op = op->getNextNode())
      if (auto linear = dyn_cast<BitLinearOp>(op))
        if (!handled.contains(op) && root(linear.getInput()) == q &&
            linear.getInputScale() == s)
          group.push_back(linear);
    BitLinearConfig config;
    config.k = k;
    // Decode: the GEMV; several tokens: the tensor-core kernel.
    config.tokens = dim(first.getInput(), 0) == 1 ? 1 : kMmaTokens;
    // gate and up whose only user is a SiLU product: it is the output.
    SiluMulOp silu;
    if (group.size() == 2 && group[0]->hasOneUse())
      if (auto user = dyn_cast<SiluMulOp>(*group[0]->getUsers().begin()))
        if (auto pair = siluPair(user); pair && pair->first == group[0] && pair->second == group[1])
          silu = user;
    config.siluPairs = static_cast<bool>(silu);
    SmallVector<BufferKey> outputs; // per matrix: w, ws, [residual], y
    for (BitLinearOp linear : group) {
      if (failed(checkLayout(linear)))
        return failure();
      handled.insert(linear);
      if (silu) {
        BitLinearMatrix matrix;
        matrix.n = getPackedLayout(linear.getWeight().getType()).getRows();
        matrix.perRowScale = dim(linear.getWeightScale(), 0) != 1;
        matrix.residual = false;
        config.matrices.push_back(matrix);
        outputs.push_back({linear.getWeight(), 0});
        outputs.push_back({linear.getWeightScale(), 0});
        if (linear == group[1]) {
          define(silu.getResult());
          outputs.push_back({silu.getResult(), 0});
          handled.insert(silu);
        }
        continue;
      }
      BitLinearMatrix matrix;
      matrix.n = getPackedLayout(linear.getWeight().getType()).getRows();
      matrix.perRowScale = dim(linear.getWeightScale(), 0) != 1;
      // x + linear, with x ready before the launch: one kernel.
      Value result = linear.getResult();
      Value residual = readyResidual(result, first);
      if (residual) {
        Operation *add = *result.getUsers().begin();
        result = add->getResult(0);
        handled.insert(add);
      }
      matrix.residual = static_cast<bool>(residual);
      config.matrices.push_back(matrix);
      define(result);
      outputs.push_back({linear.getWeight(), 0});
      outputs.push_back({linear.getWeightScale(), 0});
      if (residual)
        outputs.push_back({residual, 0});
      outputs.push_back({result, 0});
    }
    SmallVector<BufferKey> buffers;
    if (auto fused = fusedQuantizes.find(q); fused != fusedQuantizes.end()) {
      // The quantize is this kernel's prologue.
      config.prologue = fused->second.input;
      config.storeQuantized = fused->second.store;
      config.threads = kRowThreads;
      buffers = fused->second.inputs;
      if (config.storeQuantized) {
        buffers.push_back({q, 0});
        buffers.push_back({s, 0});
      }
    } else {
      // The activations in the BitLinear layout, unless a quantize made them.
      if (!locations.count({q, kBitActivations})) {
        int64_t prepare = kernels.get(
            "bitlinear_prepare_" + std::to_string(k), 3,
            [&](ImplicitLocOpBuilder &b, ValueRange args) {
              return buildBitLinearPrepare(b, args, k);
            });
        defineBitActivations(q);
        launch(prepare, {{q, 0}, {q, kBitActivations}, {q, kBitSums}}, q);
      }
      buffers = {{q, kBitActivations}, {q, kBitSums}, {s, 0}};
    }
    append_range(buffers, outputs);
    int64_t kernel = kernels.get(config.name(), buffers.size(),
                                 [&](ImplicitLocOpBuilder &b, ValueRange args) {
                                   return config.tokens == 1
                                              ? buildBitLinear(b, args, config)
                                              : buildBitLinearMma(b, args, config);
                                 });
    launch(kernel, buffers, first.getInput());
    return success();
  }

  LogicalResult alias(Value result, Value source) {
    if (resultSlots.count(result))
      return result.getDefiningOp()->emitOpError(
          "returns a reshaped tensor, which the GPU target does not support");
    aliases[result] = source;
    return success();
  }

  /// tensor.generate of `start + m` (the positions pquant-import makes).
  LogicalResult lowerPositions(tensor::GenerateOp generate) {
    auto type = cast<RankedTensorType>(generate.getType());
    Block &body = generate.getBody().front();
    auto yield = cast<tensor::YieldOp>(body.getTerminator());
    auto indexCast = yield.getValue().getDefiningOp<arith::IndexCastOp>();
    auto addi = indexCast ? indexCast.getIn().getDefiningOp<arith::AddIOp>() : nullptr;
    Value start;
    if (addi && type.getRank() == 1 && type.getElementType().isInteger(32)) {
      if (addi.getLhs() == body.getArgument(0))
        start = addi.getRhs();
      else if (addi.getRhs() == body.getArgument(0))
        start = addi.getLhs();
    }
    auto startArg = dyn_cast_or_null<BlockArgument>(start);
    if (!startArg || startArg.getOwner() != &func.getBody().front())
      return generate.emitOpError(
          "has no GPU lowering: only `start + i` positions (an index argument "
          "plus the token index) are supported");
    int64_t kernel = kernels.get("positions", 2, [&](ImplicitLocOpBuilder &b,
                                                     ValueRange args) {
      return buildPositions(b, args);
    });
    define(generate.getResult());
    launch(kernel, {startArg, generate.getResult()}, generate.getResult());
    return success();
  }

  LogicalResult lowerAttention(AttentionOp attention) {
    auto cacheType = cast<MemRefType>(attention.getKeyCache().getType());
    if (!cacheType.getElementType().isF32())
      return attention.emitOpError("on the GPU target needs an f32 KV cache");
    if (dim(attention.getQuery(), 0) != dim(attention.getKey(), 0))
      return attention.emitOpError(
          "on the GPU target needs a query for every new token");
    AttentionConfig config;
    config.heads = dim(attention.getQuery(), 1);
    config.kvHeads = cacheType.getDimSize(2);
    config.headDim = cacheType.getDimSize(3);
    config.rows = cacheType.getDimSize(1);
    config.layer = attention.getLayer();
    if (config.rows > kMaxAttentionRows)
      return attention.emitOpError("on the GPU target supports at most ")
             << kMaxAttentionRows << " cache rows (max_seq_len), not "
             << config.rows;
    auto position = dyn_cast<BlockArgument>(attention.getPosition());
    if (!position || position.getOwner() != &func.getBody().front())
      return attention.emitOpError(
          "on the GPU target needs its position to be an entry argument");
    std::string shape = llvm::formatv("{0}x{1}x{2}_s{3}_l{4}", config.heads,
                                      config.kvHeads, config.headDim, config.rows,
                                      config.layer)
                            .str();
    Value query = attention.getQuery();
    auto ropes = ropeFusion(attention);
    if (ropes && dim(query, 0) == 1) {
      // Decode: the attention kernel does RoPE and the cache write itself.
      auto [queryRope, keyRope] = *ropes;
      double theta = queryRope.getTheta().convertToDouble();
      std::string name = llvm::formatv("rope_attention_{0}_theta{1}", shape,
                                       hexBits(float(theta)))
                             .str();
      int64_t kernel = kernels.get(name, 8, [&](ImplicitLocOpBuilder &b, ValueRange args) {
        return buildAttention(b, args, name, config, theta);
      });
      launchOp(attention, kernel,
               {queryRope.getInput(), keyRope.getInput(), attention.getValue(),
                queryRope.getPositions(), attention.getKeyCache(), attention.getValueCache(),
                position},
               query);
      return success();
    }
    if (ropes) {
      // RoPE of q and k and the cache write, one kernel: q' is its output.
      auto [queryRope, keyRope] = *ropes;
      double theta = queryRope.getTheta().convertToDouble();
      std::string name = llvm::formatv("rope_cache_write_{0}_theta{1}", shape,
                                       hexBits(float(theta)))
                             .str();
      int64_t write = kernels.get(name, 8, [&](ImplicitLocOpBuilder &b,
                                               ValueRange args) {
        return buildRoPECacheWrite(b, args, name, config, theta);
      });
      define(queryRope.getResult());
      launch(write,
             {queryRope.getInput(), keyRope.getInput(), attention.getValue(),
              queryRope.getPositions(), attention.getKeyCache(),
              attention.getValueCache(), position, queryRope.getResult()},
             attention.getKey());
    } else {
      int64_t write = kernels.get(
          "cache_write_" + shape, 5, [&](ImplicitLocOpBuilder &b, ValueRange args) {
            return buildCacheWrite(b, args, config);
          });
      launch(write,
             {attention.getKey(), attention.getValue(), attention.getKeyCache(),
              attention.getValueCache(), position},
             attention.getKey());
    }
    std::string name = "attention_" + shape;
    int64_t kernel = kernels.get(name, 5, [&](ImplicitLocOpBuilder &b,
                                              ValueRange args) {
      return buildAttention(b, args, name, config);
    });
    launchOp(attention, kernel,
             {query, attention.getKeyCache(), attention.getValueCache(), position},
             query);
    return success();
  }

  /// Whether two buffers are the same memory (before scratch is laid out,
  /// every scratch buffer is its own).
  bool sameBuffer(BufferKey a, BufferKey c) const {
    const Location &x = locations.lookup({root(a.first), a.second});
    const Location &y = locations.lookup({root(c.first), c.second});
    if (x.kind != y.kind)
      return false;
    return x.kind == Location::Slot ? x.slot == y.slot : x.scratch == y.scratch;
  }

  const KernelAccess &accessOf(int64_t kernel) {
    auto [it, inserted] = accesses.try_emplace(kernel);
    if (inserted)
      it->second = analyzeAccess(kernels.func(kernel));
    return it->second;
  }

  /// Whether launches `x` and `y` may run at once, in either order: neither
  /// writes a buffer the other reads or writes.
  bool independent(const Launch &x, const Launch &y) {
    const KernelAccess &ax = accessOf(x.kernel), &ay = accessOf(y.kernel);
    for (auto [p, kx] : llvm::enumerate(x.buffers))
      for (auto [q, ky] : llvm::enumerate(y.buffers))
        if (sameBuffer(kx, ky) &&
            ((ax.writes.test(p) && (ay.reads.test(q) || ay.writes.test(q))) ||
             (ay.writes.test(q) && ax.reads.test(p))))
          return false;
    return true;
  }

  /// Whether a launch can be part of a fused launch: one token (prefill's
  /// kernels are long and fill the GPU on their own), blocks of kThreads or
  /// kRowThreads, and a body inlineKernel can clone.
  bool fusable(const Launch &l) {
    const LaunchShape &shape = kernels.shape(l.kernel);
    return dim(l.tokensOf, 0) == 1 && (shape.block == kThreads || shape.block == kRowThreads) &&
           canInline(kernels.func(l.kernel));
  }

  /// One kernel that runs the blocks of launches `a` and `b` (independent,
  /// one token each): blocks [0, n_a) run a's kernel, the next ones b's. A
  /// kernel whose blocks are smaller than the other's (kThreads in
  /// kRowThreads) runs kRowThreads / kThreads of its blocks in one, on
  /// groups of threads with their own barriers and shared memory, as in a
  /// persistent kernel. -1 if its shared memory would be too large.
  int64_t fusedKernel(const Launch &first, const Launch &second) {
    const Launch *parts[2] = {&first, &second};
    int64_t block = std::max(kernels.shape(first.kernel).block,
                             kernels.shape(second.kernel).block);
    int64_t shared = 0;
    std::string name = "fused";
    for (const Launch *part : parts) {
      mlir::gpu::GPUFuncOp func = kernels.func(part->kernel);
      shared += block / kernels.shape(part->kernel).block * sharedBytes(func);
      name += "__" + func.getName().str();
    }
    if (shared > kMaxStaticShared)
      return -1;
    return kernels.get(
        name, first.buffers.size() + second.buffers.size(),
        [&](ImplicitLocOpBuilder &b, ValueRange args) {
          Value bid = blockIdx(b, mlir::gpu::Dimension::x);
          Value tid = threadIdx(b);
          int64_t start = 0, minBlocksPerSM = 0;
          size_t nextArg = 0;
          for (size_t i = 0; i < 2; ++i) {
            const Launch *part = parts[i];
            mlir::gpu::GPUFuncOp func = kernels.func(part->kernel);
            const LaunchShape &shape = kernels.shape(part->kernel);
            int64_t groups = block / shape.block, grid = shape.gridX * shape.gridY;
            int64_t blocks = llvm::divideCeil(grid, groups);
            SmallVector<Value> partArgs(args.slice(nextArg, part->buffers.size()));
            partArgs.push_back(args.back());
            nextArg += part->buffers.size();
            Value mine = i == 0 ? cmp(b, arith::CmpIPredicate::ult, bid, i32(b, blocks))
                                : cmp(b, arith::CmpIPredicate::uge, bid, i32(b, start));
            // The groups' shared memory, one part each (made here: a region
            // being built has no gpu.module above it yet).
            int64_t bytes = groups > 1 ? sharedBytes(func) : 0;
            Value pool = bytes ? sharedMemory(b, name + "_part" + std::to_string(i), groups * bytes)
                               : Value();
            ifThen(b, mine, [&](ImplicitLocOpBuilder &b) {
              Value v = arith::SubIOp::create(b, bid, i32(b, start));
              Value partTid = tid, group = i32(b, 0), partShared;
              if (groups > 1) {
                group = arith::DivUIOp::create(b, tid, i32(b, shape.block));
                partTid = arith::RemUIOp::create(b, tid, i32(b, shape.block));
                v = arith::AddIOp::create(b, arith::MulIOp::create(b, v, i32(b, groups)), group);
                if (pool)
                  partShared = LLVM::GEPOp::create(
                      b, pool.getType(), b.getI8Type(), pool,
                      ValueRange{arith::MulIOp::create(b, group, i32(b, bytes))});
              }
              auto body = [&](ImplicitLocOpBuilder &b) {
                Value vx = v, vy = i32(b, 0);
                if (shape.gridY > 1) {
                  vx = arith::RemUIOp::create(b, v, i32(b, shape.gridX));
                  vy = arith::DivUIOp::create(b, v, i32(b, shape.gridX));
                }
                inlineKernel(b, func, partArgs, vx, vy, partTid, group, partShared,
                             groups > 1 ? shape.block : 0);
              };
              // The last block's spare groups have no block to run.
              if (groups > 1 && grid % groups)
                ifThen(b, cmp(b, arith::CmpIPredicate::ult, v, i32(b, grid)), body);
              else
                body(b);
            });
            start += blocks;
            // Its register budget: `groups` of its blocks are one of ours.
            if (shape.minBlocksPerSM)
              minBlocksPerSM = std::max(minBlocksPerSM,
                                        std::max<int64_t>(1, shape.minBlocksPerSM / groups));
          }
          LaunchShape shape;
          shape.gridX = start;
          shape.block = block;
          shape.minBlocksPerSM = minBlocksPerSM;
          return shape;
        });
  }

  /// Decode (M = 1) is latency-bound, a kernel's time mostly its chain of
  /// dependent steps: two consecutive launches of which neither reads or
  /// writes what the other writes become one launch of a fused kernel (the
  /// FFN's norm + router beside its gate/up GEMV, the down GEMV beside the
  /// experts' gate/up). Pairs of neighbours only, first come first paired;
  /// the persistent kernel keeps `launches`.
  void fuseLaunches() {
    hostLaunches.clear();
    for (size_t i = 0; i < launches.size(); ++i) {
      const Launch &first = launches[i];
      if (i + 1 < launches.size()) {
        const Launch &second = launches[i + 1];
        if (fusable(first) && fusable(second) && independent(first, second)) {
          int64_t fused = fusedKernel(first, second);
          if (fused >= 0) {
            Launch merged{fused, first.buffers, first.tokensOf};
            append_range(merged.buffers, second.buffers);
            hostLaunches.push_back(std::move(merged));
            ++i;
            continue;
          }
        }
      }
      hostLaunches.push_back(first);
    }
  }

  void allocateScratch() {
    for (auto [i, launch] : llvm::enumerate(hostLaunches))
      for (BufferKey key : launch.buffers) {
        const Location &location = locations.lookup({root(key.first), key.second});
        if (location.kind != Location::Scratch)
          continue;
        ScratchBuffer &buffer = scratch[location.scratch];
        if (buffer.first < 0)
          buffer.first = i;
        buffer.last = i;
      }
    // First fit over two arenas, fixed and per token; a buffer is free after
    // the last launch that uses it (launches run in order on one stream).
    for (bool perToken : {false, true}) {
      std::vector<std::pair<int64_t, int64_t>> live; // (offset, end), sorted
      std::vector<std::pair<int64_t, int64_t>> freeAfter;
      int64_t size = 0;
      SmallVector<int64_t> order;
      for (auto [i, buffer] : llvm::enumerate(scratch))
        if (buffer.perToken == perToken && buffer.first >= 0)
          order.push_back(i);
      llvm::stable_sort(order, [&](int64_t a, int64_t c) {
        return scratch[a].first < scratch[c].first;
      });
      SmallVector<int64_t> active;
      for (int64_t id : order) {
        ScratchBuffer &buffer = scratch[id];
        // In a persistent kernel, stages without a barrier between them
        // run at once: a buffer keeps its memory for the whole entry, so
        // only true dependencies order stages.
        if (!persistent)
          llvm::erase_if(active, [&](int64_t other) {
            return scratch[other].last < buffer.first;
          });
        SmallVector<std::pair<int64_t, int64_t>> used;
        for (int64_t other : active)
          used.push_back({scratch[other].offset,
                          scratch[other].offset + scratch[other].bytes});
        llvm::sort(used);
        int64_t offset = 0;
        for (auto [begin, end] : used) {
          if (offset + buffer.bytes <= begin)
            break;
          offset = std::max(offset, end);
        }
        buffer.offset = offset;
        size = std::max(size, offset + buffer.bytes);
        active.push_back(id);
      }
      (perToken ? perTokenSize : fixedSize) = size;
    }
  }

  /// A byte range of a device buffer: of slot `space`, or of the scratch
  /// allocation (space −1).
  struct Range {
    int64_t space, begin, end;
    bool overlaps(const Range &other) const {
      return space == other.space && begin < other.end && other.begin < end;
    }
  };

  /// Where `key` lies, with M = `tokens` (static in a persistent entry).
  Range rangeOf(BufferKey key, int64_t tokens) const {
    const Location &location = locations.lookup({root(key.first), key.second});
    if (location.kind == Location::Slot)
      return {location.slot, 0, INT64_MAX}; // the whole buffer
    const ScratchBuffer &buffer = scratch[location.scratch];
    if (!buffer.perToken)
      return {-1, buffer.offset, buffer.offset + buffer.bytes};
    int64_t rounded = llvm::alignTo(tokens, kTokenRounding);
    return {-1, fixedSize + rounded * buffer.offset,
            fixedSize + rounded * (buffer.offset + buffer.bytes)};
  }

  /// The whole entry point as one kernel (see Persistent.h): the launches
  /// become stages, grouped into phases separated by grid barriers, each
  /// stage in the phase after the last one it depends on. Needs static
  /// shapes and blocks of kThreads.
  LogicalResult buildPersistent() {
    int64_t tokens = 0, shared = 0;
    for (const Launch &l : launches) {
      int64_t m = dim(l.tokensOf, 0);
      if (ShapedType::isDynamic(m))
        return func.emitError("pquant-lower-to-gpu: the persistent entry point @")
               << func.getSymName() << " needs static shapes";
      int64_t block = kernels.shape(l.kernel).block;
      if (block != kThreads && block != kRowThreads)
        return func.emitError("pquant-lower-to-gpu: kernel ")
               << kernels.func(l.kernel).getName() << " has blocks of " << block
               << " threads, which cannot be a stage of a persistent kernel";
      tokens = std::max(tokens, m);
      int64_t bytes = sharedBytes(kernels.func(l.kernel));
      shared = std::max(shared, block == kThreads ? kGroups * bytes : bytes);
    }
    // Too much shared memory (long attention rows): kernel by kernel.
    if (shared > kMaxStaticShared)
      return success();
    barrierOffset = fixedSize;
    fixedSize += kFixedAlignment;

    // Reads and writes of each launch.
    struct Stage {
      const Launch *launch;
      SmallVector<Range> reads, writes;
      int64_t phase = 0;
    };
    std::vector<Stage> stages;
    SmallVector<Range> written;
    for (const Launch &l : launches) {
      Stage stage{&l, {}, {}, 0};
      const KernelAccess &access = accessOf(l.kernel);
      for (auto [p, key] : llvm::enumerate(l.buffers)) {
        Range range = rangeOf(key, tokens);
        if (access.reads.test(p))
          stage.reads.push_back(range);
        if (access.writes.test(p))
          stage.writes.push_back(range);
      }
      append_range(written, stage.writes);
      stages.push_back(std::move(stage));
    }
    // Phases: a stage runs one phase after the last earlier stage it
    // depends on (it reads what that one writes, or writes what it reads or
    // writes); stages of one phase run between two grid barriers.
    auto anyOverlap = [](ArrayRef<Range> a, ArrayRef<Range> c) {
      return llvm::any_of(a, [&](const Range &x) {
        return llvm::any_of(c, [&](const Range &y) { return x.overlaps(y); });
      });
    };
    for (size_t i = 0; i < stages.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (anyOverlap(stages[i].reads, stages[j].writes) ||
            anyOverlap(stages[i].writes, stages[j].writes) ||
            anyOverlap(stages[i].writes, stages[j].reads))
          stages[i].phase = std::max(stages[i].phase, stages[j].phase + 1);
    llvm::stable_sort(stages, [](const Stage &a, const Stage &c) { return a.phase < c.phase; });

    std::string name = ("persistent_" + func.getSymName()).str();
    mlir::gpu::GPUModuleOp module = kernels.func(launches.front().kernel)
                                        ->getParentOfType<mlir::gpu::GPUModuleOp>();
    OpBuilder top(module.getBodyRegion());
    top.setInsertionPointToStart(module.getBody());
    auto pool = LLVM::GlobalOp::create(
        top, func.getLoc(), LLVM::LLVMArrayType::get(top.getI8Type(), std::max<int64_t>(shared, 16)),
        /*isConstant=*/false, LLVM::Linkage::Internal, name + "_shared", Attribute(),
        /*alignment=*/16, /*addrSpace=*/kShared);

    persistentKernel = kernels.get(
        name, numSlots + 1, [&](ImplicitLocOpBuilder &b, ValueRange args) {
          Value scratchBase = args[numSlots];
          Type i8Type = b.getI8Type();
          auto pointer = [&](Value base, int64_t offset) -> Value {
            if (!offset)
              return base;
            return LLVM::GEPOp::create(b, base.getType(), i8Type, base,
                                       ArrayRef<LLVM::GEPArg>{offset});
          };
          Value counter = pointer(scratchBase, barrierOffset);
          Value blocks = arith::IndexCastUIOp::create(
              b, b.getI32Type(), mlir::gpu::GridDimOp::create(b, mlir::gpu::Dimension::x));
          Value block = blockIdx(b, mlir::gpu::Dimension::x);
          Value tid = threadIdx(b);
          Value group = arith::DivUIOp::create(b, tid, i32(b, kThreads));
          Value groupTid = arith::RemUIOp::create(b, tid, i32(b, kThreads));
          Value poolBase = LLVM::AddressOfOp::create(b, pool);
          for (auto [i, stage] : llvm::enumerate(stages)) {
            const Launch &l = *stage.launch;
            if (i > 0 && stage.phase != stages[i - 1].phase)
              buildGridBarrier(b, counter);
            // Parameters no launch of this entry writes keep their
            // non-coherent loads.
            llvm::SmallBitVector readOnly(l.buffers.size());
            SmallVector<Value> operands;
            for (auto [p, key] : llvm::enumerate(l.buffers)) {
              Range range = rangeOf(key, tokens);
              readOnly[p] = !llvm::any_of(written, [&](const Range &w) {
                return w.overlaps(range);
              });
              const Location &location = locations.lookup({root(key.first), key.second});
              operands.push_back(location.kind == Location::Slot
                                     ? pointer(args[location.slot], location.offset)
                                     : pointer(scratchBase, range.begin));
            }
            const LaunchShape &shape = kernels.shape(l.kernel);
            bool grouped = shape.block == kThreads;
            LLVM::LLVMFuncOp body =
                buildStage(kernels.func(l.kernel), readOnly, grouped ? kThreads : 0);
            int64_t m = dim(l.tokensOf, 0);
            operands.push_back(i64(b, m));
            auto extent = [&](int64_t base, int64_t perBlock) {
              return perBlock ? base * llvm::divideCeil(m, perBlock) : base;
            };
            int64_t gridX = extent(shape.gridX, shape.tokensPerBlockX);
            int64_t gridY = extent(shape.gridY, shape.tokensPerBlockY);
            // The launch's blocks, spread over the resident blocks (or
            // their groups); a barrier before each next one, so that it can
            // reuse the shared memory.
            Value first = block, step = blocks, sharedBase = poolBase;
            if (grouped) {
              first = arith::AddIOp::create(
                  b, arith::MulIOp::create(b, block, i32(b, kGroups)), group);
              step = arith::MulIOp::create(b, blocks, i32(b, kGroups));
              Value offset = arith::MulIOp::create(
                  b, group, i32(b, sharedBytes(kernels.func(l.kernel))));
              sharedBase = LLVM::GEPOp::create(b, poolBase.getType(), i8Type, poolBase,
                                               ValueRange{offset});
            }
            forLoop(b, first, i32(b, gridX * gridY), step, {},
                    [&](ImplicitLocOpBuilder &b, Value v, ValueRange) {
                      SmallVector<Value> callArgs(operands);
                      callArgs.push_back(arith::RemUIOp::create(b, v, i32(b, gridX)));
                      callArgs.push_back(arith::DivUIOp::create(b, v, i32(b, gridX)));
                      callArgs.push_back(grouped ? groupTid : tid);
                      callArgs.push_back(grouped ? group : i32(b, 0));
                      callArgs.push_back(sharedBase);
                      LLVM::CallOp::create(b, body, callArgs);
                      if (grouped)
                        buildGroupBarrier(b, group, kThreads);
                      else
                        mlir::gpu::BarrierOp::create(b);
                      return SmallVector<Value>{};
                    });
            // The next stage may use the whole block's shared memory.
            if (grouped)
              mlir::gpu::BarrierOp::create(b);
          }
          LaunchShape shape;
          shape.block = kRowThreads;
          shape.minBlocksPerSM = kPersistentBlocksPerSM;
          return shape;
        });
    return success();
  }

  void emitHost() {
    MLIRContext *context = func.getContext();
    auto module = func->getParentOfType<ModuleOp>();
    Type ptr = LLVM::LLVMPointerType::get(context);
    Type i64Type = IntegerType::get(context, 64), i32Type = IntegerType::get(context, 32);
    OpBuilder top(func);
    ImplicitLocOpBuilder b(func.getLoc(), top);
    auto launchFn = declare(module, "pquant_gpu_launch",
                            b.getFunctionType({ptr, i32Type, i64Type, i64Type, i64Type,
                                               i64Type, i64Type, i64Type, i64Type,
                                               i32Type, ptr},
                                              {}));
    auto scratchFn = declare(module, "pquant_gpu_scratch",
                             b.getFunctionType({ptr, i64Type}, {i64Type}));
    auto host = func::FuncOp::create(
        b, ("pquant_gpu_entry_" + func.getSymName()).str(),
        b.getFunctionType({ptr, i64Type, ptr}, {}));
    Block *entry = host.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value ctx = entry->getArgument(0), count = entry->getArgument(1),
          slots = entry->getArgument(2);

    int64_t maxParams = numSlots + 2;
    for (const Launch &l : hostLaunches)
      maxParams = std::max<int64_t>(maxParams, l.buffers.size() + 1);
    Value params = LLVM::AllocaOp::create(b, ptr, i64Type, i64(b, maxParams), 8);

    SmallVector<Value> slotAddresses;
    for (int64_t slot = 0; slot < numSlots; ++slot)
      slotAddresses.push_back(load(b, i64Type, slots, i64(b, slot), 8));
    Value rounded = arith::MulIOp::create(
        b,
        arith::DivUIOp::create(
            b, arith::AddIOp::create(b, count, i64(b, kTokenRounding - 1)),
            i64(b, kTokenRounding)),
        i64(b, kTokenRounding));
    Value scratchBase;
    if (fixedSize || perTokenSize) {
      Value bytes = arith::AddIOp::create(
          b, i64(b, fixedSize),
          arith::MulIOp::create(b, rounded, i64(b, perTokenSize)));
      scratchBase =
          func::CallOp::create(b, scratchFn, ValueRange{ctx, bytes}).getResult(0);
    }
    auto address = [&](BufferKey key) -> Value {
      const Location &location = locations.lookup({root(key.first), key.second});
      if (location.kind == Location::Slot) {
        Value base = slotAddresses[location.slot];
        return location.offset ? Value(arith::AddIOp::create(b, base, i64(b, location.offset)))
                               : base;
      }
      const ScratchBuffer &buffer = scratch[location.scratch];
      if (!buffer.perToken)
        return arith::AddIOp::create(b, scratchBase, i64(b, buffer.offset));
      return arith::AddIOp::create(
          b, scratchBase,
          arith::AddIOp::create(
              b, i64(b, fixedSize),
              arith::MulIOp::create(b, rounded, i64(b, buffer.offset))));
    };

    // The runtime chooses between the persistent kernel and the kernels
    // one by one.
    scf::IfOp choice;
    if (persistentKernel >= 0) {
      auto queryFn = declare(module, "pquant_gpu_persistent",
                             b.getFunctionType({ptr}, {i32Type}));
      Value chosen = cmp(b, arith::CmpIPredicate::ne,
                         func::CallOp::create(b, queryFn, ValueRange{ctx}).getResult(0),
                         i32(b, 0));
      choice = scf::IfOp::create(b, chosen, /*withElseRegion=*/true);
      // One launch of the persistent kernel: (slots..., scratch; M).
      b.setInsertionPointToStart(choice.thenBlock());
      auto persistentFn = declare(
          module, "pquant_gpu_launch_persistent",
          b.getFunctionType({ptr, i32Type, i64Type, i64Type, i32Type, ptr}, {}));
      for (auto [i, address] : llvm::enumerate(slotAddresses))
        store(b, address, params, i64(b, i), 8);
      store(b, scratchBase, params, i64(b, numSlots), 8);
      store(b, count, params, i64(b, numSlots + 1), 8);
      func::CallOp::create(
          b, persistentFn,
          ValueRange{ctx, i32(b, kernels.launchIndex(persistentKernel)), i64(b, kRowThreads),
                     i64(b, kPersistentBlocksPerSM), i32(b, numSlots + 2), params});
      b.setInsertionPointToStart(choice.elseBlock());
    }
    for (const Launch &l : hostLaunches) {
      const LaunchShape &shape = kernels.shape(l.kernel);
      int64_t staticTokens = dim(l.tokensOf, 0);
      Value tokens = ShapedType::isDynamic(staticTokens) ? count : i64(b, staticTokens);
      auto grid = [&](int64_t base, int64_t perBlock) -> Value {
        if (!perBlock)
          return i64(b, base);
        Value blocks = arith::DivUIOp::create(
            b, arith::AddIOp::create(b, tokens, i64(b, perBlock - 1)), i64(b, perBlock));
        return arith::MulIOp::create(b, blocks, i64(b, base));
      };
      Value gridX = grid(shape.gridX, shape.tokensPerBlockX);
      Value gridY = grid(shape.gridY, shape.tokensPerBlockY);
      for (auto [i, buffer] : llvm::enumerate(l.buffers))
        store(b, address(buffer), params, i64(b, i), 8);
      store(b, tokens, params, i64(b, l.buffers.size()), 8);
      func::CallOp::create(
          b, launchFn,
          ValueRange{ctx, i32(b, kernels.launchIndex(l.kernel)), gridX, gridY, i64(b, 1), i64(b, shape.block),
                     i64(b, 1), i64(b, 1), i64(b, 0), i32(b, l.buffers.size() + 1),
                     params});
    }
    if (choice)
      b.setInsertionPointAfter(choice);
    func::ReturnOp::create(b);
  }

  static func::FuncOp declare(ModuleOp module, StringRef name, FunctionType type) {
    if (auto existing = module.lookupSymbol<func::FuncOp>(name))
      return existing;
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToStart(module.getBody());
    auto fn = func::FuncOp::create(b, module.getLoc(), name, type);
    fn.setPrivate();
    return fn;
  }

  func::FuncOp func;
  KernelSet &kernels;
  WeightsTable &weights;
  int64_t firstArgSlot;
  int64_t numSlots = 0;
  DenseMap<Value, Value> aliases;
  DenseMap<BufferKey, Location> locations;
  llvm::SmallPtrSet<Operation *, 16> handled; // lowered with an earlier op
  DenseMap<Value, FusedQuantize> fusedQuantizes; // by q
  DenseMap<Value, int64_t> resultSlots;
  /// Each kernel's buffer accesses, analyzed once (std::map: references to
  /// them stay valid as others are added).
  std::map<int64_t, KernelAccess> accesses;
  std::vector<ScratchBuffer> scratch;
  std::vector<Launch> launches;
  /// What the host code launches kernel by kernel: `launches`, independent
  /// decode neighbours merged (fuseLaunches). The persistent kernel's stages
  /// are `launches`.
  std::vector<Launch> hostLaunches;
  int64_t fixedSize = 0, perTokenSize = 0;
  bool persistent;
  int64_t persistentKernel = -1;
  int64_t barrierOffset = 0; // of the grid barrier's counter, in scratch
};

struct LowerToGPUPass : pquant::impl::LowerToGPUBase<LowerToGPUPass> {
  using LowerToGPUBase::LowerToGPUBase;

  void getDependentDialects(DialectRegistry &registry) const override {
    LowerToGPUBase::getDependentDialects(registry);
    // What pquant-gpu-pipeline's later passes need, whichever tool runs it:
    // the NVVM target and the translations to LLVM IR that serialize PTX.
    NVVM::registerNVVMTargetInterfaceExternalModels(registry);
    registerLLVMDialectTranslation(registry);
    registerNVVMDialectTranslation(registry);
    registerGPUDialectTranslation(registry);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (chip != "sm_80" && chip != "sm_90") {
      module.emitError("pquant-lower-to-gpu: unknown chip '")
          << chip << "', expected sm_80 or sm_90";
      return signalPassFailure();
    }
    MLIRContext *context = &getContext();
    SmallVector<func::FuncOp> entries;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isDeclaration())
        continue;
      if (func.isPrivate()) {
        func.emitError("pquant-lower-to-gpu: private functions are not "
                       "supported; entry points must be public");
        return signalPassFailure();
      }
      entries.push_back(func);
    }
    bool usesWeights = false;
    module.walk([&](WeightOp) { usesWeights = true; });

    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    // PTX ISA 8.0 for sm_90, the first in which LLVM emits prefetch.global.L2.
    auto target = NVVM::NVVMTargetAttr::get(context, /*optLevel=*/3, "nvptx64-nvidia-cuda",
                                            chip, chipVersion(chip) >= 90 ? "+ptx80" : "");
    auto kernelModule = mlir::gpu::GPUModuleOp::create(
        b, module.getLoc(), "pquant_kernels", ArrayRef<Attribute>{target});
    module->setAttr(mlir::gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    KernelSet kernels(module, kernelModule);
    WeightsTable weights;
    for (func::FuncOp func : entries) {
      EntryLowering lowering(func, kernels, weights, usesWeights,
                             llvm::is_contained(persistentEntries, func.getSymName()));
      if (failed(lowering.run()))
        return signalPassFailure();
    }
    for (func::FuncOp func : entries)
      func.erase();
    kernels.eraseUnlaunched();
    weights.record(module);
    SmallVector<Attribute> names;
    for (const std::string &name : kernels.getNames())
      names.push_back(b.getStringAttr(name));
    module->setAttr("pquant.gpu.kernels", b.getArrayAttr(names));
    module->setAttr("pquant.gpu.chip", b.getStringAttr(chip));
  }
};

} // namespace
