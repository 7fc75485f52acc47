//===- GPUTarget.cpp - NVIDIA GPU targets and their PTX ---------------------===//

#include "pquant/Target/GPUTarget.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/Module.h"

using namespace pquant;

namespace {

llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

uint64_t fnv1a(uint64_t hash, llvm::StringRef text) {
  for (char byte : text)
    hash = (hash ^ uint8_t(byte)) * 1099511628211ull;
  return (hash ^ 0) * 1099511628211ull; // the terminating NUL
}

} // namespace

uint64_t GPUCode::id() const {
  uint64_t hash = fnv1a(14695981039346656037ull, ptx);
  for (const std::string &name : kernels)
    hash = fnv1a(hash, name);
  return hash;
}

bool pquant::isGPUTarget(llvm::StringRef target) {
  return target == "sm_80" || target == "sm_90";
}

llvm::Expected<GPUCode> pquant::takeGPUCode(mlir::ModuleOp module) {
  GPUCode code;
  auto names = module->getAttrOfType<mlir::ArrayAttr>("pquant.gpu.kernels");
  auto chip = module->getAttrOfType<mlir::StringAttr>("pquant.gpu.chip");
  if (!names || !chip)
    return fail("the module has no pquant.gpu.kernels: was it compiled by "
                "pquant-gpu-pipeline?");
  code.chip = chip.str();
  for (mlir::Attribute name : names)
    code.kernels.push_back(llvm::cast<mlir::StringAttr>(name).str());
  mlir::gpu::BinaryOp binary;
  for (auto op : module.getOps<mlir::gpu::BinaryOp>()) {
    if (binary)
      return fail("the module holds more than one gpu.binary");
    binary = op;
  }
  if (!binary || binary.getObjects().size() != 1)
    return fail("the module holds no gpu.binary with one PTX object");
  auto object = llvm::cast<mlir::gpu::ObjectAttr>(binary.getObjects()[0]);
  if (object.getFormat() != mlir::gpu::CompilationTarget::Assembly)
    return fail("the gpu.binary does not hold PTX");
  code.ptx = object.getObject().str();
  binary.erase();
  module->removeAttr("pquant.gpu.kernels");
  module->removeAttr("pquant.gpu.chip");
  module->removeAttr(mlir::gpu::GPUDialect::getContainerModuleAttrName());
  return code;
}

void pquant::addGPUCodeGlobals(llvm::Module &module, const GPUCode &code,
                               bool embed) {
  llvm::LLVMContext &context = module.getContext();
  auto *i64 = llvm::Type::getInt64Ty(context);
  auto *i32 = llvm::Type::getInt32Ty(context);
  auto define = [&](llvm::StringRef name, llvm::Constant *value) {
    return new llvm::GlobalVariable(module, value->getType(), /*isConstant=*/true,
                                    llvm::GlobalValue::ExternalLinkage, value, name);
  };
  define("pquant_gpu_kernels_id", llvm::ConstantInt::get(i64, code.id()));
  define("pquant_gpu_kernel_count", llvm::ConstantInt::get(i32, code.kernels.size()));
  if (!embed)
    return;
  define("pquant_gpu_ptx", llvm::ConstantDataArray::getString(context, code.ptx));
  define("pquant_gpu_chip", llvm::ConstantDataArray::getString(context, code.chip));
  std::vector<llvm::Constant *> names;
  for (const std::string &name : code.kernels) {
    auto *text = new llvm::GlobalVariable(
        module, llvm::ArrayType::get(llvm::Type::getInt8Ty(context), name.size() + 1),
        true, llvm::GlobalValue::PrivateLinkage,
        llvm::ConstantDataArray::getString(context, name), "pquant_gpu_kernel_name");
    names.push_back(text);
  }
  auto *ptr = llvm::PointerType::getUnqual(context);
  define("pquant_gpu_kernel_names",
         llvm::ConstantArray::get(llvm::ArrayType::get(ptr, names.size()), names));
}
