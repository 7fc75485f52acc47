# -*- Python -*-
"""lit configuration for pquant: tool substitutions only; paths come from
lit.site.cfg.py, which CMake writes."""

import json
import os
import shutil

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "pquant"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "lit-utils", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.pquant_obj_root, "test")

llvm_config.with_system_environment(
    ["HOME", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"])
llvm_config.use_default_substitutions()
# FileCheck, not and count come from LLVM's tool directory.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# Every pquant-opt run also checks that what it prints parses back to the
# same IR (--verify-roundtrip; it costs about 1% of the suite's time).
# PQUANT_VERIFY_ROUNDTRIP=0 turns it off.
pquant_opt_extra = []
if os.environ.get("PQUANT_VERIFY_ROUNDTRIP", "1") != "0":
    pquant_opt_extra.append("--verify-roundtrip")

tool_dirs = [config.pquant_tools_dir, config.llvm_tools_dir]
tools = [
    ToolSubst("pquant-opt", extra_args=pquant_opt_extra, unresolved="fatal"),
    ToolSubst("pquant-import", unresolved="fatal"),
    ToolSubst("pquant-compile", unresolved="fatal"),
    ToolSubst("pquant-run", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, tool_dirs)
config.substitutions.append(("%python", config.python_executable))
# The python/ package (reference, checkpoint tools) runs from the source tree.
config.environment["PYTHONPATH"] = os.path.join(config.pquant_src_root, "python")
# Compiled code runs on one thread unless a test asks for more: lit already
# runs tests side by side, and the pool's spinning workers would compete.
config.environment["PQUANT_THREADS"] = "1"
config.substitutions.append(("%pqgen", f"{config.python_executable} -m pquant.generate"))
config.substitutions.append(("%pquant_src", config.pquant_src_root))
config.substitutions.append(
    ("%expect_exit",
     f"{config.python_executable} {os.path.join(config.pquant_src_root, 'test', 'lit-utils', 'expect_exit.py')}"))

# aarch64 code runs under qemu, linked statically with Debian's cross gcc.
if shutil.which("qemu-aarch64") and shutil.which("aarch64-linux-gnu-gcc"):
    config.available_features.add("aarch64-cross")
# A sanitizer build (cmake -DPQUANT_SANITIZE=ON) instruments the runtime
# libraries, so what links them needs the sanitizer runtime: %host_cc carries
# the build's link flags (cmake/PQuantSanitizers.cmake writes them).
pquant_build = {"sanitize": False, "host_link_flags": []}
build_json = os.path.join(config.pquant_obj_root, "pquant-build.json")
if os.path.exists(build_json):
    with open(build_json) as f:
        pquant_build = json.load(f)
if pquant_build["sanitize"]:
    config.available_features.add("sanitizer")
    # A sanitizer report exits 86, never 1, which %expect_exit 1 would take
    # for a clean error; UBSan prints where. Settings from the environment
    # come after these and win.
    for var, options in [("ASAN_OPTIONS", "exitcode=86"),
                         ("UBSAN_OPTIONS", "exitcode=86:print_stacktrace=1")]:
        config.environment[var] = ":".join(
            filter(None, [options, config.environment.get(var, "")]))
config.substitutions.append(
    ("%host_cc", " ".join(["clang-22"] + pquant_build["host_link_flags"])))
