//===- Persistent.cpp - stages of a persistent kernel and its grid barrier --===//

#include "Persistent.h"

#include "GPUBuilder.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/MathExtras.h"

#include <climits>

using namespace mlir;
using namespace pquant;
using namespace pquant::gpu;

namespace {

/// The kernel parameters `address` may point into, through GEPs and
/// selects; false if it comes from anything else (shared memory and
/// constant tables come from llvm.mlir.addressof and point into none).
bool tracePointer(Value address, Block &entry, SmallVectorImpl<unsigned> &params) {
  if (auto arg = dyn_cast<BlockArgument>(address)) {
    if (arg.getOwner() != &entry)
      return false;
    params.push_back(arg.getArgNumber());
    return true;
  }
  Operation *op = address.getDefiningOp();
  if (auto gep = dyn_cast_or_null<LLVM::GEPOp>(op))
    return tracePointer(gep.getBase(), entry, params);
  if (auto select = dyn_cast_or_null<LLVM::SelectOp>(op))
    return tracePointer(select.getTrueValue(), entry, params) &&
           tracePointer(select.getFalseValue(), entry, params);
  if (auto select = dyn_cast_or_null<arith::SelectOp>(op))
    return tracePointer(select.getTrueValue(), entry, params) &&
           tracePointer(select.getFalseValue(), entry, params);
  return isa_and_nonnull<LLVM::AddressOfOp>(op);
}

/// The shared-memory globals `kernel` takes the address of, in order of use.
SmallVector<LLVM::GlobalOp> sharedGlobals(mlir::gpu::GPUFuncOp kernel) {
  SmallVector<LLVM::GlobalOp> globals;
  kernel.walk([&](LLVM::AddressOfOp address) {
    auto global = dyn_cast_or_null<LLVM::GlobalOp>(
        SymbolTable::lookupNearestSymbolFrom(kernel, address.getGlobalNameAttr()));
    if (global && global.getAddrSpace() == kShared && !llvm::is_contained(globals, global))
      globals.push_back(global);
  });
  return globals;
}

int64_t globalBytes(LLVM::GlobalOp global) {
  auto array = cast<LLVM::LLVMArrayType>(global.getGlobalType());
  return llvm::alignTo(array.getNumElements(), 16);
}

/// Where each shared global of `kernel` lies in a pool holding them one
/// after the other.
llvm::DenseMap<StringAttr, int64_t> sharedOffsets(mlir::gpu::GPUFuncOp kernel) {
  llvm::DenseMap<StringAttr, int64_t> offsets;
  int64_t offset = 0;
  for (LLVM::GlobalOp global : sharedGlobals(kernel)) {
    offsets[global.getSymNameAttr()] = offset;
    offset += globalBytes(global);
  }
  return offsets;
}

/// How a kernel body runs as part of another kernel: its thread index, its
/// block indices, its group of the block (with `groupThreads` threads;
/// 0: the whole block) and where its shared globals lie (`offsets` in
/// `shared`; none: its own globals).
struct Placement {
  Value tid, vx, vy, group;
  int64_t groupThreads;
  Value shared;
  const llvm::DenseMap<StringAttr, int64_t> &offsets;
};

/// Rewrites `op` of a kernel body so placed: thread and block indices,
/// barriers (the group's own, not aligned, when it is a group: the block's
/// other groups may be elsewhere) and shared globals. Whether it did.
bool place(Operation *op, const Placement &placement) {
  ImplicitLocOpBuilder b(op->getLoc(), op);
  if (isa<mlir::gpu::ThreadIdOp>(op)) {
    // x only: kernels are 1-D.
    op->getResult(0).replaceAllUsesWith(
        arith::IndexCastUIOp::create(b, b.getIndexType(), placement.tid).getResult());
    op->erase();
    return true;
  }
  if (isa<mlir::gpu::BarrierOp>(op) && placement.groupThreads) {
    buildGroupBarrier(b, placement.group, placement.groupThreads);
    op->erase();
    return true;
  }
  if (auto blockId = dyn_cast<mlir::gpu::BlockIdOp>(op)) {
    Value id = blockId.getDimension() == mlir::gpu::Dimension::x ? placement.vx : placement.vy;
    blockId.replaceAllUsesWith(arith::IndexCastUIOp::create(b, b.getIndexType(), id).getResult());
    blockId.erase();
    return true;
  }
  if (auto address = dyn_cast<LLVM::AddressOfOp>(op)) {
    auto it = placement.offsets.find(address.getGlobalNameAttr().getAttr());
    if (it == placement.offsets.end())
      return false;
    Value part = LLVM::GEPOp::create(b, address.getType(), b.getI8Type(), placement.shared,
                                     ArrayRef<LLVM::GEPArg>{int32_t(it->second)});
    address.replaceAllUsesWith(part);
    address.erase();
    return true;
  }
  return false;
}

} // namespace

KernelAccess pquant::gpu::analyzeAccess(mlir::gpu::GPUFuncOp kernel) {
  unsigned count = kernel.getNumArguments();
  KernelAccess access{llvm::SmallBitVector(count), llvm::SmallBitVector(count)};
  Block &entry = kernel.getBody().front();
  auto note = [&](Value address, llvm::SmallBitVector &into) {
    SmallVector<unsigned> params;
    if (!tracePointer(address, entry, params)) {
      into.set();
      return;
    }
    for (unsigned param : params)
      into.set(param);
  };
  kernel.walk([&](Operation *op) {
    if (auto load = dyn_cast<LLVM::LoadOp>(op))
      note(load.getAddr(), access.reads);
    else if (auto store = dyn_cast<LLVM::StoreOp>(op))
      note(store.getAddr(), access.writes);
    else if (auto atomic = dyn_cast<LLVM::AtomicRMWOp>(op))
      note(atomic.getPtr(), access.writes);
  });
  return access;
}

int64_t pquant::gpu::sharedBytes(mlir::gpu::GPUFuncOp kernel) {
  int64_t bytes = 0;
  for (LLVM::GlobalOp global : sharedGlobals(kernel))
    bytes += globalBytes(global);
  return bytes;
}

LLVM::LLVMFuncOp pquant::gpu::buildStage(mlir::gpu::GPUFuncOp kernel,
                                         const llvm::SmallBitVector &readOnly,
                                         int64_t groupThreads) {
  auto module = kernel->getParentOfType<mlir::gpu::GPUModuleOp>();
  MLIRContext *context = kernel.getContext();
  // One stage per kernel and set of read-only parameters.
  std::string name =
      (kernel.getName() + (groupThreads ? "_group_stage_" : "_stage_")).str();
  for (unsigned i = 0; i < readOnly.size(); ++i)
    name += readOnly.test(i) ? 'r' : 'w';
  SymbolTable symbols(module);
  if (auto existing = symbols.lookup<LLVM::LLVMFuncOp>(name))
    return existing;

  Type i32Type = IntegerType::get(context, 32);
  Type sharedPtr = LLVM::LLVMPointerType::get(context, kShared);
  SmallVector<Type> types(kernel.getArgumentTypes());
  types.append({i32Type, i32Type, i32Type, i32Type, sharedPtr});
  OpBuilder top(module.getBodyRegion());
  top.setInsertionPointToEnd(module.getBody());
  // An llvm.func (its body is converted with the kernels'): a func.func
  // would lose its linkage and attributes in convert-gpu-to-nvvm.
  auto stage = LLVM::LLVMFuncOp::create(
      top, kernel.getLoc(), name,
      LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(context), types),
      LLVM::Linkage::Internal);
  // Called once per launch of the kernel by the entry: inlined, hundreds of
  // copies would make the persistent kernel slow to compile and to fetch.
  stage.setNoInline(true);
  symbols.insert(stage);
  IRMapping mapping;
  kernel.getBody().cloneInto(&stage.getBody(), mapping);
  Block &entry = stage.getBody().front();
  Value vx = entry.addArgument(i32Type, kernel.getLoc());
  Value vy = entry.addArgument(i32Type, kernel.getLoc());
  Value tid = entry.addArgument(i32Type, kernel.getLoc());
  Value group = entry.addArgument(i32Type, kernel.getLoc());
  Value shared = entry.addArgument(sharedPtr, kernel.getLoc());

  // The kernel's shared globals lie one after the other in the pool.
  llvm::DenseMap<StringAttr, int64_t> offsets = sharedOffsets(kernel);
  Placement placement{tid, vx, vy, group, groupThreads, shared, offsets};
  SmallVector<Operation *> ops;
  stage.walk([&](Operation *op) { ops.push_back(op); });
  for (Operation *op : ops) {
    if (place(op, placement))
      continue;
    ImplicitLocOpBuilder b(op->getLoc(), op);
    if (isa<NVVM::GriddepcontrolOp>(op)) {
      // Stages of one launch: no other kernel to wait for.
      op->erase();
    } else if (isa<mlir::gpu::ReturnOp>(op)) {
      LLVM::ReturnOp::create(b, ValueRange{});
      op->erase();
    } else if (auto load = dyn_cast<LLVM::LoadOp>(op)) {
      SmallVector<unsigned> params;
      bool keep = tracePointer(load.getAddr(), entry, params) &&
                  llvm::all_of(params, [&](unsigned p) {
                    return p < readOnly.size() && readOnly.test(p);
                  });
      if (load.getInvariant() && !keep)
        load.setInvariant(false);
    }
  }
  return stage;
}

bool pquant::gpu::canInline(mlir::gpu::GPUFuncOp kernel) {
  return kernel.getBody().hasOneBlock() &&
         isa<mlir::gpu::ReturnOp>(kernel.getBody().front().getTerminator());
}

void pquant::gpu::inlineKernel(ImplicitLocOpBuilder &b, mlir::gpu::GPUFuncOp kernel,
                               ValueRange args, Value vx, Value vy, Value tid, Value group,
                               Value shared, int64_t groupThreads) {
  assert(canInline(kernel) && "kernel body of one block");
  Block &body = kernel.getBody().front();
  IRMapping mapping;
  for (auto [param, value] : llvm::zip_equal(body.getArguments(), args))
    mapping.map(param, value);
  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    b.clone(op, mapping)->walk([&](Operation *inner) { ops.push_back(inner); });

  // A grouped kernel's shared globals lie in its group's part; a kernel
  // with whole blocks keeps its own.
  llvm::DenseMap<StringAttr, int64_t> offsets;
  if (groupThreads)
    offsets = sharedOffsets(kernel);
  Placement placement{tid, vx, vy, group, groupThreads, shared, offsets};
  for (Operation *op : ops)
    place(op, placement);
}

void pquant::gpu::buildGridBarrier(ImplicitLocOpBuilder &b, Value counter) {
  // Every thread's writes are ordered before thread 0's release (the block
  // barrier), and thread 0's acquire before every thread's later reads.
  mlir::gpu::BarrierOp::create(b);
  Value tid = threadIdx(b);
  ifThen(b, cmp(b, arith::CmpIPredicate::eq, tid, i32(b, 0)), [&](ImplicitLocOpBuilder &b) {
    Value blocks = arith::IndexCastUIOp::create(
        b, b.getI32Type(), mlir::gpu::GridDimOp::create(b, mlir::gpu::Dimension::x));
    Value first = cmp(b, arith::CmpIPredicate::eq, blockIdx(b, mlir::gpu::Dimension::x),
                      i32(b, 0));
    Value flip = i32(b, INT32_MIN);
    Value delta = select(
        b, first,
        arith::SubIOp::create(b, flip, arith::SubIOp::create(b, blocks, i32(b, 1))),
        i32(b, 1));
    // The fence releases the block's writes (NVPTX emits the atomic itself
    // as relaxed).
    LLVM::FenceOp::create(b, LLVM::AtomicOrdering::acq_rel, "device");
    Value old = LLVM::AtomicRMWOp::create(b, LLVM::AtomicBinOp::add, counter, delta,
                                          LLVM::AtomicOrdering::acq_rel, "device");
    scf::WhileOp::create(
        b, TypeRange{}, ValueRange{},
        [&](OpBuilder &nested, Location loc, ValueRange) {
          ImplicitLocOpBuilder w(loc, nested);
          Value now = LLVM::LoadOp::create(w, w.getI32Type(), counter, /*alignment=*/4,
                                           /*isVolatile=*/false, /*isNonTemporal=*/false,
                                           /*isInvariant=*/false, /*isInvariantGroup=*/false,
                                           LLVM::AtomicOrdering::acquire, "device");
          Value changed = arith::AndIOp::create(w, arith::XOrIOp::create(w, now, old), flip);
          scf::ConditionOp::create(w, cmp(w, arith::CmpIPredicate::eq, changed, i32(w, 0)),
                                   ValueRange{});
        },
        [&](OpBuilder &nested, Location loc, ValueRange) {
          scf::YieldOp::create(nested, loc);
        });
  });
  mlir::gpu::BarrierOp::create(b);
}

void pquant::gpu::buildGroupBarrier(ImplicitLocOpBuilder &b, Value group,
                                    int64_t threads) {
  Value id = arith::AddIOp::create(b, group, i32(b, 1));
  // barrier.sync (not .aligned, as gpu.barrier is).
  LLVM::CallIntrinsicOp::create(b, b.getStringAttr("llvm.nvvm.barrier.cta.sync.count"),
                                ValueRange{id, i32(b, threads)});
}
