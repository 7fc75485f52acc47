"""Bits per byte of a trained checkpoint on the Tiny Shakespeare validation text: compiled vs PyTorch.

The compiled side is `pquant-import` + `pquant-compile -target=host` + `model --score VALIDATION`; the
PyTorch side scores the same bytes the same way (pquant.nn.PQuantLM.from_checkpoint in eval mode, its
own float32 arithmetic, chunks of max_seq_len from position 0, each chunk's first byte unpredicted), on
CUDA when there is a GPU. The two must agree within 0.5 % (issue 9); the exit status says whether they do.

    /usr/bin/python3 bench/bpb.py [--checkpoint examples/shakespeare]
        [--data ../shared/data/tinyshakespeare.txt] [--limit BYTES] [--recorded SUMMARY.json]

--limit scores only the first BYTES of the validation text. --recorded takes the PyTorch side from a
training summary instead (python/examples/train_shakespeare.py scores the trained model, latent weights
and all, on the full validation text at the end of training, on its GPU): Debian's PyTorch computes
with the reference BLAS and needs about 20 minutes on one core for the full text here.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

TOLERANCE = 0.005
TRAIN_FRACTION = 0.9  # as python/examples/train_shakespeare.py splits the file


def run(command, **kwargs):
    print("$", " ".join(command), file=sys.stderr, flush=True)
    return subprocess.run(command, check=True, text=True, capture_output=True, **kwargs)


def compiled_score(checkpoint, text_path, build, work):
    bin_dir = os.path.join(build, "bin")
    run([os.path.join(bin_dir, "pquant-import"), checkpoint, "-o", os.path.join(work, "model.mlir")])
    run([os.path.join(bin_dir, "pquant-compile"), os.path.join(work, "model.mlir"), "-target=host",
         "-o", os.path.join(work, "model")])
    start = time.time()
    output = run([os.path.join(work, "model"), "--score", text_path]).stdout
    print(output, end="", file=sys.stderr)
    predicted = int(re.search(r"(\d+) predicted", output).group(1))
    nll = float(re.search(r"nll: ([\d.]+) nats/token", output).group(1))
    return nll, predicted, time.time() - start


def pytorch_score(checkpoint, tokens, device):
    import torch

    from pquant import nn as pqnn

    model = pqnn.PQuantLM.from_checkpoint(checkpoint).to(device)
    length = model.config.max_seq_len
    chunks = [tokens[i:i + length] for i in range(0, len(tokens), length)]
    nll, predicted, start = 0.0, 0, time.time()
    batch = 8 if device != "cpu" else 1
    with torch.no_grad():
        for i in range(0, len(chunks), batch):
            group = chunks[i:i + batch]
            for size in sorted({len(c) for c in group}):
                rows = torch.tensor([c for c in group if len(c) == size], dtype=torch.long, device=device)
                if size < 2:
                    continue
                logp = torch.log_softmax(model(rows, exact=False).double()[:, :-1], dim=-1)
                nll -= torch.gather(logp, 2, rows[:, 1:, None]).sum().item()
                predicted += rows.shape[0] * (size - 1)
            done = min(i + batch, len(chunks))
            print(f"\rPyTorch ({device}): {done}/{len(chunks)} chunks, {time.time() - start:.0f}s",
                  end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return nll / predicted, predicted, time.time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=os.path.join(ROOT, "examples", "shakespeare"))
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt"))
    parser.add_argument("--build", default=os.environ.get("PQUANT_BUILD_DIR", os.path.join(ROOT, "build")))
    parser.add_argument("--limit", type=int, default=0, help="score only the first BYTES of the validation text")
    parser.add_argument("--recorded", help="take PyTorch's score from this training summary.json")
    parser.add_argument("--device", default="auto", help="PyTorch device (auto: cuda if present)")
    args = parser.parse_args()

    data = open(args.data, "rb").read()
    text = data[int(len(data) * TRAIN_FRACTION):]
    if args.limit:
        text = text[:args.limit]
    print(f"validation text: {len(text)} bytes of {args.data} from byte {int(len(data) * TRAIN_FRACTION)}",
          file=sys.stderr)

    with tempfile.TemporaryDirectory() as work:
        text_path = os.path.join(work, "validation.txt")
        with open(text_path, "wb") as f:
            f.write(text)
        c_nll, c_count, c_time = compiled_score(args.checkpoint, text_path, args.build, work)

    if args.recorded:
        with open(args.recorded) as f:
            recorded = json.load(f)["val_score"]
        if recorded["bytes"] != len(text):
            sys.exit(f"{args.recorded} scored {recorded['bytes']} bytes, this run {len(text)}")
        t_nll, t_count, t_where = recorded["nll"], recorded["predicted"], f"recorded in {args.recorded}"
    else:
        import torch

        device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
        t_nll, t_count, t_time = pytorch_score(args.checkpoint, list(text), device)
        t_where = f"PyTorch {torch.__version__} on {device}, {t_time:.0f}s"

    c_bpb, t_bpb = c_nll / math.log(2), t_nll / math.log(2)
    difference = abs(c_bpb - t_bpb) / t_bpb
    ok = c_count == t_count and difference <= TOLERANCE
    print(f"checkpoint {args.checkpoint}, {len(text)} validation bytes, {c_count} predicted")
    print(f"compiled (pquant-compile -target=host, model --score, {c_time:.0f}s): {c_bpb:.4f} bits per byte "
          f"({c_nll:.6f} nats/byte)")
    print(f"PyTorch ({t_where}): {t_bpb:.4f} bits per byte ({t_nll:.6f} nats/byte)")
    print(f"{'ok' if ok else 'FAIL'}: relative difference {difference:.2e} (tolerance {TOLERANCE:g})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
