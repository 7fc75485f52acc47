//===- PlanScratch.cpp - an entry point's buffers in one scratch buffer ---===//

#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <algorithm>

namespace pquant {
#define GEN_PASS_DEF_PLANSCRATCH
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

constexpr llvm::StringLiteral kScratch = "pquant_scratch";
constexpr llvm::StringLiteral kResult = "pquant_result";
constexpr llvm::StringLiteral kScratchBytes = "pquant_scratch_bytes";
/// Buffer offsets are multiples of this (the kernels' vectors are 64 bytes,
/// and pquant-lower-to-kernels allocates its buffers 64-byte aligned).
constexpr int64_t kAlignment = 64;

/// A buffer that lives from op `start` to op `end` of the block, in order.
struct Buffer {
  memref::AllocOp alloc;
  memref::DeallocOp dealloc;
  int64_t bytes = 0, start = 0, end = 0, offset = 0;
};

/// The bytes of a buffer of `type`, or 0 if it cannot be placed: a dynamic
/// shape, a layout or memory space of its own, or elements that are not
/// whole bytes.
int64_t placeableBytes(MemRefType type) {
  if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
      type.getMemorySpace() || !type.getElementType().isIntOrFloat() ||
      type.getElementTypeBitWidth() % 8)
    return 0;
  return type.getNumElements() * (type.getElementTypeBitWidth() / 8);
}

/// The block's buffers that can be placed, in order of allocation.
SmallVector<Buffer> placeableBuffers(Block &block) {
  DenseMap<Operation *, int64_t> position;
  for (auto [i, op] : llvm::enumerate(block))
    position[&op] = int64_t(i);
  SmallVector<Buffer> buffers;
  for (auto alloc : block.getOps<memref::AllocOp>()) {
    int64_t bytes = placeableBytes(alloc.getType());
    if (!bytes)
      continue;
    // Freed exactly once, by a dealloc of this block.
    memref::DeallocOp dealloc;
    unsigned deallocs = 0;
    for (Operation *user : alloc->getUsers())
      if (auto free = dyn_cast<memref::DeallocOp>(user)) {
        ++deallocs;
        dealloc = free;
      }
    if (deallocs != 1 || dealloc->getBlock() != &block)
      continue;
    buffers.push_back({alloc, dealloc, bytes, position[alloc],
                       position[dealloc], 0});
  }
  return buffers;
}

/// Offsets for `buffers` (in order of start): each at the lowest multiple of
/// kAlignment where it overlaps no buffer placed before it that is alive at
/// the same time. Returns the bytes the placement spans.
int64_t placeFirstFit(MutableArrayRef<Buffer> buffers) {
  int64_t total = 0;
  for (size_t i = 0; i < buffers.size(); ++i) {
    Buffer &buffer = buffers[i];
    // The address ranges taken while this buffer lives, lowest first.
    SmallVector<std::pair<int64_t, int64_t>> taken;
    for (size_t j = 0; j < i; ++j)
      if (buffers[j].end > buffer.start)
        taken.push_back({buffers[j].offset, buffers[j].offset + buffers[j].bytes});
    llvm::sort(taken);
    int64_t offset = 0;
    for (auto [begin, end] : taken) {
      if (offset + buffer.bytes <= begin)
        break;
      offset = std::max<int64_t>(offset, llvm::alignTo(end, kAlignment));
    }
    buffer.offset = offset;
    total = std::max(total, offset + buffer.bytes);
  }
  return int64_t(llvm::alignTo(total, kAlignment));
}

/// Declares `name(i64 bytes) -> memref<?xi8>`, called through its C
/// interface (_mlir_ciface_<name>(&result, bytes)), unless it exists.
void declareBufferSource(ModuleOp module, StringRef name, MemRefType type) {
  if (module.lookupSymbol<func::FuncOp>(name))
    return;
  MLIRContext *context = module.getContext();
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto declaration = func::FuncOp::create(
      b, module.getLoc(), name, FunctionType::get(context, {IntegerType::get(context, 64)}, {type}));
  declaration.setPrivate();
  declaration->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(), UnitAttr::get(context));
}

/// `alloc` replaced by a view at `offset` of `source`.
void replaceByView(ImplicitLocOpBuilder &b, memref::AllocOp alloc, Value source, int64_t offset) {
  b.setInsertionPoint(alloc);
  Value view = memref::ViewOp::create(b, alloc.getType(), source,
                                      arith::ConstantIndexOp::create(b, offset), ValueRange{});
  alloc.replaceAllUsesWith(view);
  alloc->erase();
}

struct PlanScratchPass : pquant::impl::PlanScratchBase<PlanScratchPass> {
  using PlanScratchBase::PlanScratchBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    auto scratchType = MemRefType::get({ShapedType::kDynamic}, IntegerType::get(context, 8));
    int64_t largest = 0;
    for (const std::string &name : functions) {
      auto func = module.lookupSymbol<func::FuncOp>(name);
      if (!func || func.isExternal())
        continue;
      Block &block = func.getBody().front();
      auto b = ImplicitLocOpBuilder::atBlockBegin(func.getLoc(), &block);
      // A result of static shape (the logits of one token) comes from the
      // caller's result buffer: the first such result only, since the
      // caller has one.
      for (Value result : block.getTerminator()->getOperands()) {
        auto alloc = result.getDefiningOp<memref::AllocOp>();
        int64_t bytes = alloc && alloc->getBlock() == &block ? placeableBytes(alloc.getType()) : 0;
        if (!bytes || llvm::any_of(alloc->getUsers(), llvm::IsaPred<memref::DeallocOp>))
          continue;
        declareBufferSource(module, kResult, scratchType);
        b.setInsertionPoint(alloc);
        Value source = func::CallOp::create(b, kResult, TypeRange{scratchType},
                                            ValueRange{arith::ConstantIntOp::create(b, bytes, 64)})
                           .getResult(0);
        replaceByView(b, alloc, source, 0);
        break;
      }

      SmallVector<Buffer> buffers = placeableBuffers(block);
      if (buffers.empty())
        continue;
      int64_t total = placeFirstFit(buffers);
      largest = std::max(largest, total);
      declareBufferSource(module, kScratch, scratchType);
      b.setInsertionPointToStart(&block);
      Value scratch =
          func::CallOp::create(b, kScratch, TypeRange{scratchType},
                               ValueRange{arith::ConstantIntOp::create(b, total, 64)})
              .getResult(0);
      for (Buffer &buffer : buffers) {
        buffer.dealloc->erase();
        replaceByView(b, buffer.alloc, scratch, buffer.offset);
      }
    }
    if (!largest)
      return;
    // What the runtime allocates for the scratch when it opens the model.
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Type i64 = IntegerType::get(context, 64);
    LLVM::GlobalOp::create(b, module.getLoc(), i64, /*isConstant=*/true, LLVM::Linkage::External,
                           kScratchBytes, b.getI64IntegerAttr(largest));
  }
};

} // namespace
