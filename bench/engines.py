"""pquant beside llama.cpp on the same model shape, on this machine (issue 7).

llama.cpp's CPU kernels for ternary (BitNet b1.58) weights, TQ2_0 (2 bits a
weight) and TQ1_0 (1.6875), are the 1-bit engines' kernels this machine can
get: bitnet.cpp and T-MAC are neither Debian nor npm packages. npm's
node-llama-cpp carries llama.cpp's sources as a git bundle; this script
unpacks them and builds llama-bench once (`-DGGML_NATIVE=ON`) into
$XDG_CACHE_HOME/pquant-bench (~/.cache), where later runs find it.

Both engines get one shape, the 1.3b preset's (hidden 2048, 24 layers, 32
heads, vocab 32000, f16 embedding and lm_head) with a 1-bit FFN of 5376
(the preset's 5460 rounded down to whole 256-weight blocks, which the TQ
types need along a row):
* pquant: `pquant.generate --preset 1.3b --f16 --set ffn_bin_size=5376`,
  compiled for the host, and again with `--lm-head=int8`. Its layers also
  hold the int8 branch (8 experts of 256, top-1) and router that BitNet has
  not: work llama.cpp is spared.
* llama.cpp: a BitNet model (`bitnet` architecture: the same SiLU FFN with
  sub-norms; its output is the embedding) written with llama.cpp's gguf-py,
  random ternary weights in TQ2_0 or TQ1_0, embedding F16 or Q8_0.

Rounds alternate the engines (the machine's speed drifts): in each, per
thread count, llama-bench's pp512 and tg64 (`-r 1`, after its own warm-up)
for every llama.cpp model, then pquant's prefill of 512 tokens and decode of
64 after a 1-token prompt (`--warmup 1`). The tables give each engine's best
run and the median over rounds of pquant's rate ÷ llama.cpp's in the same
round. Writes docs/benchmarks-engines.md.

    /usr/bin/python3 bench/engines.py [--rounds 3] [--build build]
"""

import argparse
import datetime
import glob
import json
import os
import shutil
import sys
import tempfile

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, BENCH)

from model import (cpu_name, decode_bytes, pquant_commit, prompt_and_generation_rates, run,  # noqa: E402
                   write_keeping_handwritten)
from pquant import checkpoint as ckpt  # noqa: E402

NODE_LLAMA_CPP = "node-llama-cpp@3.22.1"
FFN_SIZE = 5376
PROMPT = 512
GENERATED = 64


def llama_cpp_build(cache):
    """A llama.cpp build dir with bin/llama-bench, built from the sources
    bundled in NODE_LLAMA_CPP on first use; and the sources' gguf-py dir."""
    root = os.path.join(cache, NODE_LLAMA_CPP.replace("@", "-"))
    source, build = os.path.join(root, "llama.cpp"), os.path.join(root, "build")
    built = os.path.exists(os.path.join(build, "bin", "llama-bench"))
    missing = [tool for tool in ("npm", "git", "cmake", "ninja", "c++") if not built and not shutil.which(tool)]
    if missing:
        sys.exit(f"building llama.cpp needs {', '.join(missing)} (Debian: npm git cmake ninja-build g++)")
    if not os.path.isdir(source):
        os.makedirs(root, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root) as work:
            run(["npm", "pack", "--silent", NODE_LLAMA_CPP], cwd=work)
            run(["tar", "xzf", glob.glob(os.path.join(work, "*.tgz"))[0], "package/llama/gitRelease.bundle"],
                cwd=work)
            run(["git", "clone", "--quiet", os.path.join(work, "package/llama/gitRelease.bundle"),
                 source + ".partial"])
            os.rename(source + ".partial", source)
    if not built:
        run(["cmake", "-S", source, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
             "-DGGML_NATIVE=ON", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
             "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_APP=OFF"])
        print("building llama-bench once (minutes)", file=sys.stderr, flush=True)
        run(["cmake", "--build", build, "--target", "llama-bench"])
    return build, os.path.join(source, "gguf-py")


def write_bitnet_gguf(gguf, path, config, weight_type, output_type):
    """A BitNet GGUF of `config`'s shape, written with llama.cpp's `gguf`
    module: random ternary matrices (each row's scale 1/sqrt(K)) in
    `weight_type`, the embedding (also the output) in `output_type`, unit
    norms, a placeholder SentencePiece vocabulary; and the bytes a decode
    step reads."""
    quants = gguf.quants
    quant = gguf.GGMLQuantizationType
    rng = np.random.default_rng(0)
    d, layers, ffn, vocab = config.hidden_size, config.num_layers, FFN_SIZE, config.vocab_size
    writer = gguf.GGUFWriter(path, "bitnet")
    writer.add_name("pquant-bench bitnet")
    writer.add_vocab_size(vocab)
    writer.add_context_length(config.max_seq_len)
    writer.add_embedding_length(d)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(config.num_heads)
    writer.add_head_count_kv(config.num_kv_heads)
    writer.add_rope_dimension_count(d // config.num_heads)
    writer.add_rope_freq_base(config.rope_theta)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    # The SentencePiece loader looks up the byte tokens (<0x0A> for "\n").
    special = ["<unk>", "<s>", "</s>"]
    tokens = special + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"t{i}" for i in range(vocab - len(tokens))]
    types = ([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
             + [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * (vocab - 259))
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * vocab)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)

    def matrix(name, rows, cols, qtype):
        values = (rng.integers(-1, 2, size=(rows, cols), dtype=np.int8).astype(np.float32)
                  * np.float32(1 / np.sqrt(cols)))
        writer.add_tensor(name, quants.quantize(values, qtype) if qtype != quant.F16 else values.astype(np.float16),
                          raw_dtype=qtype)

    names = gguf.TENSOR_NAMES
    tensor = gguf.MODEL_TENSOR
    # llama.cpp's BitNet ties the output to the embedding.
    matrix(names[tensor.TOKEN_EMBD] + ".weight", vocab, d, output_type)
    for layer in range(layers):
        block = lambda t: names[t].format(bid=layer) + ".weight"
        for t, rows, cols in [(tensor.ATTN_Q, d, d), (tensor.ATTN_K, d, d), (tensor.ATTN_V, d, d),
                              (tensor.ATTN_OUT, d, d), (tensor.FFN_GATE, ffn, d), (tensor.FFN_UP, ffn, d),
                              (tensor.FFN_DOWN, d, ffn)]:
            matrix(block(t), rows, cols, weight_type)
        for t, size in [(tensor.ATTN_NORM, d), (tensor.ATTN_SUB_NORM, d), (tensor.FFN_NORM, d),
                        (tensor.FFN_SUB_NORM, ffn)]:
            writer.add_tensor(block(t), np.ones(size, np.float32))
    writer.add_tensor(names[tensor.OUTPUT_NORM] + ".weight", np.ones(d, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    # A decode step reads every tensor (the embedding whole, as the output) and one embedding row.
    tensors = gguf.GGUFReader(path).tensors
    return sum(int(t.n_bytes) for t in tensors) + next(
        int(t.n_bytes) // vocab for t in tensors if t.name == names[tensor.TOKEN_EMBD] + ".weight")


def llama_bench(build, model, threads):
    """(pp512, tg64) tokens/s of one llama-bench run and its build commit."""
    result = run([os.path.join(build, "bin", "llama-bench"), "-m", model, "-p", str(PROMPT), "-n", str(GENERATED),
                  "-t", str(threads), "-r", "1", "-o", "json"])
    tests = json.loads(result.stdout)
    rate = lambda key: next(t["avg_ts"] for t in tests if t[key] > 0)
    return rate("n_prompt"), rate("n_gen"), tests[0]["build_commit"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--build", default=os.environ.get("PQUANT_BUILD_DIR", os.path.join(ROOT, "build")))
    parser.add_argument("--out-md", default=os.path.join(ROOT, "docs", "benchmarks-engines.md"))
    args = parser.parse_args()
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "pquant-bench")
    build, gguf_py = llama_cpp_build(cache)
    sys.path.insert(0, gguf_py)
    import gguf
    thread_counts = sorted({1, os.cpu_count() or 1})
    bin_dir = os.path.join(args.build, "bin")

    with tempfile.TemporaryDirectory(prefix="pquant-engines-bench.") as work:
        path = lambda name: os.path.join(work, name)
        run([sys.executable, "-m", "pquant.generate", "--preset", "1.3b", "--seed", "0", "--f16",
             "--set", f"ffn_bin_size={FFN_SIZE}", "-o", path("ckpt")],
            env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))
        config = ckpt.Config.load(os.path.join(path("ckpt"), "config.json"))
        run([os.path.join(bin_dir, "pquant-import"), path("ckpt"), "-o", path("model.mlir")])
        pquant_models = {"pquant": ([], decode_bytes(config, 2)),
                         "pquant, `--lm-head=int8`": (["--lm-head=int8"], decode_bytes(config, 2, True))}
        for i, (name, (flags, _)) in enumerate(pquant_models.items()):
            run([os.path.join(bin_dir, "pquant-compile"), path("model.mlir"), "-target=host", *flags,
                 "-o", path(f"pquant{i}")])
        quant = gguf.GGMLQuantizationType
        llama_models = {}
        for weights, output in [("TQ2_0", "F16"), ("TQ1_0", "F16"), ("TQ2_0", "Q8_0")]:
            file = path(f"bitnet-{weights}-{output}.gguf")
            step = write_bitnet_gguf(gguf, file, config, quant[weights], quant[output])
            llama_models[f"llama.cpp {weights}, output {output}"] = (file, step)

        # rates[engine][threads] = [(prefill, decode) per round]
        rates = {name: {t: [] for t in thread_counts} for name in [*llama_models, *pquant_models]}
        commit = None
        for _ in range(args.rounds):
            for t in thread_counts:
                for name, (file, _) in llama_models.items():
                    prefill, decode, commit = llama_bench(build, file, t)
                    rates[name][t].append((prefill, decode))
                for i, name in enumerate(pquant_models):
                    binary = path(f"pquant{i}")
                    rates[name][t].append((prompt_and_generation_rates(binary, PROMPT, 1, t)[0],
                                           prompt_and_generation_rates(binary, 1, GENERATED, t)[1]))

    steps = {**{n: s for n, (_, s) in llama_models.items()}, **{n: s for n, (_, s) in pquant_models.items()}}
    median = lambda values: sorted(values)[len(values) // 2]
    threads = lambda t: f"{t} thread{'s' if t > 1 else ''}"
    runs = lambda values: ", ".join(f"{v:.1f}" for v in values)
    text = [
        "# Benchmark: pquant beside llama.cpp", "",
        f"Generated by `/usr/bin/python3 bench/engines.py --rounds {args.rounds}` on {datetime.date.today()} "
        f"from pquant {pquant_commit()} and llama.cpp {commit} (the sources bundled in npm's "
        f"`{NODE_LLAMA_CPP}`, built with `-DGGML_NATIVE=ON`); {cpu_name()}, {os.cpu_count()} cores.", "",
        f"One shape for both: hidden {config.hidden_size}, {config.num_layers} layers, {config.num_heads} "
        f"heads, 1-bit FFN {FFN_SIZE}, vocab {config.vocab_size}, f16 embedding and lm_head unless the row says "
        "otherwise. pquant's layers also hold the int8 branch (8 experts of 256, top-1) and the router, which "
        "the BitNet model has not. Decode: 64 tokens after a 1-token prompt (llama-bench tg64: 64 tokens from "
        "an empty cache); prefill: a 512-token prompt (pp512). Each rate is the best of "
        f"{args.rounds} rounds; the rounds alternate the engines.", "",
        "| engine | bytes read per decode step | " + " | ".join(
            f"decode, {threads(t)} | prefill, {threads(t)}" for t in thread_counts) + " |",
        "|---|---|" + "---|---|" * len(thread_counts)]
    for name in rates:
        cells = []
        for t in thread_counts:
            prefills, decodes = zip(*rates[name][t])
            cells += [f"{max(decodes):.1f} ({runs(decodes)})", f"{max(prefills):.1f} ({runs(prefills)})"]
        text.append(f"| {name} | {steps[name] / 1e6:.0f} MB | " + " | ".join(cells) + " |")
    text += ["", "pquant's rate ÷ llama.cpp's, the median over rounds of the two runs of one round "
             "(pquant with the f16 lm_head against llama.cpp with the F16 output, "
             "`--lm-head=int8` against the Q8_0 output):", "",
             "| llama.cpp model | " + " | ".join(f"decode, {threads(t)} | prefill, {threads(t)}"
                                                for t in thread_counts) + " |",
             "|---|" + "---|---|" * len(thread_counts)]
    for name in llama_models:
        ours = "pquant, `--lm-head=int8`" if name.endswith("Q8_0") else "pquant"
        cells = []
        for t in thread_counts:
            pairs = list(zip(rates[ours][t], rates[name][t]))
            cells += [f"{median([p[1] / l[1] for p, l in pairs]):.2f}×",
                      f"{median([p[0] / l[0] for p, l in pairs]):.2f}×"]
        text.append(f"| {name} | " + " | ".join(cells) + " |")
    text.append("")
    write_keeping_handwritten(args.out_md, text)
    print("\n".join(text))


if __name__ == "__main__":
    main()
