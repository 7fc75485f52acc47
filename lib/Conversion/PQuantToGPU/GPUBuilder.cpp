//===- GPUBuilder.cpp - helpers for building GPU kernel bodies --------------===//

#include "GPUBuilder.h"

#include "pquant/Conversion/ExactMath.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace pquant;
using namespace pquant::gpu;

Value pquant::gpu::i32(ImplicitLocOpBuilder &b, int64_t value) {
  return arith::ConstantIntOp::create(b, b.getI32Type(), value);
}

Value pquant::gpu::i64(ImplicitLocOpBuilder &b, int64_t value) {
  return arith::ConstantIntOp::create(b, b.getI64Type(), value);
}

Value pquant::gpu::f32(ImplicitLocOpBuilder &b, double value) {
  return arith::ConstantOp::create(b, b.getF32Type(),
                                   b.getF32FloatAttr(float(value)));
}

Value pquant::gpu::f64(ImplicitLocOpBuilder &b, double value) {
  return arith::ConstantOp::create(b, b.getF64Type(), b.getF64FloatAttr(value));
}

Value pquant::gpu::threadIdx(ImplicitLocOpBuilder &b) {
  return arith::IndexCastUIOp::create(
      b, b.getI32Type(), mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x));
}

Value pquant::gpu::blockIdx(ImplicitLocOpBuilder &b, mlir::gpu::Dimension dim) {
  return arith::IndexCastUIOp::create(b, b.getI32Type(),
                                      mlir::gpu::BlockIdOp::create(b, dim));
}

Value pquant::gpu::toI64(ImplicitLocOpBuilder &b, Value value) {
  if (value.getType().isInteger(64))
    return value;
  return arith::ExtSIOp::create(b, b.getI64Type(), value);
}

Value pquant::gpu::toI32(ImplicitLocOpBuilder &b, Value value) {
  if (value.getType().isInteger(32))
    return value;
  return arith::TruncIOp::create(b, b.getI32Type(), value);
}

Value pquant::gpu::elementPtr(ImplicitLocOpBuilder &b, Value base, Type type,
                              Value index) {
  return LLVM::GEPOp::create(b, base.getType(), type, base,
                             ValueRange{toI64(b, index)});
}

unsigned pquant::gpu::alignOf(Type type) {
  if (auto vector = dyn_cast<VectorType>(type))
    return vector.getNumElements() * alignOf(vector.getElementType());
  return std::max(1u, type.getIntOrFloatBitWidth() / 8);
}

Value pquant::gpu::load(ImplicitLocOpBuilder &b, Type type, Value base,
                        Value index, unsigned align, bool invariant) {
  return LLVM::LoadOp::create(b, type, elementPtr(b, base, type, index), align,
                              /*isVolatile=*/false, /*isNonTemporal=*/false,
                              invariant);
}

void pquant::gpu::store(ImplicitLocOpBuilder &b, Value value, Value base,
                        Value index, unsigned align) {
  LLVM::StoreOp::create(b, value,
                        elementPtr(b, base, value.getType(), index), align);
}

ValueRange pquant::gpu::forLoop(ImplicitLocOpBuilder &b, Value lower,
                                Value upper, Value step, ValueRange init,
                                LoopBody body) {
  auto loop = scf::ForOp::create(
      b, lower, upper, step, init,
      [&](OpBuilder &nested, Location loc, Value iv, ValueRange carried) {
        ImplicitLocOpBuilder inner(loc, nested);
        scf::YieldOp::create(inner, body(inner, iv, carried));
      });
  return loop.getResults();
}

ValueRange pquant::gpu::columnLoop(ImplicitLocOpBuilder &b, Value first,
                                   int64_t width, int64_t stride, ValueRange init,
                                   ColumnBody body, int64_t maxUnroll) {
  int64_t count = (width + stride - 1) / stride;
  if (count > maxUnroll) {
    Value yes = arith::ConstantIntOp::create(b, b.getI1Type(), 1);
    return forLoop(b, first, i32(b, width), i32(b, stride), init,
                   [&](ImplicitLocOpBuilder &b, Value col, ValueRange carried) {
                     return body(b, col, yes, carried);
                   });
  }
  // Results live in an scf.execute_region so callers get a ValueRange.
  auto region = scf::ExecuteRegionOp::create(b, init.getTypes());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&region.getRegion().emplaceBlock());
  SmallVector<Value> carried(init.begin(), init.end());
  for (int64_t i = 0; i < count; ++i) {
    Value col = arith::AddIOp::create(b, first, i32(b, i * stride));
    Value valid = (i + 1) * stride <= width
                      ? Value(arith::ConstantIntOp::create(b, b.getI1Type(), 1))
                      : cmp(b, arith::CmpIPredicate::slt, col, i32(b, width));
    SmallVector<Value> next = body(b, col, valid, carried);
    carried.assign(next.begin(), next.end());
  }
  scf::YieldOp::create(b, carried);
  return region.getResults();
}

void pquant::gpu::ifThen(ImplicitLocOpBuilder &b, Value cond,
                         llvm::function_ref<void(ImplicitLocOpBuilder &)> then) {
  scf::IfOp::create(b, cond, [&](OpBuilder &nested, Location loc) {
    ImplicitLocOpBuilder inner(loc, nested);
    then(inner);
    scf::YieldOp::create(inner);
  });
}

Value pquant::gpu::ifElse(
    ImplicitLocOpBuilder &b, Value cond, Type type,
    llvm::function_ref<Value(ImplicitLocOpBuilder &)> then,
    llvm::function_ref<Value(ImplicitLocOpBuilder &)> otherwise) {
  auto op = scf::IfOp::create(
      b, cond,
      [&](OpBuilder &nested, Location loc) {
        ImplicitLocOpBuilder inner(loc, nested);
        scf::YieldOp::create(inner, then(inner));
      },
      [&](OpBuilder &nested, Location loc) {
        ImplicitLocOpBuilder inner(loc, nested);
        scf::YieldOp::create(inner, otherwise(inner));
      });
  assert(op.getResult(0).getType() == type && "branches yield another type");
  return op.getResult(0);
}

Value pquant::gpu::cmp(ImplicitLocOpBuilder &b, arith::CmpIPredicate predicate,
                       Value lhs, Value rhs) {
  return arith::CmpIOp::create(b, predicate, lhs, rhs);
}

Value pquant::gpu::select(ImplicitLocOpBuilder &b, Value cond, Value a,
                          Value c) {
  return arith::SelectOp::create(b, cond, a, c);
}

Value pquant::gpu::shuffleXor(ImplicitLocOpBuilder &b, Value value,
                              int64_t offset) {
  auto shuffle32 = [&](Value v) {
    return mlir::gpu::ShuffleOp::create(b, v, i32(b, offset), i32(b, kWarp),
                                        mlir::gpu::ShuffleMode::XOR)
        .getShuffleResult();
  };
  Type type = value.getType();
  if (type.getIntOrFloatBitWidth() == 32)
    return shuffle32(value);
  // 64 bits: the two halves separately.
  Type i64Type = b.getI64Type(), i32Type = b.getI32Type();
  Value bits = type.isF64() ? Value(arith::BitcastOp::create(b, i64Type, value))
                            : value;
  Value low = shuffle32(arith::TruncIOp::create(b, i32Type, bits));
  Value high = shuffle32(arith::TruncIOp::create(
      b, i32Type, arith::ShRUIOp::create(b, bits, i64(b, 32))));
  Value joined = arith::OrIOp::create(
      b, arith::ExtUIOp::create(b, i64Type, low),
      arith::ShLIOp::create(b, arith::ExtUIOp::create(b, i64Type, high),
                            i64(b, 32)));
  return type.isF64() ? Value(arith::BitcastOp::create(b, type, joined))
                      : joined;
}

Value pquant::gpu::combine(ImplicitLocOpBuilder &b, Combine kind, Value lhs,
                           Value rhs) {
  switch (kind) {
  case Combine::AddI:
    return arith::AddIOp::create(b, lhs, rhs);
  case Combine::AddF:
    return arith::AddFOp::create(b, lhs, rhs);
  case Combine::MaxF:
    return arith::MaximumFOp::create(b, lhs, rhs);
  }
  llvm_unreachable("unknown combine");
}

Value pquant::gpu::warpReduce(ImplicitLocOpBuilder &b, Combine kind,
                              Value value, int64_t width) {
  for (int64_t offset = width / 2; offset >= 1; offset /= 2)
    value = combine(b, kind, value, shuffleXor(b, value, offset));
  return value;
}

Value pquant::gpu::blockReduce(ImplicitLocOpBuilder &b, Combine kind,
                               Value value, Value scratch, int64_t threads) {
  Value tid = threadIdx(b);
  Value lane = arith::AndIOp::create(b, tid, i32(b, kWarp - 1));
  Value warp = arith::ShRUIOp::create(b, tid, i32(b, 5));
  value = warpReduce(b, kind, value);
  mlir::gpu::BarrierOp::create(b);
  ifThen(b, cmp(b, arith::CmpIPredicate::eq, lane, i32(b, 0)),
         [&](ImplicitLocOpBuilder &b) {
           store(b, value, scratch, warp, alignOf(value.getType()));
         });
  mlir::gpu::BarrierOp::create(b);
  Type type = value.getType();
  Value result = load(b, type, scratch, i32(b, 0), alignOf(type));
  for (int64_t w = 1; w < (threads + kWarp - 1) / kWarp; ++w)
    result = combine(b, kind, result,
                     load(b, type, scratch, i32(b, w), alignOf(type)));
  mlir::gpu::BarrierOp::create(b);
  return result;
}

/// Per-warp values of a block of `threads` threads combined into every
/// thread, through `scratch` (one slot per warp, used by no other
/// reduction): one barrier.
SmallVector<Value> pquant::gpu::blockReduceOnce(ImplicitLocOpBuilder &b,
                              ArrayRef<std::pair<Combine, Value>> values,
                              ArrayRef<Value> scratch, int64_t threads) {
  Value tid = threadIdx(b);
  Value lane = arith::AndIOp::create(b, tid, i32(b, kWarp - 1));
  Value warp = arith::ShRUIOp::create(b, tid, i32(b, 5));
  SmallVector<Value> reduced;
  for (auto [kind, value] : values)
    reduced.push_back(warpReduce(b, kind, value));
  ifThen(b, cmp(b, arith::CmpIPredicate::eq, lane, i32(b, 0)), [&](ImplicitLocOpBuilder &b) {
    for (auto [value, slots] : llvm::zip(reduced, scratch))
      store(b, value, slots, warp, alignOf(value.getType()));
  });
  mlir::gpu::BarrierOp::create(b);
  SmallVector<Value> results;
  for (auto [i, value] : llvm::enumerate(reduced)) {
    Type type = value.getType();
    // All slots' loads first, then a tree.
    SmallVector<Value> parts;
    for (int64_t w = 0; w < threads / kWarp; ++w)
      parts.push_back(load(b, type, scratch[i], i32(b, w), alignOf(type)));
    while (parts.size() > 1) {
      SmallVector<Value> next;
      for (size_t j = 0; j + 1 < parts.size(); j += 2)
        next.push_back(combine(b, values[i].first, parts[j], parts[j + 1]));
      if (parts.size() % 2)
        next.push_back(parts.back());
      parts = std::move(next);
    }
    results.push_back(parts[0]);
  }
  return results;
}

Value pquant::gpu::sharedMemory(ImplicitLocOpBuilder &b, StringRef name,
                                int64_t bytes) {
  auto module = b.getInsertionBlock()
                    ->getParentOp()
                    ->getParentOfType<mlir::gpu::GPUModuleOp>();
  assert(module && "shared memory outside a gpu.module");
  SymbolTable symbols(module);
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), std::max<int64_t>(bytes, 16));
  auto global = symbols.lookup<LLVM::GlobalOp>(name);
  if (!global) {
    OpBuilder top(module.getBodyRegion());
    top.setInsertionPointToStart(module.getBody());
    global = LLVM::GlobalOp::create(top, b.getLoc(), type, /*isConstant=*/false,
                                    LLVM::Linkage::Internal, name, Attribute(),
                                    /*alignment=*/16, /*addrSpace=*/kShared);
    symbols.insert(global);
  }
  return LLVM::AddressOfOp::create(b, global);
}

Value pquant::gpu::floor(ImplicitLocOpBuilder &b, Value x) {
  const char *name = x.getType().isF64() ? "llvm.nvvm.floor.d" : "llvm.nvvm.floor.f";
  return LLVM::CallIntrinsicOp::create(b, x.getType(), b.getStringAttr(name),
                                       ValueRange{x})
      .getResult(0);
}

Value pquant::gpu::sqrtF32(ImplicitLocOpBuilder &b, Value x) {
  return LLVM::CallIntrinsicOp::create(b, x.getType(),
                                       b.getStringAttr("llvm.nvvm.sqrt.rn.f"),
                                       ValueRange{x})
      .getResult(0);
}

Value pquant::gpu::absF32(ImplicitLocOpBuilder &b, Value x) {
  Type i32Type = b.getI32Type();
  Value bits = arith::BitcastOp::create(b, i32Type, x);
  return arith::BitcastOp::create(
      b, x.getType(), arith::AndIOp::create(b, bits, i32(b, 0x7fffffff)));
}

Value pquant::gpu::copySignF32(ImplicitLocOpBuilder &b, Value magnitude,
                               Value sign) {
  Type i32Type = b.getI32Type();
  Value m = arith::BitcastOp::create(b, i32Type, magnitude);
  Value s = arith::AndIOp::create(b, arith::BitcastOp::create(b, i32Type, sign),
                                  i32(b, int64_t(0x80000000u)));
  return arith::BitcastOp::create(b, magnitude.getType(),
                                  arith::OrIOp::create(b, m, s));
}

Value pquant::gpu::expF32(ImplicitLocOpBuilder &b, Value x) {
  return pquant::expF32(b, x, gpu::floor);
}

std::pair<Value, Value> pquant::gpu::cosSinF32(ImplicitLocOpBuilder &b,
                                               Value x) {
  return pquant::cosSinF32(b, x, gpu::floor);
}

Value pquant::gpu::siluMul(ImplicitLocOpBuilder &b, Value g, Value u) {
  Value denominator =
      arith::AddFOp::create(b, f32(b, 1.0), expF32(b, arith::NegFOp::create(b, g)));
  return arith::MulFOp::create(b, arith::DivFOp::create(b, g, denominator), u);
}

int pquant::gpu::chipVersion(StringRef chip) {
  int version = 0;
  if (!chip.consume_front("sm_") || chip.getAsInteger(10, version))
    return 0;
  return version;
}

int pquant::gpu::targetChipVersion(ImplicitLocOpBuilder &b) {
  Operation *parent = b.getInsertionBlock()->getParentOp();
  assert(parent && "targetChipVersion inside a region under construction");
  auto module = parent ? parent->getParentOfType<mlir::gpu::GPUModuleOp>()
                       : mlir::gpu::GPUModuleOp();
  auto target = dyn_cast_or_null<NVVM::NVVMTargetAttr>(
      module && module.getTargets() ? module.getTargetsAttr()[0] : Attribute());
  return target ? chipVersion(target.getChip()) : 0;
}

void pquant::gpu::waitForPriorKernels(ImplicitLocOpBuilder &b) {
  if (targetChipVersion(b) < 90)
    return;
  NVVM::GriddepcontrolOp::create(b, NVVM::GridDepActionKind::wait);
  NVVM::GriddepcontrolOp::create(b, NVVM::GridDepActionKind::launch_dependents);
}

void pquant::gpu::prefetchL2(ImplicitLocOpBuilder &b, Value base, Type type,
                              Value index) {
  assert(base.getType() == LLVM::LLVMPointerType::get(b.getContext(), kGlobal) &&
         "prefetch.global.L2 takes a global pointer (a kernel parameter)");
  NVVM::PrefetchOp::create(
      b, NVVM::PrefetchCacheLevelAttr::get(b.getContext(), NVVM::PrefetchCacheLevel::L2),
      /*evictPriority=*/nullptr, elementPtr(b, base, type, index), /*predicate=*/Value());
}

Value pquant::gpu::dot4(ImplicitLocOpBuilder &b, Value a, bool unsignedA,
                        Value c, Value acc) {
  auto bytes = VectorType::get({4}, b.getI8Type());
  auto kind = [&](bool isUnsigned) {
    return NVVM::DotAccumulateTypeAttr::get(
        b.getContext(), isUnsigned ? NVVM::DotAccumulateType::UNSIGNED
                                   : NVVM::DotAccumulateType::SIGNED);
  };
  return NVVM::DotAccumulate4WayOp::create(
      b, b.getI32Type(), LLVM::BitcastOp::create(b, bytes, a), kind(unsignedA),
      LLVM::BitcastOp::create(b, bytes, c), kind(false), acc);
}

SmallVector<Value, 4> pquant::gpu::mmaU8S8(ImplicitLocOpBuilder &b, ValueRange a,
                                          ValueRange c, ValueRange acc) {
  Type i32Type = b.getI32Type();
  auto result =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {i32Type, i32Type, i32Type, i32Type});
  Value d = NVVM::MmaOp::create(
      b, result, a, c, acc, {16, 8, 32}, /*b1Op=*/std::nullopt, NVVM::MMAIntOverflow::wrapped,
      std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::u8, NVVM::MMATypes::s8},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row, NVVM::MMALayout::col});
  SmallVector<Value, 4> parts;
  for (int64_t i = 0; i < 4; ++i)
    parts.push_back(LLVM::ExtractValueOp::create(b, d, i));
  return parts;
}
