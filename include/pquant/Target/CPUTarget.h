//===- CPUTarget.h - the CPU a model is compiled for ------------*- C++ -*-===//

#ifndef PQUANT_TARGET_CPUTARGET_H
#define PQUANT_TARGET_CPUTARGET_H

#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace llvm {
class TargetMachine;
} // namespace llvm

namespace pquant {

/// A resolved CPU target: an LLVM triple, CPU and feature string, and what
/// kernels need to know about it.
struct CPUTarget {
  std::string triple;
  std::string cpu;      ///< empty: LLVM's generic CPU for the triple
  std::string features; ///< LLVM feature string, e.g. "+avx512f,+avx512vpopcntdq"
  bool isHost = false;
  /// Widest integer vector register, in bits (128, 256 or 512).
  unsigned vectorBits = 128;
  /// Counts the bits of 64-bit vector lanes in one instruction (vpopcntq).
  bool hasVectorPopcount64 = false;
  bool hasVNNI = false;    ///< x86 vpdpbusd on zmm (AVX-512 VNNI + BW)
  bool hasVBMI = false;    ///< x86 vpermi2b on zmm (AVX-512 VBMI)
  bool hasDotProd = false; ///< aarch64 sdot

  /// Resolves `name` (x86_64, aarch64 or host) with an optional CPU and
  /// feature string; `host` fills CPU and features from this machine when
  /// they are not given. Errors name what is wrong.
  static llvm::Expected<CPUTarget> resolve(llvm::StringRef name,
                                           llvm::StringRef cpu,
                                           llvm::StringRef features);

  /// An LLVM TargetMachine for this target at `optLevel` (0-3).
  llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
  createTargetMachine(unsigned optLevel) const;

  bool isAArch64() const;
  /// Whether the lookup strategy has its one-token kernel here, the lookup
  /// GEMV: vpermi2b and vpdpbusd on 512-bit vectors (tiles of 8 rows).
  bool hasLookupGemv() const { return hasVBMI && hasVNNI && vectorBits == 512; }
};

} // namespace pquant

#endif // PQUANT_TARGET_CPUTARGET_H
