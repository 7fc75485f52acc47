// Included first in every C++ file of a sanitizer build
// (cmake/PQuantSanitizers.cmake).
//
// LLVM's inline allocator code (BumpPtrAllocator, Recycler) poisons the
// memory it holds in reserve when compiled with ASan, and unpoisons what it
// hands out. Debian's libLLVM and libMLIR are not instrumented, so their
// copies of the same inline functions never unpoison: memory poisoned by
// pquant's code and then handed out by the libraries' would be reported as
// use-after-poison. Turning the poisoning off here makes both sides agree;
// ASan still checks every access against heap and stack redzones.
#ifndef PQUANT_SANITIZER_PRELUDE_H
#define PQUANT_SANITIZER_PRELUDE_H
#include <sanitizer/asan_interface.h>
#undef ASAN_POISON_MEMORY_REGION
#undef ASAN_UNPOISON_MEMORY_REGION
#define __asan_poison_memory_region(addr, size) ((void)(addr), (void)(size))
#define __asan_unpoison_memory_region(addr, size) ((void)(addr), (void)(size))
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif
