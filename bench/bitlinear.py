#!/usr/bin/python3
"""BitLinear benchmark: compiled pquant BitLinear against dense f32, on one CPU core.

Usage: /usr/bin/python3 bench/bitlinear.py [--quick] [--strategies LIST] [--build DIR]
                                           [--out-md FILE] [--out-png FILE]

For every shape N x K (N outputs, K inputs) and every BitLinear strategy it
generates a pquant module with random +-1 weights holding two functions, a GEMV
taking q as tensor<1xKxi8> (as the decode entry point does) and a GEMM taking
tensor<?xKxi8> (as prefill does), compiles it with
`pquant-compile -target=host [-strategy=S] --emit=object`, and links everything
with bench/bitlinear_harness.c (clang-22 -O3 -march=native). That one harness
process then measures, on one thread pinned to CPU 0 (at nice -10 as root):
  * the streaming read bandwidth of this machine (sum over 1 GiB, best of runs
    spread over the benchmark) and the core clock;
  * the compiled BitLinear at batch 1 (GEMV) and batch 64 (GEMM), and a plain C
    dense f32 GEMV / GEMM of the same shape, hot (back-to-back calls) and cold
    (caches flushed before each call): minimum over the repetitions;
  * the time to read the packed weight bytes from the caches (hot).
Before and after timing, every compiled result is compared exactly with the numpy
accumulators (unit scales, so outputs are integers): a wrong result aborts the run
before anything is written.

Writes docs/benchmarks.md and docs/benchmarks-bitlinear.png (the plot is skipped,
with a note, if matplotlib is missing: apt-get install python3-matplotlib). Takes
about 3 minutes (--quick: about 1), plus up to --max-wait seconds waiting for the
load average to drop.
"""

import argparse
import datetime
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(ROOT, "bench", "bitlinear_harness.c")
# (N outputs, K inputs): the 1.3B model's projections (hidden 2048, FFN 5460) and 7B-class ones.
SHAPES = [(2048, 2048), (5460, 2048), (2048, 5460), (4096, 4096), (11008, 4096), (4096, 11008)]
BATCH = 64
CC = ["clang-22", "-O3", "-march=native", "-fopenmp-simd"]
# "default" compiles without -strategy (the compiler's own choice); the others pass -strategy=NAME.
STRATEGIES = "default,bitserial,unpack-dot,lookup"
# Targets the issue states.
TARGET_SPEEDUP_SHAPE, TARGET_SPEEDUP = (4096, 4096), 10.0
TARGET_GBPS_SHAPE, TARGET_GBPS = (4096, 11008), 25.0
ASM_SHAPE = (4096, 4096)  # whose assembly is read for the hot-loop instruction counts


def packed_bytes(n, k):
    return n * -(-k // 8)


def packed_type(n, k):
    return (f"tensor<{n}x{-(-k // 8)}x1x1xi8, #pquant.packed<rows = {n}, cols = {k}, word = 8, "
            f"tile = [1, 1], bit_order = lsb_first>>")


def layer_mlir(prefix, n, k, weights_hex):
    """`@{prefix}_gemv` (one token, static) and `@{prefix}_gemm` (dynamic tokens), same weights."""
    w_t, s_t = packed_type(n, k), "tensor<?xf32>"
    funcs = []
    for suffix, m in (("gemv", "1"), ("gemm", "?")):
        q_t, y_t = f"tensor<{m}x{k}xi8>", f"tensor<{m}x{n}xf32>"
        funcs.append(f"""func.func @{prefix}_{suffix}(%q: {q_t}, %s: {s_t}) -> {y_t} {{
  %w = arith.constant dense<"0x{weights_hex}"> : {w_t}
  %ws = arith.constant dense<1.0> : tensor<1xf32>
  %y = pquant.bitlinear %q, %s, %w, %ws : {q_t}, {s_t}, {w_t}, tensor<1xf32> -> {y_t}
  return %y : {y_t}
}}
""")
    return "".join(funcs)


def pad64(data):
    return data + bytes(-len(data) % 64)


def show(command):
    print("$", " ".join(shlex.quote(c) for c in command), flush=True)


def run(command, **kwargs):
    show(command)
    return subprocess.run(command, check=True, **kwargs)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_details():
    """A few lscpu facts (family, model, caches), best effort."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    keep = []
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("CPU family", "Model", "CPU(s)", "L1d cache", "L2 cache", "L3 cache"):
            keep.append(f"{key.strip()} {value.strip()}")
    return ", ".join(keep)


def cpu_family():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu family"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def wait_for_quiet(max_load, max_wait):
    """Waits (up to max_wait seconds) for the 1-minute load average to drop below max_load."""
    start = time.time()
    while load_average() > max_load and time.time() - start < max_wait:
        print(f"load average {load_average():.2f} > {max_load}; waiting...", flush=True)
        time.sleep(10)
    return load_average()


# ----------------------------------------------------------------------------------------------------------
# The kernels' hot loops, from pquant-compile --emit=asm.

LABEL = re.compile(r"^(\.?[\w$.]+):")
VECTOR_BITS = {"zmm": 512, "ymm": 256, "xmm": 128}


def loop_work(body):
    """Weight x token products a path through a loop does: popcounted bits / 8 activation
    bit-planes (bit-serial), 4 per 32-bit lane of a byte dot product (vpdpbusd), and 4 columns
    per 16-bit token lane of a table entry added from memory (lookup: vpaddw with a memory
    operand; the tables are built by register-to-register adds). In the lookup GEMV a vpermi2b
    (or vpermt2b, the same lookup overwriting the other operand) looks up 64 weight nibbles for
    the low or the high half of q: 2 products per byte, and its vpdpbusd only adds lookups."""
    work = 0
    lookups = [args for op, args in body if op.startswith(("vpermi2b", "vpermt2b"))]
    if lookups:
        return sum(VECTOR_BITS[re.findall(r"%(zmm|ymm|xmm)", args)[0]] // 8 * 2 for args in lookups)
    for op, args in body:
        regs = re.findall(r"%(zmm|ymm|xmm)", args)
        bits = VECTOR_BITS[regs[0]] if regs else (64 if "%r" in args else 32)
        if "popcnt" in op:
            work += bits // 8
        elif op.startswith("vpdpbusd") or op.startswith("vpdpbssd"):
            work += bits // 8
        elif op.startswith("vpaddw") and "(" in args:
            work += bits // 16 * 4
    return work


def function_blocks(asm_text, kernel):
    """The basic blocks of the functions whose name contains `kernel`, per function: a list of
    (label or None, [(mnemonic, operands)], [successor block indices])."""
    functions, blocks, inside = [], None, False
    for line in asm_text.splitlines():
        m = LABEL.match(line)
        if m:
            name = m.group(1)
            if not name.startswith("."):  # a function, not a block
                inside = kernel in name
                blocks = [] if inside else None
                if inside:
                    functions.append(blocks)
            if inside:
                blocks.append([name, [], []])
            continue
        if not inside:
            continue
        text = line.split("#")[0].strip()
        if not text or text.startswith("."):
            continue
        parts = text.split(None, 1)
        if not blocks or blocks[-1][1] and blocks[-1][1][-1][0].startswith(("j", "ret")):
            blocks.append([None, [], []])
        blocks[-1][1].append((parts[0], parts[1] if len(parts) > 1 else ""))
    for blocks in functions:
        index = {label: i for i, (label, _, _) in enumerate(blocks) if label}
        for i, (_, body, successors) in enumerate(blocks):
            last = body[-1][0] if body else ""
            if last.startswith("j") and body[-1][1].strip() in index:
                successors.append(index[body[-1][1].strip()])
            if not last.startswith(("jmp", "ret")) and i + 1 < len(blocks):
                successors.append(i + 1)
    return functions


def loop_paths(blocks, max_paths=16):
    """Per innermost loop header: the paths from the header back to it (lists of block
    indices), found from the back edges of a depth-first walk from the function's entry. A loop
    holding another loop's header is left out: one pass through it is not one iteration."""
    back, state = [], {}

    def walk(i):
        state[i] = "open"
        for j in blocks[i][2]:
            if state.get(j) == "open":
                back.append((i, j))
            elif j not in state:
                walk(j)
        state[i] = "done"

    if blocks:
        walk(0)
    predecessors = {i: [p for p, b in enumerate(blocks) if i in b[2]] for i in range(len(blocks))}
    members = {}
    for tail, header in back:
        # The natural loop: blocks that reach the back edge's tail without passing the header.
        found = members.setdefault(header, {header})
        stack = [tail] if tail not in found else []
        found.add(tail)
        while stack:
            for p in predecessors[stack.pop()]:
                if p not in found:
                    found.add(p)
                    stack.append(p)
    loops = {}
    for tail, header in back:
        inside = members[header]
        if any(h != header and h in inside for h in members):
            continue
        paths, pending = loops.setdefault(header, []), [[header]]
        while pending and len(paths) <= max_paths:
            path = pending.pop()
            for j in blocks[path[-1]][2]:
                if j == header and path[-1] == tail:
                    paths.append(path)
                elif j in inside and j != header and j not in path:
                    pending.append(path + [j])
    return loops


def hot_loop(asm_text, kernel):
    """The loop that does the most products per iteration among the functions whose name
    contains `kernel` (a kernel and its outlined tasks): (instructions, {mnemonic: count},
    products, instructions with a memory operand) per iteration, averaged over the paths an
    iteration can take (the lookup GEMV's even and odd words take one each), or None."""
    best = None
    for blocks in function_blocks(asm_text, kernel):
        for paths in loop_paths(blocks).values():
            if not paths:
                continue
            bodies = [[ins for i in path for ins in blocks[i][1]] for path in paths]
            ops = {op for body in bodies for op, _ in body}
            if any(op.startswith(("vpermi2b", "vpermt2b")) for op in ops) and "vpdpbusd" not in ops:
                continue  # byte shuffles of q building the lookup tables: no products
            works = [loop_work(body) for body in bodies]
            if not any(works):
                continue
            work = sum(works) / len(paths)
            if best is None or work > best[2]:
                counts = {}
                for body in bodies:
                    for op, _ in body:
                        counts[op] = counts.get(op, 0) + 1 / len(paths)
                memory = sum(1 for body in bodies for op, args in body
                             if "(" in args and not op.startswith("lea")) / len(paths)
                best = (sum(len(body) for body in bodies) / len(paths), counts, work, memory)
    return best


def table_loops(rows, loops, info):
    lines = ["| strategy | batch | instructions per iteration | weight·token products per iteration "
             "| instructions per 64 products | with a memory operand | instructions "
             "| cycles per iteration at the hot speed |",
             "|---|--:|--:|--:|--:|--:|---|--:|"]
    for (s, m), (count, counts, work) in loops.items():
        r = find(rows, ASM_SHAPE, m)
        cycles = f"{r.hot[s] * 1e-6 * info['ghz'] * 1e9 / (m * r.n * r.k / work):.1f}" if s in r.hot else "—"
        lines.append(f"| `{s}` | {m} | {number(count)} | {number(work)} | {count * 64 / work:.1f} "
                     f"| {number(MEMORY_OPERANDS[s, m])} "
                     f"| {loop_text((count, counts, work))} | {cycles} |")
    return "\n".join(lines)


MEMORY_OPERANDS = {}  # (strategy, batch) -> instructions with a memory operand in its hot loop


def number(x):
    """A count averaged over a loop's paths: whole, or to one decimal."""
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def loop_text(loop):
    count, counts, work = loop
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{number(c)} {op}" for op, c in top if c > 1)
    rest = sum(c for _, c in top if c <= 1)
    return text + (f", {number(rest)} others" if rest else "")


# ----------------------------------------------------------------------------------------------------------
# Results.


def parse(output):
    info, results = {}, {}
    for line in output.splitlines():
        fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
        if line.startswith("bandwidth "):
            info["bandwidth"] = float(fields["best_gbps"])
            info["bandwidth_median"] = float(fields["median_gbps"])
            info["bandwidth_worst"] = float(fields["worst_gbps"])
            info["bandwidth_samples"] = int(fields["samples"])
        elif line.startswith("clock "):
            info["ghz"] = float(fields["ghz"])
        elif line.startswith("result "):
            key = (fields["kernel"], fields["strategy"], fields["mode"], int(fields["n"]), int(fields["k"]),
                   int(fields["m"]))
            results[key] = (float(fields["min_us"]), float(fields["median_us"]))
    return info, results


class Row:
    """One shape and batch: times in µs, per strategy and for the dense baseline."""

    def __init__(self, n, k, m, strategies, results, bandwidth):
        self.n, self.k, self.m, self.bytes = n, k, m, packed_bytes(n, k)
        self.bandwidth = bandwidth
        self.hot, self.cold, self.hot_median, self.cold_median = {}, {}, {}, {}
        for s in strategies:
            if ("bitlinear", s, "hot", n, k, m) in results:
                self.hot[s], self.hot_median[s] = results[("bitlinear", s, "hot", n, k, m)]
                self.cold[s], self.cold_median[s] = results[("bitlinear", s, "cold", n, k, m)]
        self.dense_hot = results[("dense", "-", "hot", n, k, m)][0]
        self.dense_cold = results[("dense", "-", "cold", n, k, m)][0]
        self.stream = results[("stream", "-", "hot", n, k, m)][0] if m == 1 else None
        self.best = min(self.hot, key=self.hot.get)  # by hot time
        self.best_cold = min(self.cold, key=self.cold.get)

    def gbps(self, us):
        return self.bytes / (us * 1e-6) / 1e9

    def label(self):
        return f"{self.n} × {self.k}"


def table_best(rows):
    lines = ["| N × K | batch | packed weights | fastest strategy | hot µs (median) | eff. GB/s | of DRAM BW "
             "| × dense f32 | cold µs (median) | eff. GB/s | of DRAM BW | × dense f32 | dense f32 hot µs "
             "| dense f32 cold µs |",
             "|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        s = r.best
        h, c = r.hot[s], r.cold[s]
        lines.append(
            f"| {r.label()} | {r.m} | {r.bytes / 1e6:.2f} MB | {s} | {h:.1f} ({r.hot_median[s]:.1f}) "
            f"| {r.gbps(h):.1f} | {100 * r.gbps(h) / r.bandwidth:.0f}% | {r.dense_hot / h:.1f}× "
            f"| {c:.1f} ({r.cold_median[s]:.1f}) | {r.gbps(c):.1f} | {100 * r.gbps(c) / r.bandwidth:.0f}% "
            f"| {r.dense_cold / c:.1f}× | {r.dense_hot:.0f} | {r.dense_cold:.0f} |")
    return "\n".join(lines)


def table_strategies(rows, strategies):
    head = "| N × K | batch | " + " | ".join(f"`{s}` hot µs | `{s}` cold µs | `{s}` × dense (hot)"
                                           for s in strategies) + " |"
    lines = [head, "|---|--:|" + "--:|" * (3 * len(strategies))]
    for r in rows:
        cells = []
        for s in strategies:
            if s not in r.hot:
                cells += ["—", "—", "—"]
                continue
            mark = lambda text, best: f"**{text}**" if best else text
            cells += [mark(f"{r.hot[s]:.1f}", s == r.best), mark(f"{r.cold[s]:.1f}", s == r.best_cold),
                      f"{r.dense_hot / r.hot[s]:.1f}×"]
        lines.append(f"| {r.label()} | {r.m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_stream(rows, info):
    lines = ["| N × K | packed weights | read them from cache µs | fastest GEMV hot µs | GEMV / read "
             "| ns per 64 weights | cycles per 64 weights | read them from DRAM µs (best BW) | GEMV cold µs |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        if r.m != 1:
            continue
        h = r.hot[r.best]
        per64 = h * 1e3 / (r.n * r.k / 64)
        lines.append(f"| {r.label()} | {r.bytes / 1e6:.2f} MB | {r.stream:.1f} | {h:.1f} ({r.best}) "
                     f"| {h / r.stream:.1f}× | {per64:.3f} | {per64 * info['ghz']:.2f} "
                     f"| {r.bytes / (info['bandwidth'] * 1e9) * 1e6:.0f} | {r.cold[r.best]:.0f} |")
    return "\n".join(lines)


def plot(rows, strategies, info, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels = [f"{n}×{k}" for n, k in SHAPES]
    x = np.arange(len(SHAPES))
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    fig, axes = plt.subplots(1, 2, figsize=(14, 6))
    bars = 2 * len(strategies)
    width = 0.8 / bars
    for ax, m, title in ((axes[0], 1, "GEMV (batch 1)"), (axes[1], BATCH, f"GEMM (batch {BATCH})")):
        by_shape = {(r.n, r.k): r for r in rows if r.m == m}
        i = 0
        for si, s in enumerate(strategies):
            for mode in ("hot", "cold"):
                values = [by_shape[sh].gbps(getattr(by_shape[sh], mode)[s]) if s in by_shape[sh].hot else 0
                          for sh in SHAPES]
                ax.bar(x + (i - (bars - 1) / 2) * width, values, width, color=colors[si % len(colors)],
                       alpha=1.0 if mode == "hot" else 0.45, label=f"{s}, {mode}")
                i += 1
        ax.axhline(info["bandwidth"], color="black", linestyle="--",
                   label=f"streaming read from DRAM, best ({info['bandwidth']:.1f} GB/s)")
        if m == 1:
            ax.axhline(TARGET_GBPS, color="red", linestyle=":",
                       label=f"issue target at 4096×11008 ({TARGET_GBPS:.0f} GB/s)")
        else:
            ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_xlabel("N outputs × K inputs")
        ax.set_ylabel("packed weight bytes / time per call (GB/s)")
        ax.set_title(f"{title}: hot solid, cold light")
        ax.grid(axis="y", alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("pquant BitLinear, one core: effective packed-weight bandwidth (log scale for the GEMM)")
    fig.tight_layout(rect=(0, 0.1 + 0.03 * (len(strategies) > 3), 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def find(rows, shape, m):
    return next(r for r in rows if (r.n, r.k) == shape and r.m == m)


def analyse(rows, strategies, info, loops):
    """The "what limits it" paragraphs, worded from this run's numbers."""
    ghz, bw = info["ghz"], info["bandwidth"]
    gemv = [r for r in rows if r.m == 1]
    big, big_gemm = find(rows, TARGET_GBPS_SHAPE, 1), find(rows, TARGET_GBPS_SHAPE, BATCH)
    per64 = lambda r, s: r.hot[s] * 1e3 * ghz / (r.n * r.k / 64)
    cycles = [per64(r, r.best) for r in gemv]
    ratio = [r.hot[r.best] / r.stream for r in gemv]
    out = []

    s = big.best
    bound = "compute-bound" if min(ratio) >= 1.5 else "close to the speed of reading its weights"
    text = (f"**GEMV (batch 1) is {bound} when its weights are in the caches.** The fastest strategy "
            f"takes {min(cycles):.2f}–{max(cycles):.2f} cycles per 64 weights at the measured {ghz:.2f} GHz "
            f"clock (from a chain of dependent adds), and {min(ratio):.1f}–{max(ratio):.1f}× the time a "
            f"vectorized sum takes to read the same packed bytes from the caches.")
    explicit = s if (s, 1) in loops else next((t for t in strategies if (t, 1) in loops and t in big.hot
                                               and abs(big.hot[t] / big.hot[s] - 1) < 0.05), None)
    if explicit:
        count, counts, work = loops[explicit, 1]
        iteration = per64(big, s) * work / 64  # cycles
        vector = sum(c for op, c in counts.items() if op.startswith("v") and not op.startswith("vmov"))
        text += (f" The hot loop of `-strategy={explicit}` (`pquant-compile --emit=asm`, {ASM_SHAPE[0]}×"
                 f"{ASM_SHAPE[1]}) has {number(count)} instructions per iteration for {number(work)} weight·token products "
                 f"({loop_text(loops[explicit, 1])}): {count * 64 / work:.1f} instructions per 64 weights. At the "
                 f"{big.n}×{big.k} hot speed an iteration takes {iteration:.1f} cycles, i.e. "
                 f"{count / iteration:.1f} instructions and {vector / iteration:.1f} vector ALU instructions "
                 f"(not counting vector moves) per cycle")
        text += (" — about as many as the four 512-bit vector pipes of a Zen 5 core can start (the clock is "
                 "measured apart from the kernel, so per-cycle figures are good to about 10%)."
                 if cpu_family() == "26" and vector / iteration > 3.3 else ".")
        if explicit == "bitserial":
            text += (" Each 64-bit weight word costs an AND, a POPCNT and an ADD for each of the 8 activation "
                     "bit-planes: it is this arithmetic, not the weight bytes, that sets the hot time, so going "
                     "faster needs fewer operations per weight.")
    out.append(text)

    dram_us = big.bytes / (bw * 1e9) * 1e6
    c = big.cold[big.best_cold]
    balance = dram_us / big.hot[big.best]
    cold_head = ("memory and arithmetic take about as long as each other" if 0.5 <= balance <= 2 else
                 "reading the weights takes longer than the arithmetic" if balance > 2 else
                 "the arithmetic still takes longer than reading the weights")
    out.append(
        f"**Cold (weights from DRAM), {cold_head}.** At {big.n}×{big.k}, "
        f"reading the {big.bytes / 1e6:.1f} MB of packed weights at the best streaming bandwidth ({bw:.1f} GB/s) "
        f"takes {dram_us:.0f} µs, the fastest hot GEMV {big.hot[big.best]:.0f} µs and the fastest cold one "
        f"{c:.0f} µs ({c / big.hot[big.best]:.2f}× hot, {100 * big.gbps(c) / bw:.0f}% of the streaming "
        f"bandwidth): "
        + ("the transfer and the arithmetic overlap only in part. " if c > 1.1 * max(dram_us, big.hot[big.best])
           else "the two overlap well. ")
        + f"The streaming bandwidth samples ranged from {info['bandwidth_worst']:.1f} to {bw:.1f} GB/s "
        f"(median {info['bandwidth_median']:.1f}, {info['bandwidth_samples']} samples of 1 GiB): this machine is "
        f"shared (CPU time with other processes, memory bandwidth with the host's other tenants), so the best "
        f"sample stands for the core's bandwidth, and cold numbers are noisier than hot ones.")

    g = big_gemm.best
    per_token = big_gemm.hot[g] / BATCH
    dense_gflops = 2 * BATCH * big.n * big.k / (big_gemm.dense_hot * 1e-6) / 1e9
    products = BATCH * big.n * big.k / (big_gemm.hot[g] * 1e-6) / 1e9
    cheaper = per_token < big.hot[big.best]
    text = (f"**GEMM (batch {BATCH}) costs {'less' if cheaper else 'more'} per token than the GEMV.** "
            f"At {big.n}×{big.k} the fastest strategy (`{g}`) spends {per_token:.0f} µs per token, "
            f"{per_token / big.hot[big.best]:.2f}× the fastest hot GEMV, i.e. {products:.0f} G weight·token "
            f"products per second")
    if (g, BATCH) in loops:
        count, _, work = loops[g, BATCH]
        text += (f" ({work / count:.0f} per instruction in its hot loop, {number(MEMORY_OPERANDS[g, BATCH])} of "
                 f"whose {number(count)} instructions read memory; one AVX-512 f32 FMA does 16 products)")
    text += (f". The dense f32 GEMM does {dense_gflops:.0f} GFLOP/s (a simple register-tiled C loop; a tuned "
             f"BLAS would be faster, so the GEMM ratios flatter pquant), which puts pquant's GEMM "
             f"{min(r.dense_hot / r.hot[r.best] for r in rows if r.m == BATCH):.1f}–"
             f"{max(r.dense_hot / r.hot[r.best] for r in rows if r.m == BATCH):.1f}× ahead, against "
             f"{min(r.dense_hot / r.hot[r.best] for r in gemv):.0f}–"
             f"{max(r.dense_hot / r.hot[r.best] for r in gemv):.0f}× for the GEMV, where the dense code is "
             f"bound by reading 4 bytes per weight.")
    asm_gemm = find(rows, ASM_SHAPE, BATCH)
    per_cycle = [f"`{t}` {BATCH * asm_gemm.n * asm_gemm.k / (asm_gemm.hot[t] * 1e-6 * ghz * 1e9):.0f}"
                 for t, m in loops if m == BATCH and t in asm_gemm.hot]
    if per_cycle:
        text += (f" At {ASM_SHAPE[0]}×{ASM_SHAPE[1]}, batch {BATCH}, the strategies do " + ", ".join(per_cycle)
                 + " weight·token products per cycle (their hot loops are in the last table).")
    if "bitserial" in big_gemm.hot:
        b = big_gemm.hot["bitserial"] / BATCH / big.hot.get("bitserial", float("nan"))
        text += (f" The bit-serial kernel repeats its 8-plane AND/POPCNT/ADD work for every token, so its "
                 f"batch-{BATCH} call costs {b:.2f}× {BATCH} of its GEMV calls: sharing the weight loads saves "
                 f"little because they were not its bottleneck.")
    out.append(text)

    if "default" in strategies:
        picks = []
        for r in rows:
            if "default" in r.hot:
                d = r.hot["default"] / r.hot[r.best]
                if d > 1.05:
                    picks.append(f"{r.label()} batch {r.m} ({d:.2f}× the fastest, `{r.best}`)")
        out.append("**Default strategy.** Without `-strategy`, the compiler's choice is "
                   + ("within 5% of the fastest strategy for every shape and batch."
                      if not picks else "slower than the fastest strategy for " + ", ".join(picks) + "."))

    out.append(
        "**Per-call overheads are small at these shapes.** Each call `malloc`s its result and its scratch "
        "(activation bit-planes or unpacked weights) and prepares the activations (O(M·K) work against "
        f"O(M·N·K) for the products); the smallest GEMV ({gemv[0].label()}, {gemv[0].hot[gemv[0].best]:.1f} µs) "
        f"runs at {cycles[0]:.2f} cycles per 64 weights against {cycles[-1]:.2f} for {gemv[-1].label()}.")
    return "\n\n".join(out)


def write_markdown(path, args, rows, strategies, failures, info, loops, analysis, have_plot):
    cc_version = subprocess.run([CC[0], "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    sp, g = find(rows, TARGET_SPEEDUP_SHAPE, 1), find(rows, TARGET_GBPS_SHAPE, 1)
    command = "/usr/bin/python3 bench/bitlinear.py" + (" --quick" if args.quick else "")
    if args.strategies != STRATEGIES:
        command += f" --strategies {args.strategies}"

    def verdict(value, target):
        return "**reached**" if value >= target else "**not reached**"

    failed = ""
    if failures:
        failed = "\n* **Did not compile** (left out of the tables): " + "; ".join(
            f"`-strategy={s}` {n}×{k}: `{msg}`" for (s, n, k), msg in failures.items()) + "."
    sp_hot, sp_cold = sp.dense_hot / sp.hot[sp.best], sp.dense_cold / sp.cold[sp.best_cold]
    g_hot, g_cold = g.gbps(g.hot[g.best]), g.gbps(g.cold[g.best_cold])
    md = f"""# Benchmarks

## BitLinear on one CPU core (issue 4)

Generated by `{command}` on {datetime.date.today().isoformat()} from pquant {commit}{" with uncommitted changes" if dirty else ""}: {info['elapsed']:.0f} s of measurement, 1-minute load average {info['load_before']:.2f} before and {info['load_after']:.2f} after{". **--quick: few repetitions, rough numbers**" if args.quick else ""}.

* CPU: {cpu_model()} ({cpu_details()}); **1 thread**{", pinned to CPU 0 with `taskset`" if info['pinned'] else ""}{" at `nice -n -10`" if info['niced'] else ""};
  measured clock {info['ghz']:.2f} GHz.
* pquant: `pquant-compile -target=host [-strategy=S] --emit=object`; strategies: {", ".join(f"`{s}`" for s in strategies)}
  (`default` = no `-strategy` flag, the compiler's own choice). Per-tensor weight scale. The GEMV is a
  function taking `tensor<1xKxi8>` (as `@decode` does), the GEMM one taking `tensor<?xKxi8>` (as
  `@prefill` does) called with {BATCH} tokens. The compiled code `malloc`s its result and scratch on
  every call; that is included (the harness `free`s each result).{failed}
* Dense f32 baseline: plain C in `bench/bitlinear_harness.c`, `{" ".join(CC)}` ({cc_version}).
  GEMV: one dot product per output row (`#pragma omp simd reduction`, so the compiler vectorizes it
  with AVX-512 FMAs). GEMM: K cut into blocks of 1024 so the activations stay in L2, and a
  4 tokens × 4 rows register tile of 16 vectorized dot products. The same ±1 weights, as f32
  (4 bytes per weight, against 1/8 byte packed). Not a tuned BLAS.
* Memory bandwidth: streaming read (vectorized sum) over a 1 GiB buffer, best of {info['bandwidth_samples']} runs
  spread over the benchmark: **{info['bandwidth']:.1f} GB/s** (median {info['bandwidth_median']:.1f}, worst {info['bandwidth_worst']:.1f}).
* Times are the **minimum** over repetitions, in µs (median in parentheses). *Hot*: calls back to
  back, so the weights stay in the caches when they fit (the packed weights are 0.5–5.6 MB; the f32
  ones, 16–180 MB, fit in L3 only at 2048×2048). *Cold*: a 256 MiB read evicts the caches before each
  call, as when a whole model's weights stream from DRAM.
* Effective bandwidth = packed weight bytes (N·⌈K/8⌉) / time per call, at batch {BATCH} too; "of DRAM
  BW" = that / the streaming bandwidth above. "× dense f32" = dense f32 time / pquant time, same batch,
  same cache state.
* Every strategy's and the dense code's results are compared exactly with numpy (`q @ sign(W).T`
  with unit scales, so the outputs are exact integers) before and after timing; a mismatch aborts the
  run.

### Fastest strategy per shape and batch

{table_best(rows)}

### Targets from the issue

| target | measured (fastest strategy) | |
|---|---|---|
| ≥ {TARGET_SPEEDUP:.0f}× the dense f32 GEMV at {TARGET_SPEEDUP_SHAPE[0]}×{TARGET_SPEEDUP_SHAPE[1]} | {sp_hot:.1f}× hot (`{sp.best}`), {sp_cold:.1f}× cold (`{sp.best_cold}`) | {verdict(sp_hot, TARGET_SPEEDUP)} hot, {verdict(sp_cold, TARGET_SPEEDUP)} cold |
| ≥ {TARGET_GBPS:.0f} GB/s effective packed-weight bandwidth at {TARGET_GBPS_SHAPE[0]}×{TARGET_GBPS_SHAPE[1]}, GEMV, one core | {g_hot:.1f} GB/s hot (`{g.best}`), {g_cold:.1f} GB/s cold (`{g.best_cold}`) | {verdict(g_hot, TARGET_GBPS)} hot, {verdict(g_cold, TARGET_GBPS)} cold |

{"![Effective packed-weight bandwidth per shape and strategy, GEMV and GEMM, hot and cold, against the streaming bandwidth](benchmarks-bitlinear.png)" if have_plot else "(matplotlib was not installed, so there is no plot: `apt-get install python3-matplotlib`.)"}

### Every strategy

Fastest per row in bold.

{table_strategies(rows, strategies)}

### What limits it

{analysis}

The GEMV against reading its packed weights, hot from the caches and from DRAM:

{table_stream(rows, info)}

The hot loop of each strategy's GEMV and GEMM kernel (the single-block loop doing the most products:
popcounted bits / 8 activation bit-planes, the byte products of `vpdpbusd`, 4 columns per token lane of
a table entry added, or 2 per byte a `vpermi2b`/`vpermt2b` looks up), from `pquant-compile -target=host
-strategy=S --emit=asm` at {ASM_SHAPE[0]}×{ASM_SHAPE[1]}, and the cycles per iteration the measured
hot times imply (an upper bound: they include everything else the call does):

{table_loops(rows, loops, info) if loops else "(no such loop found)"}

## Other benchmarks

See [bench/README.md](../bench/README.md).
"""
    with open(path, "w") as f:
        f.write(md)


# ----------------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions: a smoke test, rough numbers")
    parser.add_argument("--strategies", default=STRATEGIES,
                        help=f"comma-separated -strategy values; 'default' passes none (default {STRATEGIES})")
    parser.add_argument("--build", default=os.environ.get("PQUANT_BUILD_DIR", os.path.join(ROOT, "build")))
    parser.add_argument("--out-md", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    parser.add_argument("--out-png", default=os.path.join(ROOT, "docs", "benchmarks-bitlinear.png"))
    parser.add_argument("--max-load", type=float, default=0.7,
                        help="wait (up to --max-wait s) for the 1-minute load average to fall below this")
    parser.add_argument("--max-wait", type=float, default=90)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    compiler = os.path.join(args.build, "bin", "pquant-compile")
    if not os.path.exists(compiler):
        sys.exit(f"{compiler} not found: build first (scripts/setup.sh) or pass --build")
    if not shutil.which(CC[0]):
        sys.exit(f"{CC[0]} not found")
    objcopy = shutil.which("llvm-objcopy-22") or shutil.which("llvm-objcopy") or shutil.which("objcopy")
    if not objcopy:
        sys.exit("no objcopy (llvm-objcopy-22 or binutils) found")
    strategies = [s for s in args.strategies.split(",") if s]
    if not strategies or len(strategies) > 8:
        sys.exit("--strategies: 1 to 8 names")

    rng = np.random.default_rng(args.seed)
    work = tempfile.mkdtemp(prefix="pquant-bitlinear-bench.")
    try:
        blob, objects, decls, shape_entries, loops, failures = bytearray(), [], [], [], {}, {}
        for n, k in SHAPES:
            bits = rng.integers(0, 2, size=(n, k), dtype=np.uint8)  # 1 = +1, 0 = -1
            packed = np.packbits(bits, axis=1, bitorder="little")  # the checkpoint packing
            q = rng.integers(-127, 128, size=(BATCH, k), dtype=np.int8)
            expected = (q.astype(np.float64) @ (bits.astype(np.float64) * 2 - 1).T).astype(np.float32)
            blob += pad64(packed.tobytes()) + pad64(q.tobytes()) + pad64(expected.tobytes())
            weights_hex = packed.tobytes().hex().upper()
            kernels = []
            for s in strategies:
                prefix = f"bl_{re.sub(r'[^A-Za-z0-9]', '_', s)}_{n}x{k}"
                mlir, obj = os.path.join(work, prefix + ".mlir"), os.path.join(work, prefix + ".o")
                with open(mlir, "w") as f:
                    f.write(layer_mlir(prefix, n, k, weights_hex))
                flags = [] if s == "default" else [f"-strategy={s}"]
                command = [compiler, mlir, "-target=host"] + flags + ["--emit=object", "-o", obj + ".full"]
                show(command)
                proc = subprocess.run(command, capture_output=True, text=True)
                if proc.returncode != 0:
                    message = next((l for l in proc.stderr.splitlines() if "error" in l), proc.stderr.strip())
                    message = message.replace(mlir, os.path.basename(mlir))
                    print(f"warning: -strategy={s} {n}x{k} does not compile:\n{proc.stderr[-2000:]}", flush=True)
                    if s == "default":
                        sys.exit("the default strategy does not compile; nothing written")
                    failures[(s, n, k)] = message[:200]
                    continue
                entries = [f"_mlir_ciface_{prefix}_gemv", f"_mlir_ciface_{prefix}_gemm"]
                # Strategies share helper symbol names: keep only the entry points global.
                run([objcopy] + [f"--keep-global-symbol={e}" for e in entries] + [obj + ".full", obj])
                objects.append(obj)
                decls += [f"void {e}(MemRef2D *, MemRef2D *, MemRef1D *);" for e in entries]
                kernels.append(f'{{"{s}", {entries[0]}, {entries[1]}}}')
                if (n, k) == ASM_SHAPE and s != "default":
                    asm = os.path.join(work, prefix + ".s")
                    run([compiler, mlir, "-target=host"] + flags + ["--emit=asm", "-o", asm])
                    with open(asm) as f:
                        asm_text = f.read()
                    # The GEMV's kernel takes q as 1xKxi8, the GEMM's as ?xKxi8.
                    for m, kernel in ((1, f"_1x{k}xi8"), (BATCH, f"_Dx{k}xi8")):
                        loop = hot_loop(asm_text, kernel)
                        if loop:
                            loops[s, m], MEMORY_OPERANDS[s, m] = loop[:3], loop[3]
            if not kernels:
                sys.exit(f"no strategy compiles {n}x{k}")
            shape_entries.append(f"  {{{n}, {k}, {len(kernels)}, {{{', '.join(kernels)}}}}},")
        with open(os.path.join(work, "bitlinear_shapes.h"), "w") as f:
            f.write("\n".join(decls) + f"\n#define NUM_SHAPES {len(SHAPES)}\n#define BATCH {BATCH}\n"
                    "static const struct Shape SHAPES[NUM_SHAPES] = {\n" + "\n".join(shape_entries) + "\n};\n")
        inputs = os.path.join(work, "inputs.bin")
        with open(inputs, "wb") as f:
            f.write(blob)
        harness = os.path.join(work, "harness")
        # The kernels' parallel loops call the runtime's thread pool; one
        # thread (PQUANT_THREADS=1 below) measures one core.
        runtime = os.path.join(args.build, "lib", "libpquant_runtime.a")
        run(CC + ["-I", work, HARNESS] + objects + [runtime, "-o", harness, "-lm", "-lpthread"])

        load_before = wait_for_quiet(args.max_load, 0 if args.quick else args.max_wait)
        start = time.time()
        command = [harness, inputs, "1" if args.quick else "0"]
        if shutil.which("taskset"):
            command = ["taskset", "-c", "0"] + command
        if os.geteuid() == 0:  # less preemption by whatever else runs on CPU 0
            command = ["nice", "-n", "-10"] + command
        show(command)
        proc = subprocess.run(command, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PQUANT_THREADS="1"))
        sys.stdout.write(proc.stdout)
        if proc.returncode != 0:
            sys.exit(f"the harness failed (status {proc.returncode}); nothing written")
        info, results = parse(proc.stdout)
        info.update(elapsed=time.time() - start, load_before=load_before, load_after=load_average(),
                    pinned="taskset" in command, niced="nice" in command)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    rows = [Row(n, k, m, strategies, results, info["bandwidth"]) for n, k in SHAPES for m in (1, BATCH)]
    analysis = analyse(rows, strategies, info, loops)
    for text in (table_best(rows), table_strategies(rows, strategies), table_stream(rows, info),
                 table_loops(rows, loops, info) if loops else "", analysis):
        print("\n" + text)
    have_plot = plot(rows, strategies, info, args.out_png)
    write_markdown(args.out_md, args, rows, strategies, failures, info, loops, analysis, have_plot)
    print(f"\nwrote {args.out_md}" + (f" and {args.out_png}" if have_plot else " (no matplotlib: no plot)"))


if __name__ == "__main__":
    main()
