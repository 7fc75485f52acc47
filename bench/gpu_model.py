"""Decode speed of the 1.3B-shape model on the GPU (issue 6).

    /usr/bin/python3 bench/gpu_model.py build --out DIR [--tools build/bin]   # here
    python3 bench/gpu_model.py device --out DIR                           # on the GPU machine

build: generates the `1.3b` preset's checkpoint (f32 tables, and with
--f16 f16 embedding and lm_head), imports it and compiles it with
pquant-compile -target=sm_90 into DIR/<variant>/model, keeping of its .pqw
only the FlatBuffer header (a .pqw of this model is 0.3-0.5 GB, too large to
carry) and the header's tensor table as JSON (flatc).

device (--variants f16 --modes graph,profile to run less): regenerates the checkpoint with the same seed
(or takes it from --checkpoints DIR, where an earlier device run left it: comparing two builds in one
device call then generates it once), writes the .pqw's data
section from it exactly as pquant-compile does (the 1-bit weights repacked
into the GPU layout the header records; everything else as stored), its
FNV-1a checksum into the header, then runs the executable: an 8-token prompt
and 128 greedy tokens, the decode step a CUDA graph of its kernels (each a
programmatic dependent of the one before, and not), launched kernel by
kernel, and one persistent kernel; then a 512-token prompt (prefill), timed
after one untimed run. It prints
tokens/s against the bound of the bytes a decode step must read over the
device-to-device copy bandwidth, the persistent kernel's registers and spills
(ptxas -v, where ptxas is installed), and the prefill's time per kernel.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "test", "Integration", "GPU"))

VARIANTS = {"f32": [], "f16": ["--f16"]}
PROMPT = "1,2,3,4,5,6,7,8"
TOKENS = 128
# The prefill's prompt: 512 tokens, timed after one untimed run (--warmup 1).
PREFILL_PROMPT = ",".join(str(i * 7 % 1000 + 1) for i in range(512))


def run(command, **kwargs):
    print("$", " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, **kwargs)


def generate(flags, directory):
    run([sys.executable, "-m", "pquant.generate", "--preset", "1.3b", "--seed", "0", "-o", directory] + flags,
        stdout=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python")))


def build(args):
    tools = args.tools
    run(["clang-22", "-O2", os.path.join(ROOT, "bench", "gpu_fnv.c"), "-o", os.path.join(args.out, "fnv")])
    for variant, flags in VARIANTS.items():
        out = os.path.join(args.out, variant)
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="pquant-gpu-model.") as work:
            generate(flags, os.path.join(work, "ckpt"))
            run([os.path.join(tools, "pquant-import"), os.path.join(work, "ckpt"), "-o",
                 os.path.join(work, "model.mlir")])
            run([os.path.join(tools, "pquant-compile"), os.path.join(work, "model.mlir"), "-target=sm_90",
                 "-o", os.path.join(work, "model")])
            run(["flatc", "--json", "--raw-binary", "--strict-json", "-o", work,
                 os.path.join(ROOT, "include", "pquant", "Artifact", "pqw.fbs"), "--",
                 os.path.join(work, "model.pqw")])
            table = json.load(open(os.path.join(work, "model.json")))
            table["gpu"].pop("ptx", None)  # it is in the header
            json.dump(table, open(os.path.join(out, "table.json"), "w"))
            with open(os.path.join(work, "model.pqw"), "rb") as f:
                header = f.read(table["data_offset"])
            open(os.path.join(out, "header.bin"), "wb").write(header)
            shutil.copy(os.path.join(work, "model"), os.path.join(out, "model"))


def decode_bytes(table, config):
    """Bytes a decode step reads: every tensor except the embedding table, of
    which one row, and of the expert tensors the top_k experts' share."""
    total = 0
    for tensor in table["tensors"]:
        size, name = tensor["size"], tensor["name"]
        if name == "embed.weight" and not config["tie_embeddings"]:
            size = size // config["vocab_size"]
        elif any(part in name for part in ("gate8", "up8", "down8")):
            size = size * config["top_k"] // config["num_experts"]
        total += size
    return total


def device(args):
    import gpu_harness as gh
    from pquant import checkpoint as ckpt
    try:
        import torch
        a = torch.empty(1 << 28, dtype=torch.float32, device="cuda")
        b = torch.empty_like(a)
        for _ in range(3):
            b.copy_(a)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(20):
            b.copy_(a)
        end.record()
        end.synchronize()
        copy = 2 * a.numel() * 4 * 20 / (start.elapsed_time(end) * 1e-3)
        del a, b
        torch.cuda.empty_cache()
    except Exception as error:  # no torch: no bound
        print(f"no copy bandwidth ({error})")
        copy = None
    if copy:
        print(f"device-to-device copy: {copy / 1e9:.0f} GB/s")
    for variant, flags in VARIANTS.items():
        if args.variants and variant not in args.variants.split(","):
            continue
        out = os.path.join(args.out, variant)
        table = json.load(open(os.path.join(out, "table.json")))
        header = bytearray(open(os.path.join(out, "header.bin"), "rb").read())
        with tempfile.TemporaryDirectory(prefix="pquant-gpu-model.") as work:
            checkpoint = os.path.join(args.checkpoints or work, f"ckpt-{variant}")
            if os.path.exists(os.path.join(checkpoint, "config.json")):
                print(f"checkpoint: {checkpoint} (generated before)", file=sys.stderr)
            else:  # generated aside, then renamed: a cut-off run leaves no half checkpoint
                generate(flags, checkpoint + ".partial")
                os.replace(checkpoint + ".partial", checkpoint)
            _, weights = ckpt.load_checkpoint(checkpoint)
            pqw = os.path.join(work, "model.pqw")
            dtypes = {"F32": np.float32, "F16": np.float16, "I8": np.int8, "I32": np.uint32}
            with open(pqw, "wb") as f:
                f.write(header)
                base = table["data_offset"]
                for tensor in sorted(table["tensors"], key=lambda t: t["offset"]):
                    value = weights[tensor["name"]]
                    if "packed" in tensor:
                        layout = tensor["packed"]
                        assert (layout["word"], layout["tile_rows"], layout["tile_words"]) == (32, 8, 4)
                        data = gh.pack_gpu(value).tobytes()
                    else:
                        data = np.ascontiguousarray(value.astype(dtypes[tensor["dtype"]])).tobytes()
                    assert len(data) == tensor["size"], tensor["name"]
                    f.seek(base + tensor["offset"])
                    f.write(data)
                f.truncate(base + table["data_size"])
            checksum = run([os.path.join(args.out, "fnv"), pqw, str(table["data_offset"]),
                            str(table["data_size"])], capture_output=True, text=True).stdout.strip()
            old = int(table["data_checksum"]).to_bytes(8, "little")
            assert header.count(old) == 1, "cannot find the checksum in the header"
            header[header.index(old):header.index(old) + 8] = int(checksum, 16).to_bytes(8, "little")
            with open(pqw, "r+b") as f:
                f.write(header)
            config = table["config"]
            read = decode_bytes(table, config)
            print(f"== {variant}: {config['num_layers']} layers, hidden {config['hidden_size']}, "
                  f"vocab {config['vocab_size']}; {read / 1e6:.0f} MB read per decode step"
                  + (f", bound {copy / read:.0f} tokens/s at the copy bandwidth" if copy else ""))
            # The decode step as a CUDA graph of its kernels (the default),
            # launched kernel by kernel, and as one persistent kernel.
            modes = (("graph", "CUDA graph", {}),
                     ("noprog", "CUDA graph, no programmatic launches", {"PQUANT_CUDA_PROGRAMMATIC": "0"}),
                     ("launches", "kernel launches", {"PQUANT_CUDA_GRAPHS": "0"}),
                     ("persistent", "persistent kernel", {"PQUANT_CUDA_PERSISTENT": "1"}))
            for key, mode, env in modes:
                if args.modes and key not in args.modes.split(","):
                    continue
                result = run([os.path.join(out, "model"), "--weights", pqw, "--tokens", PROMPT, "-n",
                              str(TOKENS)], capture_output=True, text=True, env=dict(os.environ, **env))
                speed = re.search(r"generation: \d+ tokens, ([0-9.]+) tokens/s", result.stderr)
                rate = float(speed.group(1)) if speed else float("nan")
                line = f"pquant {variant} decode ({mode}): {rate:.0f} tokens/s"
                if copy:
                    line += f" ({100 * rate * read / copy:.0f}% of the bound)"
                print(line)
                print("    " + result.stderr.strip().replace("\n", "\n    "))
            if not args.modes or "prefill" in args.modes.split(","):
                result = run([os.path.join(out, "model"), "--weights", pqw, "--tokens", PREFILL_PROMPT,
                              "-n", "1", "--warmup", "1"], capture_output=True, text=True)
                speed = re.search(r"prompt: (\d+) tokens, ([0-9.]+) tokens/s", result.stderr)
                rate = float(speed.group(2)) if speed else float("nan")
                print(f"pquant {variant} prefill (512 tokens): {rate:.0f} tokens/s")
                print("    " + result.stderr.strip().replace("\n", "\n    "))
            ptxas = shutil.which("ptxas")
            if ptxas and (not args.modes or "persistent" in args.modes.split(",")):
                # Registers, spills and shared memory of the persistent kernel.
                start = header.find(b"//\n// Generated by LLVM NVPTX")
                ptx = os.path.join(work, "model.ptx")
                open(ptx, "wb").write(header[start:header.index(b"\0", start)])
                info = subprocess.run([ptxas, "-arch=sm_90", "-v", ptx, "-o", os.devnull],
                                      capture_output=True, text=True).stderr
                lines = info.splitlines()
                for i, text in enumerate(lines):
                    if "persistent_decode" in text and "Compiling entry" in text:
                        print("    ptxas: " + " / ".join(l.strip() for l in lines[i:i + 4]))
            if args.ncu:
                # Each kernel's own duration (no launch gaps, no overlap), or
                # what --ncu-args asks for: 3 decode steps under Nsight
                # Compute, as CSV.
                ncu = shutil.which("ncu") or "/usr/local/cuda/bin/ncu"
                with open(f"{args.ncu}.{variant}.csv", "w") as f:
                    what = args.ncu_args.split() if args.ncu_args else ["--metrics", "gpu__time_duration.sum"]
                    subprocess.run([ncu, "--clock-control", "none"] + what + [
                                    "--csv", os.path.join(out, "model"), "--weights", pqw, "--tokens", PROMPT,
                                    "-n", "3"], stdout=f, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, PQUANT_CUDA_GRAPHS="0"))
            # Where the time goes: every launch timed with events (no graph).
            if args.modes and "profile" not in args.modes.split(","):
                continue
            result = run([os.path.join(out, "model"), "--weights", pqw, "--tokens", PROMPT, "-n", "32"],
                         capture_output=True, text=True, env=dict(os.environ, PQUANT_CUDA_PROFILE="1"))
            print("    " + result.stderr.strip().replace("\n", "\n    "))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=["build", "device"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--tools", default=os.path.join(ROOT, "build", "bin"),
                        help="directory of pquant-import and pquant-compile")
    parser.add_argument("--variants", help="device: comma-separated variants to run (f32, f16; default all)")
    parser.add_argument("--ncu", help="device: also write each kernel's duration over 3 decode steps (ncu) "
                        "to NCU.<variant>.csv")
    parser.add_argument("--ncu-args", help="device: with --ncu, these ncu options (one string, split on "
                        "spaces) instead of the duration metric, e.g. '--section WarpStateStats -k "
                        "regex:attention --launch-count 2'")
    parser.add_argument("--checkpoints", help="device: keep the generated checkpoints in this directory and "
                        "reuse them (same preset and seed) instead of generating them on every run")
    parser.add_argument("--modes", help="device: comma-separated modes (graph, noprog, launches, persistent, "
                        "prefill, profile; default all)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    build(args) if args.stage == "build" else device(args)


if __name__ == "__main__":
    main()
