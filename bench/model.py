"""Benchmark of a whole compiled model on this machine (issues 5 and 7).

In one run: the streaming read bandwidth on 1 and on all threads,
pquant-compile's wall time and peak memory for the model, its decode tokens/s
(after an 8-token prompt) and prefill tokens/s (a 512-token prompt) on 1 and
on all threads, each timed after an untimed warm-up run in the same process
as llama-bench does (prefill also as a process's first prompt), their ratio
also from pairs of runs back to back, and the bytes a decode step must read,
hence the bandwidth bound on decode tokens/s for each thread count (each
decode run paired with a bandwidth run just before it); the same decode and
bound for the model compiled with --lm-head=int8. Writes
docs/benchmarks-model.md and, with matplotlib, docs/benchmarks-model.png.

    /usr/bin/python3 bench/model.py [--preset 1.3b] [--f16] [--build build]
"""

import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

from pquant import checkpoint as ckpt  # noqa: E402


DECODE_RUNS = 5
PREFILL_RUNS = 3
# Decode and prefill runs back to back, for their ratio under the same
# conditions (the machine's speed drifts between the rows above).
RATIO_PAIRS = 3
HANDWRITTEN_MARKER = "<!-- the benchmark writes the text above; the text below is by hand and kept -->"


def run(command, **kwargs):
    """Runs `command`, its output captured; exits with the end of its stderr
    if it fails."""
    print("$", " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, text=True, capture_output=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{os.path.basename(command[0])} exited with {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def decode_bytes(config, table_bytes, int8_lm_head=False):
    """Bytes one decode step reads: every 1-bit weight (packed) and scale, the
    top_k experts' int8 weights, norms, router, one embedding row, the
    lm_head (int8 rows and their f32 scales with int8_lm_head). KV-cache
    reads are left out (short context)."""
    d, h, kv = config.hidden_size, config.num_heads, config.num_kv_heads
    dh, f1, r, e = d // h, config.ffn_bin_size, config.ffn_hp_size, config.num_experts
    packed = lambda n, k: n * -(-k // 8) + 4 * n
    per_layer = (packed(h * dh, d) + 2 * packed(kv * dh, d) + packed(d, h * dh)
                 + 2 * packed(f1, d) + packed(d, f1)
                 + config.top_k * (3 * r * d + 4 * (2 * r + d))
                 + (4 * e * d if e > 1 else 0) + 2 * 4 * d)
    lm_head = config.vocab_size * (d + 4) if int8_lm_head else config.vocab_size * d * table_bytes
    return config.num_layers * per_layer + 4 * d + d * table_bytes + lm_head


_SPEED = re.compile(r"prompt: (\d+) tokens, ([\d.]+) tokens/s; generation: (\d+) tokens, ([\d.]+) tokens/s")


def prompt_and_generation_rates(binary, prompt, tokens, threads, warmups=1):
    """(prompt, generation) tokens/s of a compiled model's run on a prompt of
    `prompt` tokens generating `tokens`, timed after `warmups` untimed runs
    of the same in the process (as llama-bench does: a process's first
    prompt also faults in the KV cache's fresh memory, which a serving
    process pays once)."""
    result = run([binary, "--tokens", ",".join(["1"] * prompt), "-n", str(tokens), "--threads", str(threads),
                  "--warmup", str(warmups)])
    match = _SPEED.search(result.stderr)
    return float(match.group(2)), float(match.group(4))


def cpu_name():
    return next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                "unknown CPU")


def pquant_commit():
    """The short hash of the checkout's HEAD, or "unknown"."""
    return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip() or "unknown"


def write_keeping_handwritten(path, lines):
    """Writes `lines` to the markdown file `path`, then the marker and what
    people wrote below it in the file before (variance, profiles), which
    outlives a rerun."""
    handwritten = ""
    if os.path.exists(path):
        previous = open(path).read()
        if HANDWRITTEN_MARKER in previous:
            handwritten = previous.split(HANDWRITTEN_MARKER, 1)[1]
    with open(path, "w") as f:
        f.write("\n".join(lines + [HANDWRITTEN_MARKER]) + handwritten)


def plot(path, thread_counts, decode, bound, prefill):
    """Bars of decode and prefill tokens/s beside the decode bound, per
    thread count; False (and a note) without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (apt-get install python3-matplotlib): no plot", file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.25
    for i, (label, values) in enumerate([("decode", decode), ("decode bound", bound), ("prefill", prefill)]):
        ax.bar([x + (i - 1) * width for x in range(len(thread_counts))], [values[t] for t in thread_counts],
               width, label=label)
    ax.set_xticks(range(len(thread_counts)), [f"{t} thread{'s' if t > 1 else ''}" for t in thread_counts])
    ax.set_ylabel("tokens/s")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="1.3b")
    parser.add_argument("--f16", action="store_true", help="f16 embedding and lm_head")
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--out-md", default=os.path.join(ROOT, "docs", "benchmarks-model.md"))
    parser.add_argument("--out-png", default=os.path.join(ROOT, "docs", "benchmarks-model.png"))
    args = parser.parse_args()
    thread_counts = sorted({1, os.cpu_count() or 1})
    bin_dir = os.path.join(args.build, "bin")

    with tempfile.TemporaryDirectory(prefix="pquant-model-bench.") as work:
        path = lambda name: os.path.join(work, name)
        run(["clang-22", "-O3", "-march=native", "-pthread",
             os.path.join(ROOT, "bench", "stream_bandwidth.c"), "-o", path("bw")])
        streaming = lambda threads: float(run([path("bw"), "10", str(threads)]).stdout)

        generate = [sys.executable, "-m", "pquant.generate", "--preset", args.preset, "--seed", "0",
                    "-o", path("ckpt")] + (["--f16"] if args.f16 else [])
        run(generate, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
        config = ckpt.Config.load(os.path.join(path("ckpt"), "config.json"))
        run([os.path.join(bin_dir, "pquant-import"), path("ckpt"), "-o", path("model.mlir")])
        timed = run(["/usr/bin/time", "-v", os.path.join(bin_dir, "pquant-compile"), path("model.mlir"),
                     "-target=host", "-o", path("model")])
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", timed.stderr).group(1)
        compile_s = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
        peak_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timed.stderr).group(1)) / 1024

        # This machine's speed varies from run to run (shared hardware): the
        # best of several runs is reported, every run listed, and each decode
        # run is paired with a bandwidth measurement just before it, so its
        # fraction of the bound compares the two under the same conditions.
        prompt_rate, generation_rate = 0, 1

        def measure(prompt, tokens, threads, rate, model="model", warmups=1):
            return prompt_and_generation_rates(path(model), prompt, tokens, threads, warmups)[rate]

        def paired_decodes(model):
            """Per thread count: the bandwidths and, each just after its
            bandwidth run, the decode rates."""
            bandwidths, decodes = {}, {}
            for t in thread_counts:
                pairs = [(streaming(t), measure(8, 64, t, generation_rate, model)) for _ in range(DECODE_RUNS)]
                bandwidths[t], decodes[t] = [bw for bw, _ in pairs], [tokens for _, tokens in pairs]
            return bandwidths, decodes

        bandwidths, decodes = paired_decodes("model")
        prefills = {t: [measure(512, 1, t, prompt_rate) for _ in range(PREFILL_RUNS)] for t in thread_counts}
        first_prefills = {t: [measure(512, 1, t, prompt_rate, warmups=0) for _ in range(PREFILL_RUNS)]
                          for t in thread_counts}
        ratio_pairs = {t: [(measure(8, 64, t, generation_rate), measure(512, 1, t, prompt_rate)) for _ in range(RATIO_PAIRS)]
                       for t in thread_counts}
        run([os.path.join(bin_dir, "pquant-compile"), path("model.mlir"), "-target=host", "--lm-head=int8",
             "-o", path("model-int8")])
        bandwidths8, decodes8 = paired_decodes("model-int8")

    table_bytes = 2 if args.f16 else 4
    step_bytes = decode_bytes(config, table_bytes)
    median = lambda values: sorted(values)[len(values) // 2]
    bandwidth = {t: median(bandwidths[t]) for t in thread_counts}
    bound = {t: bandwidth[t] * 1e9 / step_bytes for t in thread_counts}
    step_bytes8 = decode_bytes(config, table_bytes, int8_lm_head=True)
    # Fractions of the bound (%), one per decode run and the bandwidth
    # measured just before it.
    fractions_of = lambda bws, rates, step: {
        t: [100 * tokens * step / (bw * 1e9) for bw, tokens in zip(bws[t], rates[t])] for t in thread_counts}
    fractions = fractions_of(bandwidths, decodes, step_bytes)
    fractions8 = fractions_of(bandwidths8, decodes8, step_bytes8)
    decode8 = {t: max(runs) for t, runs in decodes8.items()}
    decode = {t: max(runs) for t, runs in decodes.items()}
    prefill = {t: max(runs) for t, runs in prefills.items()}
    first_prefill = {t: max(runs) for t, runs in first_prefills.items()}
    lm_head = config.vocab_size * config.hidden_size * table_bytes
    cpu, commit = cpu_name(), pquant_commit()
    runs = lambda values: ", ".join(f"{v:.1f}" for v in values)
    percents = lambda values: ", ".join(f"{v:.0f}%" for v in values)
    threads = lambda t: f"{t} thread{'s' if t > 1 else ''}"
    rows = [("bytes read per decode step", f"{step_bytes / 1e6:.0f} MB (lm_head {lm_head / 1e6:.0f} MB)")]
    for t in thread_counts:
        rows += [
            (f"streaming read bandwidth, {threads(t)} (median of {DECODE_RUNS}, each the best of 10 × 1 GiB)",
             f"{bandwidth[t]:.1f} GB/s; runs: " + runs(bandwidths[t])),
            (f"bandwidth bound on decode, {threads(t)}", f"{bound[t]:.1f} tokens/s"),
            (f"**decode**, {threads(t)}, after an 8-token prompt (best of {DECODE_RUNS})",
             f"**{decode[t]:.1f} tokens/s**; runs: " + runs(decodes[t])),
            (f"**decode as a fraction of the bound**, {threads(t)} (median of the runs, each against the "
             "bandwidth measured just before it)",
             f"**{median(fractions[t]):.0f}%**; runs: " + percents(fractions[t])),
            (f"**prefill** of 512 tokens, {threads(t)} (best of {PREFILL_RUNS})",
             f"**{prefill[t]:.1f} tokens/s** ({prefill[t] / decode[t]:.1f}× decode); runs: " + runs(prefills[t])),
            (f"**prefill ÷ decode, in pairs**, {threads(t)} (median of {RATIO_PAIRS} pairs, each a decode "
             "run and a prefill run back to back)",
             f"**{median([p / d for d, p in ratio_pairs[t]]):.1f}×**; pairs (prefill / decode tokens/s): "
             + ", ".join(f"{p:.1f} / {d:.1f} = {p / d:.1f}×" for d, p in ratio_pairs[t])),
            (f"prefill of 512 tokens as the process's first prompt (no warm-up), {threads(t)} "
             f"(best of {PREFILL_RUNS})",
             f"{first_prefill[t]:.1f} tokens/s ({first_prefill[t] / decode[t]:.1f}× decode); runs: "
             + runs(first_prefills[t])),
            (f"decode with `--lm-head=int8` ({step_bytes8 / 1e6:.0f} MB per step), {threads(t)} "
             f"(best of {DECODE_RUNS})",
             f"{decode8[t]:.1f} tokens/s, a median {median(fractions8[t]):.0f}% of its bound; runs: "
             + runs(decodes8[t]) + "; fractions: " + percents(fractions8[t])),
        ]
    rows += [
        ("pquant-compile wall time (code + .pqw)", f"{compile_s:.1f} s"),
        ("pquant-compile peak memory", f"{peak_mb:.0f} MB"),
    ]
    text = [
        "# Benchmark: a whole model on CPU", "",
        f"Generated by `/usr/bin/python3 bench/model.py --preset {args.preset}{' --f16' if args.f16 else ''}` "
        f"on {datetime.date.today()} from pquant {commit}; {cpu}, {os.cpu_count()} cores.", "",
        f"Model: the `{args.preset}` preset of `pquant.generate` (seeded random weights with trained-model "
        f"statistics): hidden {config.hidden_size}, {config.num_layers} layers, {config.num_heads} heads, "
        f"1-bit FFN {config.ffn_bin_size}, int8 FFN {config.ffn_hp_size} × {config.num_experts} experts "
        f"(top-{config.top_k}), vocab {config.vocab_size}, {'f16' if args.f16 else 'f32'} embedding and "
        f"lm_head. Compiled with `pquant-compile -target=host` (default strategy); `--threads N` at run time.", "",
        "| measure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows] + [
        "",
        "Each bound divides the bandwidth measured with that many threads by the bytes a decode step must "
        "read (every packed 1-bit weight, the top-k experts' int8 weights, the lm_head, norms and scales; "
        "KV-cache reads are small at this context length). This machine's bandwidth moves from minute to "
        "minute, so each decode run is timed right after a bandwidth run and its fraction of the bound "
        "(bytes per step × tokens/s ÷ that bandwidth) is taken within the pair. Decode and prefill are "
        "timed after one untimed run of the same prompt and length in the same process (`--warmup 1`, as "
        "llama-bench times after a warm-up run); a process's first prompt also pays for faulting in the KV "
        "cache's fresh memory, shown in its own row. The best prefill and the best decode above come from "
        "different minutes; the ratio in pairs takes each prefill run right after a decode run.", ""]
    if plot(args.out_png, thread_counts, decode, bound, prefill):
        text += [f"![decode and prefill against the bound]({os.path.basename(args.out_png)})", ""]
    write_keeping_handwritten(args.out_md, text)
    print("\n".join(text))


if __name__ == "__main__":
    main()
