//===- CPUTarget.cpp - the CPU a model is compiled for ----------------------===//

#include "pquant/Target/CPUTarget.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace llvm;
using namespace pquant;

static void initializeTargets() {
  static bool initialized = [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeAArch64TargetInfo();
    LLVMInitializeAArch64Target();
    LLVMInitializeAArch64TargetMC();
    LLVMInitializeAArch64AsmPrinter();
    return true;
  }();
  (void)initialized;
}

static Error fail(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

bool CPUTarget::isAArch64() const {
  return Triple(triple).getArch() == Triple::aarch64;
}

Expected<CPUTarget> CPUTarget::resolve(StringRef name, StringRef cpu,
                                       StringRef features) {
  initializeTargets();
  CPUTarget target;
  target.cpu = cpu.str();
  target.features = features.str();
  if (name == "host") {
    target.isHost = true;
    target.triple = sys::getDefaultTargetTriple();
    if (cpu.empty())
      target.cpu = sys::getHostCPUName().str();
    if (features.empty()) {
      SmallVector<std::string> enabled;
      for (const auto &[feature, on] : sys::getHostCPUFeatures())
        if (on)
          enabled.push_back("+" + feature.str());
      target.features = join(enabled, ",");
    }
  } else if (name == "x86_64") {
    target.triple = "x86_64-unknown-linux-gnu";
  } else if (name == "aarch64") {
    target.triple = "aarch64-unknown-linux-gnu";
  } else {
    return fail("unknown target '" + name +
                "'; expected x86_64, aarch64 or host");
  }

  std::string error;
  const Target *llvmTarget = TargetRegistry::lookupTarget(Triple(target.triple), error);
  if (!llvmTarget)
    return fail("target '" + name + "': " + error);
  std::unique_ptr<MCSubtargetInfo> subtarget(llvmTarget->createMCSubtargetInfo(
      Triple(target.triple), target.cpu, target.features));
  if (!target.cpu.empty() && !subtarget->isCPUStringValid(target.cpu))
    return fail("unknown CPU '" + target.cpu + "' for target '" + name + "'");
  auto has = [&](StringRef feature) {
    return subtarget->checkFeatures(("+" + feature).str());
  };
  if (target.isAArch64()) {
    target.vectorBits = 128;
    target.hasDotProd = has("dotprod");
  } else {
    target.vectorBits = has("avx512f") ? 512 : has("avx2") ? 256 : 128;
    target.hasVectorPopcount64 = has("avx512vpopcntdq");
    target.hasVNNI = has("avx512vnni") && has("avx512bw");
    target.hasVBMI = has("avx512vbmi");
  }
  return target;
}

Expected<std::unique_ptr<TargetMachine>>
CPUTarget::createTargetMachine(unsigned optLevel) const {
  std::string error;
  const Target *llvmTarget = TargetRegistry::lookupTarget(Triple(triple), error);
  if (!llvmTarget)
    return fail(error);
  CodeGenOptLevel level = optLevel == 0   ? CodeGenOptLevel::None
                          : optLevel == 1 ? CodeGenOptLevel::Less
                          : optLevel == 2 ? CodeGenOptLevel::Default
                                          : CodeGenOptLevel::Aggressive;
  std::unique_ptr<TargetMachine> machine(llvmTarget->createTargetMachine(
      Triple(triple), cpu, features, TargetOptions(), Reloc::PIC_,
      std::nullopt, level));
  if (!machine)
    return fail("cannot create a target machine for " + triple);
  return machine;
}
