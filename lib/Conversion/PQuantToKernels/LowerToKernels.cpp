//===- LowerToKernels.cpp - pquant ops to calls of generated kernels --------===//

#include "KernelBuilder.h"
#include "Kernels.h"

#include "pquant/Conversion/Passes.h"
#include "pquant/Dialect/PQuant/IR/PQuantOps.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"

namespace pquant {
#define GEN_PASS_DEF_LOWERTOKERNELS
#include "pquant/Conversion/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

using BodyBuilder = llvm::function_ref<void(ImplicitLocOpBuilder &, ValueRange)>;

/// The buffer type a kernel takes for `type`: same shape and element type,
/// identity layout, no encoding (a packed layout is already in the shape).
MemRefType bufferType(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  return MemRefType::get(tensor.getShape(), tensor.getElementType());
}

/// Appends a readable form of `type` to a kernel name: `Dx64xi8`.
void mangle(std::string &name, Type type) {
  name += "_";
  auto memref = dyn_cast<MemRefType>(type);
  if (!memref) { // a scalar such as the attention position
    llvm::raw_string_ostream os(name);
    type.print(os);
    return;
  }
  for (int64_t dim : memref.getShape())
    name += (ShapedType::isDynamic(dim) ? "D" : std::to_string(dim)) + "x";
  llvm::raw_string_ostream os(name);
  memref.getElementType().print(os);
}

class KernelLowering {
public:
  KernelLowering(ModuleOp module) : module(module), symbols(module) {}

  /// Replaces `op` by a call of the kernel `base` (built by `body` the first
  /// time these argument types are seen): `operands` become buffers, each
  /// result a new buffer, and each of `scratch` a buffer the kernel may use
  /// and the caller frees. Their dynamic dimension is the token count:
  /// dimension 0 of operand `tokenOperand`.
  void replaceWithCall(Operation *op, StringRef base, ValueRange operands,
                       BodyBuilder body, ArrayRef<MemRefType> scratch = {},
                       unsigned tokenOperand = 0) {
    ImplicitLocOpBuilder b(op->getLoc(), op);
    SmallVector<Value> args;
    // Tensors become read-only buffers; buffers (KV caches) and scalars
    // pass as they are.
    for (Value operand : operands)
      args.push_back(isa<RankedTensorType>(operand.getType())
                         ? bufferization::ToBufferOp::create(
                               b, bufferType(operand.getType()),
                               withoutEncoding(operand), /*read_only=*/true)
                         : operand);
    auto allocate = [&](MemRefType type) -> Value {
      SmallVector<Value> sizes;
      if (type.getNumDynamicDims())
        sizes.push_back(memref::DimOp::create(b, args[tokenOperand], 0));
      // Cache-line aligned: the kernels load whole 64-byte vectors (a
      // split one costs two lines).
      return memref::AllocOp::create(b, type, sizes, b.getI64IntegerAttr(64));
    };
    SmallVector<Value> outputs;
    for (Value result : op->getResults())
      outputs.push_back(allocate(bufferType(result.getType())));
    append_range(args, outputs);
    for (MemRefType type : scratch)
      args.push_back(allocate(type));

    std::string name = ("pquant_" + base).str();
    for (Value arg : args)
      mangle(name, arg.getType());
    auto kernel = symbols.lookup<func::FuncOp>(name);
    if (!kernel)
      kernel = createKernel(op->getLoc(), name, ValueRange(args).getTypes(),
                            body);
    func::CallOp::create(b, kernel, args);
    SmallVector<Value> results;
    for (auto [result, buffer] : llvm::zip(op->getResults(), outputs))
      results.push_back(bufferization::ToTensorOp::create(
          b, result.getType(), buffer, /*restrict=*/b.getUnitAttr(),
          /*writable=*/b.getUnitAttr()));
    op->replaceAllUsesWith(results);
    op->erase();
  }

private:
  /// A constant with a #pquant.packed encoding, as a constant of the plain
  /// storage type: the kernel now holds the layout, and the encoding must not
  /// reach LLVM globals. Other values are returned unchanged.
  Value withoutEncoding(Value value) {
    auto type = cast<RankedTensorType>(value.getType());
    auto constant = value.getDefiningOp<arith::ConstantOp>();
    if (!type.getEncoding() || !constant)
      return value;
    Value &plain = plainConstants[value];
    if (plain)
      return plain;
    auto plainType = RankedTensorType::get(type.getShape(), type.getElementType());
    Attribute data = constant.getValue();
    if (auto resource = dyn_cast<DenseResourceElementsAttr>(data))
      data = DenseResourceElementsAttr::get(plainType, resource.getRawHandle());
    else
      data = cast<DenseElementsAttr>(data).reshape(plainType);
    OpBuilder b(constant);
    plain = arith::ConstantOp::create(b, constant.getLoc(), plainType,
                                      cast<TypedAttr>(data));
    return plain;
  }

  func::FuncOp createKernel(Location loc, StringRef name, TypeRange argTypes,
                            BodyBuilder body) {
    OpBuilder builder(module.getBodyRegion());
    builder.setInsertionPointToEnd(module.getBody());
    auto kernel = func::FuncOp::create(
        builder, loc, name, builder.getFunctionType(argTypes, {}));
    kernel.setPrivate();
    kernel->setAttr("pquant.kernel", builder.getUnitAttr());
    // Kernels are not part of the compiled module's interface. They stay
    // out of line: one copy serves every layer, and profiles name them.
    kernel->setAttr("llvm.linkage", LLVM::LinkageAttr::get(
                                        builder.getContext(),
                                        LLVM::Linkage::Internal));
    kernel->setAttr("passthrough",
                    builder.getArrayAttr({builder.getStringAttr("noinline")}));
    Block *entry = kernel.addEntryBlock();
    ImplicitLocOpBuilder b(loc, builder);
    b.setInsertionPointToStart(entry);
    body(b, entry->getArguments());
    func::ReturnOp::create(b);
    symbols.insert(kernel);
    return kernel;
  }

  ModuleOp module;
  SymbolTable symbols;
  DenseMap<Value, Value> plainConstants;
};

struct LowerToKernelsPass
    : pquant::impl::LowerToKernelsBase<LowerToKernelsPass> {
  using LowerToKernelsBase::LowerToKernelsBase;

  kernels::DotInstruction dotInstruction = kernels::DotInstruction::Generic;

  void runOnOperation() override {
    if (strategy != "auto" && strategy != "bitserial" &&
        strategy != "unpack-dot" && strategy != "lookup") {
      getOperation()->emitError("pquant-lower-to-kernels: unknown strategy '")
          << strategy
          << "', expected 'auto', 'bitserial', 'unpack-dot' or 'lookup'";
      return signalPassFailure();
    }
    std::optional<kernels::DotInstruction> instruction =
        llvm::StringSwitch<std::optional<kernels::DotInstruction>>(dot)
            .Case("generic", kernels::DotInstruction::Generic)
            .Case("vnni", kernels::DotInstruction::VNNI)
            .Case("sdot", kernels::DotInstruction::SDot)
            .Default(std::nullopt);
    if (!instruction) {
      getOperation()->emitError("pquant-lower-to-kernels: unknown dot '")
          << dot << "', expected 'generic', 'vnni' or 'sdot'";
      return signalPassFailure();
    }
    dotInstruction = *instruction;
    KernelLowering lowering(getOperation());
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<PQuantDialect>(op->getDialect()) &&
          !isa<WeightOp, DecoupledFFNOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops)
      if (failed(lower(lowering, op)))
        return signalPassFailure();
  }

  /// The strategy of the pass option, resolving `auto` with the cost model.
  /// Measured (docs/benchmarks.md, docs/benchmarks-model.md): where vpopcntq
  /// exists (AVX-512), bit-serial for one token: the lookup GEMV (vpermi2b)
  /// computes faster, but decode reads its weights from memory, where the
  /// two were even on 2 threads (--tune measures it per machine); for
  /// several, table lookups win once enough rows share each table (a
  /// 512-token prompt of the 1.3B model: 1.46x the unpack-dot GEMMs), else
  /// unpack-dot while a tile of unpacked weight bytes stays in L1 (it is
  /// reread for every block of tokens), bit-serial beyond. Without vpopcntq,
  /// a dot instruction wins; lookups were not measured there.
  KernelStrategy strategyFor(BitLinearOp linear, PackedLayoutAttr layout) {
    if (strategy != "auto")
      return llvm::StringSwitch<KernelStrategy>(strategy)
          .Case("bitserial", KernelStrategy::BitSerial)
          .Case("lookup", KernelStrategy::Lookup)
          .Default(KernelStrategy::UnpackDot);
    if (dotInstruction == kernels::DotInstruction::Generic)
      return KernelStrategy::BitSerial;
    if (!fastPopcount)
      return KernelStrategy::UnpackDot;
    if (linear.getInput().getType().getDimSize(0) == 1)
      return KernelStrategy::BitSerial;
    if (layout.getRows() >= kernels::kLookupMinRows)
      return KernelStrategy::Lookup;
    constexpr int64_t kL1Bytes = 48 * 1024;
    bool tileInL1 = layout.getTileRows() * layout.getCols() <= kL1Bytes;
    return tileInL1 ? KernelStrategy::UnpackDot : KernelStrategy::BitSerial;
  }

  /// Whether `linear` (with strategy lookup) takes the lookup GEMV: one
  /// token, on a target with vpermi2b and vpdpbusd, tiles of 8 rows.
  bool lookupGemv(BitLinearOp linear, PackedLayoutAttr layout) {
    return linear.getInput().getType().getDimSize(0) == 1 && byteLookup &&
           dotInstruction == kernels::DotInstruction::VNNI &&
           layout.getTileRows() == 8;
  }

  /// The kernel of `linear`: its own `kernel` attribute (pquant-compile
  /// --tune writes one from measurements) wins over the pass option.
  KernelChoiceAttr kernelFor(BitLinearOp linear, PackedLayoutAttr layout) {
    if (KernelChoiceAttr chosen = linear.getKernelAttr())
      return chosen;
    return KernelChoiceAttr::get(linear.getContext(),
                                 strategyFor(linear, layout), std::nullopt);
  }

  LogicalResult lower(KernelLowering &lowering, Operation *op) {
    return llvm::TypeSwitch<Operation *, LogicalResult>(op)
        .Case([&](QuantizeOp quantize) {
          lowering.replaceWithCall(op, "quantize", {quantize.getInput()},
                                   kernels::buildQuantize);
          return success();
        })
        .Case([&](BitLinearOp linear) -> LogicalResult {
          PackedLayoutAttr layout = getPackedLayout(linear.getWeight().getType());
          if (!layout || layout.getWord() != 64 || layout.getTileWords() != 1 ||
              layout.getBitOrder() != BitOrder::LsbFirst)
            return linear.emitOpError(
                       "needs its weight packed in 64-bit words, lsb_first, "
                       "with tile = [R, 1] for the BitLinear kernels")
                       .attachNote()
                   << "run pquant-pack-weights with word=64 tile-words=1 first";
          KernelChoiceAttr choice = kernelFor(linear, layout);
          if (choice.getStrategy() == KernelStrategy::BitSerial) {
            lowering.replaceWithCall(
                op, "bitlinear_bitserial", linear->getOperands(),
                [&](ImplicitLocOpBuilder &b, ValueRange args) {
                  kernels::buildBitSerialLinear(b, args, layout);
                },
                kernels::bitSerialScratch(linear.getContext(), layout));
            return success();
          }
          kernels::DotInstruction instruction = dotInstruction;
          if (choice.getStrategy() == KernelStrategy::Lookup &&
              lookupGemv(linear, layout)) {
            lowering.replaceWithCall(
                op, "bitlinear_lookup_gemv", linear->getOperands(),
                [&](ImplicitLocOpBuilder &b, ValueRange args) {
                  kernels::buildLookupGemv(b, args, layout);
                },
                kernels::lookupGemvScratch(linear.getContext(), layout));
            return success();
          }
          if (choice.getStrategy() == KernelStrategy::Lookup) {
            lowering.replaceWithCall(
                op, "bitlinear_lookup_" + dot, linear->getOperands(),
                [&](ImplicitLocOpBuilder &b, ValueRange args) {
                  kernels::buildLookupLinear(b, args, layout, instruction);
                },
                kernels::lookupScratch(linear.getContext(), layout));
            return success();
          }
          int64_t chunkWords = choice.getChunkWords().value_or(
              kernels::kDefaultUnpackChunkWords);
          // A chunk size of its own makes a kernel of its own.
          std::string name = "bitlinear_unpackdot_" + dot;
          if (chunkWords != kernels::kDefaultUnpackChunkWords)
            name += "_chunk" + std::to_string(chunkWords);
          lowering.replaceWithCall(
              op, name, linear->getOperands(),
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                kernels::buildUnpackDotLinear(b, args, layout, instruction,
                                              chunkWords);
              },
              kernels::unpackDotScratch(linear.getContext(), layout));
          return success();
        })
        .Case([&](Int8LinearOp linear) {
          kernels::DotInstruction instruction = dotInstruction;
          lowering.replaceWithCall(
              op, "int8_linear_" + dot, linear->getOperands(),
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                kernels::buildInt8Linear(b, args, {}, instruction);
              });
          return success();
        })
        .Case([&](ExpertLinearOp linear) {
          int64_t slot = linear.getSlot();
          kernels::DotInstruction instruction = dotInstruction;
          lowering.replaceWithCall(
              op, "expert_linear_" + dot + "_slot" + std::to_string(slot),
              linear->getOperands(),
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                kernels::buildInt8Linear(b, args, slot, instruction);
              });
          return success();
        })
        .Case([&](SiluMulOp silu) {
          lowering.replaceWithCall(op, "silu_mul", silu->getOperands(),
                                   kernels::buildSiluMul);
          return success();
        })
        .Case([&](RMSNormOp norm) {
          bool hasWeight = static_cast<bool>(norm.getWeight());
          float eps = norm.getEps().convertToFloat();
          lowering.replaceWithCall(
              op, "rms_norm", norm->getOperands(),
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                kernels::buildRMSNorm(b, args, hasWeight, eps);
              });
          return success();
        })
        .Case([&](RouterOp router) {
          lowering.replaceWithCall(op, "router", router->getOperands(),
                                   kernels::buildRouter);
          return success();
        })
        .Case([&](CombineOp combine) {
          int64_t count = combine.getExperts().size();
          bool weighted = combine.getGateWeighting();
          float alpha = combine.getAlpha().convertToFloat();
          float beta = combine.getBeta().convertToFloat();
          // The mixing constants are part of the kernel's identity.
          std::string name = llvm::formatv("combine_a{0:x}_b{1:x}{2}",
                                           llvm::bit_cast<uint32_t>(alpha),
                                           llvm::bit_cast<uint32_t>(beta),
                                           weighted ? "_gated" : "")
                                 .str();
          SmallVector<Value> operands = {combine.getBinary()};
          append_range(operands, combine.getExperts());
          if (weighted)
            operands.push_back(combine.getGates());
          lowering.replaceWithCall(
              op, name, operands,
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                kernels::buildCombine(b, args, count, weighted, alpha, beta);
              });
          return success();
        })
        .Case([&](EmbeddingOp embedding) {
          lowering.replaceWithCall(op, "embedding", embedding->getOperands(),
                                   kernels::buildEmbedding, /*scratch=*/{},
                                   /*tokenOperand=*/1);
          return success();
        })
        .Case([&](FloatLinearOp linear) {
          lowering.replaceWithCall(op, "float_linear", linear->getOperands(),
                                   kernels::buildFloatLinear);
          return success();
        })
        .Case([&](RoPEOp rope) {
          double theta = rope.getTheta().convertToDouble();
          lowering.replaceWithCall(
              op, llvm::formatv("rope_theta{0}", theta).str(),
              rope->getOperands(),
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                kernels::buildRoPE(b, args, theta);
              });
          return success();
        })
        .Case([&](AttentionOp attention) {
          int64_t layer = attention.getLayer();
          lowering.replaceWithCall(
              op, "attention_layer" + std::to_string(layer),
              attention->getOperands(),
              [&](ImplicitLocOpBuilder &b, ValueRange args) {
                kernels::buildAttention(b, args, layer);
              });
          return success();
        })
        .Default([](Operation *op) {
          return op->emitOpError("has no kernel lowering yet");
        });
  }
};

} // namespace
