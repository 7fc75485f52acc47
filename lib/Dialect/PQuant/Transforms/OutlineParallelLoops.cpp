//===- OutlineParallelLoops.cpp - scf.parallel onto the runtime's threads ---===//

#include "pquant/Dialect/PQuant/Transforms/Passes.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

namespace pquant {
#define GEN_PASS_DEF_OUTLINEPARALLELLOOPS
#include "pquant/Dialect/PQuant/Transforms/Passes.h.inc"
} // namespace pquant

using namespace mlir;
using namespace pquant;

namespace {

constexpr llvm::StringLiteral kParallelFor = "pquant_parallel_for";

/// How a value the loop body uses from above is passed to the task: the
/// type it has in the context struct.
FailureOr<Type> contextFieldType(Value value,
                                 const LLVMTypeConverter &converter) {
  Type type = value.getType();
  if (isa<MemRefType>(type))
    return converter.convertType(type);
  if (type.isIndex())
    return Type(IntegerType::get(type.getContext(), 64));
  if (type.isIntOrFloat())
    return type;
  return failure();
}

struct OutlineParallelLoopsPass
    : pquant::impl::OutlineParallelLoopsBase<OutlineParallelLoopsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<scf::ParallelOp> loops;
    module.walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        loops.push_back(loop);
    });
    if (loops.empty())
      return;

    MLIRContext *context = &getContext();
    LLVMTypeConverter converter(context);
    SymbolTable symbols(module);
    auto pointer = LLVM::LLVMPointerType::get(context);
    auto i64 = IntegerType::get(context, 64);
    auto taskType = FunctionType::get(context, {pointer, i64, i64}, {});
    declareParallelFor(module, symbols, taskType);

    for (scf::ParallelOp loop : loops)
      if (failed(outline(loop, symbols, converter, taskType)))
        return signalPassFailure();
  }

  void declareParallelFor(ModuleOp module, SymbolTable &symbols,
                          FunctionType taskType) {
    if (symbols.lookup(kParallelFor))
      return;
    MLIRContext *context = module.getContext();
    auto pointer = LLVM::LLVMPointerType::get(context);
    auto type = FunctionType::get(
        context, {taskType, pointer, IntegerType::get(context, 64)}, {});
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto declaration =
        func::FuncOp::create(b, module.getLoc(), kParallelFor, type);
    declaration.setPrivate();
    symbols.insert(declaration);
  }

  /// The last task outlined from each function.
  llvm::DenseMap<Operation *, Operation *> lastTask;

  LogicalResult outline(scf::ParallelOp loop, SymbolTable &symbols,
                        const LLVMTypeConverter &converter,
                        FunctionType taskType) {
    if (loop.getNumLoops() != 1 || loop.getNumReductions() != 0)
      return loop.emitOpError("pquant-outline-parallel-loops takes "
                              "one-dimensional loops without reductions; "
                              "this one has ")
             << loop.getNumLoops() << " dimensions and "
             << loop.getNumReductions() << " reductions";
    auto parent = loop->getParentOfType<func::FuncOp>();
    Location loc = loop.getLoc();
    MLIRContext *context = loop.getContext();

    // What the task needs from here: the bounds and whatever the body uses
    // from above. Constants are cloned instead of passed.
    llvm::SetVector<Value> used;
    getUsedValuesDefinedAbove(loop.getRegion(), used);
    used.insert(loop.getLowerBound()[0]);
    used.insert(loop.getStep()[0]);
    SmallVector<Value> passed, cloned;
    SmallVector<Type> fields;
    for (Value value : used) {
      Operation *producer = value.getDefiningOp();
      if (producer && producer->hasTrait<OpTrait::ConstantLike>()) {
        cloned.push_back(value);
        continue;
      }
      FailureOr<Type> field = contextFieldType(value, converter);
      if (failed(field))
        return loop.emitOpError("uses a value of type ")
               << value.getType()
               << " from above, which cannot be passed to a task";
      passed.push_back(value);
      fields.push_back(*field);
    }
    auto contextType = LLVM::LLVMStructType::getLiteral(context, fields);
    auto pointer = LLVM::LLVMPointerType::get(context);

    // The task: load the context, then run iterations [begin, end).
    // Tasks follow their function, in the order of its loops.
    OpBuilder b(context);
    Operation *&previous = lastTask[parent];
    b.setInsertionPointAfter(previous ? previous : parent.getOperation());
    auto task = func::FuncOp::create(b, loc, (parent.getName() + "_task").str(),
                                     taskType);
    task.setPrivate();
    // Like the kernels, internal to the model object.
    task->setAttr("llvm.linkage",
                  LLVM::LinkageAttr::get(context, LLVM::Linkage::Internal));
    symbols.insert(task); // renames it if the name is taken
    previous = task;
    Block *entry = task.addEntryBlock();
    b.setInsertionPointToStart(entry);
    IRMapping mapping;
    Value contextArg = entry->getArgument(0);
    for (auto [index, value] : llvm::enumerate(passed)) {
      Value address = LLVM::GEPOp::create(
          b, loc, pointer, contextType, contextArg,
          ArrayRef<LLVM::GEPArg>{0, int32_t(index)});
      Value field = LLVM::LoadOp::create(b, loc, fields[index], address);
      Type type = value.getType();
      if (isa<MemRefType>(type))
        field = UnrealizedConversionCastOp::create(b, loc, type, field)
                    .getResult(0);
      else if (type.isIndex())
        field = arith::IndexCastOp::create(b, loc, type, field);
      mapping.map(value, field);
    }
    for (Value value : cloned)
      mapping.map(value, b.clone(*value.getDefiningOp())->getResult(0));
    auto toIndex = [&](Value v) {
      return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
    };
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto iterations =
        scf::ForOp::create(b, loc, toIndex(entry->getArgument(1)),
                           toIndex(entry->getArgument(2)), one);
    b.setInsertionPointToStart(iterations.getBody());
    Value iv = arith::AddIOp::create(
        b, loc, mapping.lookup(loop.getLowerBound()[0]),
        arith::MulIOp::create(b, loc, iterations.getInductionVar(),
                              mapping.lookup(loop.getStep()[0])));
    mapping.map(loop.getInductionVars()[0], iv);
    // scf.parallel is an automatic allocation scope: what an iteration
    // allocates on the stack lives until the iteration ends. scf.for is not
    // one, so the task takes such buffers once, before its loop, and its
    // iterations reuse them (an iteration never sees another's data: a
    // fresh alloca's contents are undefined anyway).
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(iterations);
      for (auto alloca : loop.getBody()->getOps<memref::AllocaOp>()) {
        if (alloca->getNumOperands() != 0)
          return alloca.emitOpError(
              "of a dynamic size in a parallel loop: "
              "pquant-outline-parallel-loops takes only static buffers");
        mapping.map(alloca.getResult(), b.clone(*alloca)->getResult(0));
      }
    }
    for (Operation &op : loop.getBody()->without_terminator())
      if (!isa<memref::AllocaOp>(op)) // taken before the loop
        b.clone(op, mapping);
    b.setInsertionPointToEnd(entry);
    func::ReturnOp::create(b, loc);

    // The caller: fill the context (allocated once, at function entry, so a
    // loop around the call does not grow the stack) and hand the iterations
    // to the runtime.
    b.setInsertionPointToStart(&parent.getBody().front());
    Value one64 = LLVM::ConstantOp::create(b, loc, b.getI64Type(),
                                           b.getI64IntegerAttr(1));
    Value contextPtr =
        LLVM::AllocaOp::create(b, loc, pointer, contextType, one64);
    b.setInsertionPoint(loop);
    for (auto [index, value] : llvm::enumerate(passed)) {
      Value field = value;
      if (isa<MemRefType>(value.getType()))
        field = UnrealizedConversionCastOp::create(b, loc, fields[index], value)
                    .getResult(0);
      else if (value.getType().isIndex())
        field = arith::IndexCastOp::create(b, loc, fields[index], value);
      Value address = LLVM::GEPOp::create(
          b, loc, pointer, contextType, contextPtr,
          ArrayRef<LLVM::GEPArg>{0, int32_t(index)});
      LLVM::StoreOp::create(b, loc, field, address);
    }
    // An empty range (upper <= lower) runs no iteration.
    Value span = arith::MaxSIOp::create(
        b, loc,
        arith::SubIOp::create(b, loc, loop.getUpperBound()[0],
                              loop.getLowerBound()[0]),
        arith::ConstantIndexOp::create(b, loc, 0));
    Value count = arith::CeilDivUIOp::create(b, loc, span, loop.getStep()[0]);
    Value taskPtr = func::ConstantOp::create(b, loc, taskType,
                                             SymbolRefAttr::get(task));
    func::CallOp::create(
        b, loc, kParallelFor, TypeRange{},
        ValueRange{taskPtr, contextPtr,
                   arith::IndexCastOp::create(b, loc, b.getI64Type(), count)});
    loop.erase();
    return success();
  }
};

} // namespace
