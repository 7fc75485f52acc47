"""Writes the seed corpora of the fuzzers into fuzz/<name>/corpus/.

Usage: python3 fuzz/make_seeds.py BUILD_DIR

BUILD_DIR is any configured and built tree (it needs bin/pquant-import,
bin/pquant-compile and test/Runtime/runtime-test). The seeds are small, valid
or nearly valid inputs of every kind each fuzzer reads; see docs/fuzzing.md.
Existing files in the corpora are replaced; the regressions/ folders are not
touched.
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

# The smallest models that exercise every part of the checkpoint schema.
MICRO = dict(vocab_size=4, hidden_size=4, num_layers=1, num_heads=1, num_kv_heads=1, ffn_bin_size=9,
             ffn_hp_size=1, num_experts=1, top_k=1, max_seq_len=4)
CHECKPOINTS = {
    "dense": ([], {}),
    "experts": ([], {"num_experts": 2, "top_k": 2, "num_layers": 2, "num_heads": 2, "hidden_size": 8}),
    "tied-f16": (["--f16", "--per-row-scales"], {"tie_embeddings": True}),
    "latent": (["--format", "latent"], {}),
}


def reset(corpus):
    shutil.rmtree(corpus, ignore_errors=True)
    os.makedirs(corpus)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def generate_checkpoint(work, name, flags, overrides):
    out = os.path.join(work, name)
    settings = {**MICRO, **overrides}
    command = [sys.executable, "-m", "pquant.generate", "--preset", "tiny", "--seed", "1", "-o", out] + flags
    for key, value in settings.items():
        command += ["--set", f"{key}={json.dumps(value)}"]
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "python")})
    return out


def ir_seeds(build, work, checkpoints):
    """Test inputs split at `// -----`, without RUN and CHECK lines, and
    imported micro models (inline weights: small dense constants)."""
    corpus = os.path.join(ROOT, "fuzz", "ir", "corpus")
    reset(corpus)
    sources = []
    for area in ["Dialect/PQuant/IR", "Dialect/PQuant/Transforms", "Conversion/PQuantToKernels", "Pipelines"]:
        folder = os.path.join(ROOT, "test", area)
        sources += [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".mlir")]
    count = 0
    for source in sources:
        text = open(source).read()
        for i, chunk in enumerate(re.split(r"^// -----$", text, flags=re.M)):
            lines = [l for l in chunk.splitlines()
                     if not re.match(r"\s*//\s*(RUN|CHECK|[A-Z0-9-]+:|expected-)", l)]
            chunk = "\n".join(lines).strip() + "\n"
            if 2 < len(chunk) < 8000:
                stem = os.path.splitext(os.path.basename(source))[0]
                write(os.path.join(corpus, f"{stem}-{i}.mlir"), chunk.encode())
                count += 1
    for name in ["dense", "experts"]:
        for inline in [False, True]:
            out = os.path.join(work, f"{name}{'-inline' if inline else ''}.mlir")
            subprocess.run([os.path.join(build, "bin", "pquant-import"), checkpoints[name], "-o", out]
                           + (["--inline-weights"] if inline else []), check=True)
            text = open(out).read()
            if len(text) < 20000:
                shutil.copy(out, os.path.join(corpus, os.path.basename(out)))
                count += 1
    return count


def checkpoint_seeds(checkpoints):
    """Each micro checkpoint in both framings (see checkpoint-fuzzer.cpp)."""
    corpus = os.path.join(ROOT, "fuzz", "checkpoint", "corpus")
    reset(corpus)
    count = 0
    for name, path in checkpoints.items():
        config = open(os.path.join(path, "config.json"), "rb").read()
        weights = open(os.path.join(path, "model.safetensors"), "rb").read()
        (size,) = struct.unpack("<Q", weights[:8])
        header, data = weights[8:8 + size], weights[8 + size:]
        latent = 2 if name == "latent" else 0
        write(os.path.join(corpus, f"{name}-raw"), bytes([latent]) + config + b"\n#safetensors\n" + weights)
        write(os.path.join(corpus, f"{name}-framed"),
              bytes([latent | 1]) + config + b"\n#safetensors\n" + header.rstrip() + b"\n#data\n" + data)
        count += 2
    return count


def artifact_seeds(build, work, checkpoints):
    """The stub's artifact, the loader test's broken ones, and micro models
    compiled for this host."""
    corpus = os.path.join(ROOT, "fuzz", "artifact", "corpus")
    reset(corpus)
    runtime_test = os.path.join(build, "test", "Runtime", "runtime-test")
    subprocess.run([runtime_test, "write-pqw", os.path.join(corpus, "stub.pqw")], check=True)
    loader = os.path.join(work, "loader")
    os.makedirs(loader)
    subprocess.run([runtime_test, "loader", loader], check=True, stdout=subprocess.DEVNULL)
    for name in ["tensor-past-data", "data-offset-in-header", "format-version-3", "heads-not-dividing",
                 "tensor-packed-word", "kv-cache-too-large", "truncated-data", "no-config"]:
        shutil.copy(os.path.join(loader, name + ".pqw"), os.path.join(corpus, name + ".pqw"))
    for name in ["dense", "experts"]:
        mlir = os.path.join(work, f"{name}.mlir")
        model = os.path.join(work, f"{name}-model")
        subprocess.run([os.path.join(build, "bin", "pquant-compile"), mlir, "-target=host", "-o", model],
                       check=True)
        shutil.copy(model + ".pqw", os.path.join(corpus, f"{name}.pqw"))
    return len(os.listdir(corpus))


def runtime_seeds():
    """Command lines (first byte even) and C API programs (odd); see
    runtime-fuzzer.cpp."""
    corpus = os.path.join(ROOT, "fuzz", "runtime", "corpus")
    reset(corpus)
    text = b"To be, or not to be, that is the question."
    lines = {
        "prompt": [b"--prompt", b"abc", b"-n", b"5"],
        "prompt-equals": [b"--prompt=hello", b"-n=3", b"--temperature=0.8", b"--top-p=0.9", b"--seed=7"],
        "tokens": [b"--tokens", b"1,2,3", b"-n", b"4", b"--threads", b"1"],
        "tokens-bad": [b"--tokens", b"1,,2"],
        "tokens-range": [b"--tokens", b"1,300"],
        "score": [b"--score", b"@text"],
        "long-prompt": [b"--prompt", b"0123456789abcdefg"],
        "sampling": [b"--prompt", b"x", b"-n", b"20", b"--temperature", b"1.5", b"--top-p", b"0.5", b"--seed", b"3"],
        "help": [b"--help"],
        "unknown": [b"--prompt", b"a", b"--bogus"],
    }
    for name, args in lines.items():
        write(os.path.join(corpus, f"cli-{name}"), b"\x00" + b"\x00".join([text] + args))

    def tokens(values):
        return bytes([len(values)]) + b"".join(struct.pack("<i", v) for v in values)

    programs = {
        # prefill 3 (with logits), decode 1, generate greedy, score
        "prefill-decode": b"\x00\x01" + tokens([1, 2, 3]) + b"\x02" + struct.pack("<i", 4),
        "generate": b"\x03" + tokens([5, 6]) + bytes([8]) + bytes([0b0010_0010]) + b"\x07",
        "generate-raw": b"\x03" + tokens([5]) + bytes([4]) + b"\x01" + struct.pack("<dd", 0.7, 0.9) + b"\x01",
        "score": b"\x04" + tokens(list(range(20))),
        "full": b"\x01" + tokens(list(range(16))) + b"\x02" + struct.pack("<i", 1),
        "bad-tokens": b"\x00\x00" + tokens([-1, 256]) + b"\x02" + struct.pack("<i", 1 << 30),
        "sample": b"\x06\x05" + struct.pack("<5f", 1.0, float("nan"), 3.0, float("inf"), -2.0) + b"\x04\x09\x01",
        "nulls-reset": b"\x07\x05\x07",
    }
    for name, program in programs.items():
        write(os.path.join(corpus, f"api-{name}"), b"\x01" + program)
    return len(os.listdir(corpus))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as work:
        checkpoints = {name: generate_checkpoint(work, name, flags, overrides)
                       for name, (flags, overrides) in CHECKPOINTS.items()}
        print("ir:", ir_seeds(build, work, checkpoints))
        print("checkpoint:", checkpoint_seeds(checkpoints))
        print("artifact:", artifact_seeds(build, work, checkpoints))
        print("runtime:", runtime_seeds())


if __name__ == "__main__":
    main()
