# Sanitizer and fuzzer builds; see docs/fuzzing.md.
#
#   -DPQUANT_SANITIZE=ON  every host target (tools, libraries, the runtime
#                         libraries models link, tests) with AddressSanitizer
#                         and UndefinedBehaviorSanitizer, assertions on
#   -DPQUANT_FUZZERS=ON   also the libFuzzer targets in fuzz/, with coverage
#                         instrumentation on every host target
#
# Both need clang. The aarch64 runtime (built with Debian's cross g++) is
# never instrumented.
#
# The ASan runtime is linked as a shared library (-shared-libsan) with an
# rpath to clang's runtime directory: pquant-run, an instrumented executable,
# dlopen()s shared models that contain the instrumented runtime, and both
# must use one and the same ASan runtime. The fuzzers, which load nothing,
# link it statically (fuzz/CMakeLists.txt).
#
# Sets PQUANT_HOST_LINK_FLAGS: what a link against the host runtime
# libraries needs besides them. pquant-compile gets it as a definition of
# the same name (it links model executables and shared models), lit as
# `%host_cc`'s flags through pquant-build.json.

option(PQUANT_SANITIZE
  "Build every host target with ASan + UBSan (clang) and assertions" OFF)
option(PQUANT_FUZZERS
  "Build the libFuzzer targets in fuzz/ (needs PQUANT_SANITIZE)" OFF)

set(PQUANT_HOST_LINK_FLAGS "")
set(PQUANT_SANITIZE_COMPILE_FLAGS "")
if(PQUANT_FUZZERS AND NOT PQUANT_SANITIZE)
  message(FATAL_ERROR "PQUANT_FUZZERS needs PQUANT_SANITIZE=ON")
endif()

if(PQUANT_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang" OR
     NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "PQUANT_SANITIZE needs clang (CMAKE_C_COMPILER=clang-22 "
                        "CMAKE_CXX_COMPILER=clang++-22)")
  endif()
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-runtime-dir
    OUTPUT_VARIABLE PQUANT_SANITIZER_RUNTIME_DIR
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT EXISTS "${PQUANT_SANITIZER_RUNTIME_DIR}")
    message(FATAL_ERROR "no sanitizer runtime in '${PQUANT_SANITIZER_RUNTIME_DIR}' "
                        "(Debian package libclang-rt-22-dev)")
  endif()

  # vptr needs RTTI, which Debian's LLVM (and so pquant) is built without.
  # No recovery: the first report ends the process with a non-zero status.
  set(PQUANT_SANITIZE_COMPILE_FLAGS
    -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all
    -fno-omit-frame-pointer -gline-tables-only -UNDEBUG)
  if(PQUANT_FUZZERS)
    list(APPEND PQUANT_SANITIZE_COMPILE_FLAGS -fsanitize=fuzzer-no-link)
  endif()
  set(PQUANT_HOST_LINK_FLAGS -fsanitize=address,undefined -shared-libsan
    -Wl,-rpath,${PQUANT_SANITIZER_RUNTIME_DIR})
  add_compile_options(${PQUANT_SANITIZE_COMPILE_FLAGS}
    "$<$<COMPILE_LANGUAGE:CXX>:SHELL:-include ${CMAKE_CURRENT_LIST_DIR}/sanitizer-prelude.h>")
  add_link_options(${PQUANT_HOST_LINK_FLAGS})
  list(JOIN PQUANT_HOST_LINK_FLAGS " " host_link_flags)
  add_compile_definitions("PQUANT_HOST_LINK_FLAGS=\"${host_link_flags}\"")
  message(STATUS "pquant: ASan + UBSan build, fuzzers ${PQUANT_FUZZERS} "
                 "(sanitizer runtime in ${PQUANT_SANITIZER_RUNTIME_DIR})")
endif()

# What lit needs to know about this build (test/lit.cfg.py reads it).
string(REPLACE ";" "\", \"" json_link_flags "${PQUANT_HOST_LINK_FLAGS}")
if(PQUANT_HOST_LINK_FLAGS)
  set(json_link_flags "\"${json_link_flags}\"")
endif()
if(PQUANT_SANITIZE)
  set(json_sanitize true)
else()
  set(json_sanitize false)
endif()
file(WRITE ${CMAKE_BINARY_DIR}/pquant-build.json
  "{\"sanitize\": ${json_sanitize}, \"host_link_flags\": [${json_link_flags}]}\n")
