#!/usr/bin/env python3
"""Train a byte-level pQuant model (or its 1-bit-only BitNet baseline) on Tiny Shakespeare and export it.

    PYTHONPATH=python /usr/bin/python3 python/examples/train_shakespeare.py --out /tmp/shakespeare
        [--arch pquant|bitnet] [--data ../shared/data/tinyshakespeare.txt] [--steps 3000] [--seed 0] ...

Data: the file's bytes are the tokens (vocabulary 256); the first 90 % train, the last 10 % validate.
Recipe (docs/training.md): AdamW with betas (0.9, 0.95) and the two-phase schedule of the pQuant and
BitNet b1.58 papers: a linear warm-up to a high learning rate held for the first phase with weight decay
0.1, then an abrupt drop to a lower rate that decays to 0 along a cosine with weight decay switched off.
Routers get a Switch-Transformer load-balancing loss. Runs on CUDA when there is a GPU, else on CPU.

Writes into --out: train.log (a copy of what it prints), summary.json (losses, time, device), and for a
pQuant model its checkpoint under checkpoint/ (quantized and packed by pquant.export) and, with
--save-state, state.pt (the latent weights, for `python -m pquant.export`). After training it reports
train and validation loss, the validation bits per byte scored exactly as `model --score` does (chunks
of max_seq_len from position 0, the first byte of a chunk unpredicted), a sample, and for a pQuant
model how far the exported checkpoint's reference logits are from the trained model's.
"""

import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # the pquant package

from pquant import checkpoint as ckpt  # noqa: E402
from pquant import export  # noqa: E402
from pquant import nn as pqnn  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt")
TRAIN_FRACTION = 0.9


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--data", default=DEFAULT_DATA, help="text file (default ../shared/data/tinyshakespeare.txt)")
    p.add_argument("--arch", choices=pqnn.ARCHS, default="pquant")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    g = p.add_argument_group("model (checkpoint config keys)")
    g.add_argument("--hidden-size", type=int, default=256)
    g.add_argument("--num-layers", type=int, default=6)
    g.add_argument("--num-heads", type=int, default=8)
    g.add_argument("--num-kv-heads", type=int, default=4)
    g.add_argument("--ffn-bin-size", type=int, default=672, help="1-bit FFN width (BitNet: its whole FFN)")
    g.add_argument("--ffn-hp-size", type=int, default=64, help="width of each int8 expert")
    g.add_argument("--num-experts", type=int, default=4)
    g.add_argument("--max-seq-len", type=int, default=512, help="training context and KV cache length")
    g = p.add_argument_group("training")
    g.add_argument("--steps", type=int, default=3000)
    g.add_argument("--stop-after", type=int, default=0, help="stop after this many steps (reproducibility checks)")
    g.add_argument("--time-limit", type=float, default=0,
                   help="safety net: stop training (then evaluate and export) after this many seconds")
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--lr", type=float, default=3e-3, help="phase-1 learning rate")
    g.add_argument("--phase2-lr", type=float, default=1e-3, help="learning rate phase 2 starts at")
    g.add_argument("--phase1-fraction", type=float, default=0.5)
    g.add_argument("--warmup", type=int, default=100)
    g.add_argument("--weight-decay", type=float, default=0.1, help="phase 1 only; phase 2 has none")
    g.add_argument("--dropout", type=float, default=0.1)
    g.add_argument("--aux-loss", type=float, default=0.01, help="weight of the routers' load-balancing loss")
    g.add_argument("--grad-clip", type=float, default=1.0)
    g = p.add_argument_group("reporting")
    g.add_argument("--log-every", type=int, default=50)
    g.add_argument("--eval-every", type=int, default=500)
    g.add_argument("--eval-batches", type=int, default=16)
    g.add_argument("--score-limit", type=int, default=0, help="score only this many validation bytes (0: all)")
    g.add_argument("--sample-tokens", type=int, default=300)
    g.add_argument("--save-state", action="store_true", help="also write the latent weights to state.pt")
    return p.parse_args(argv)


class Log:
    """Prints and appends to train.log."""

    def __init__(self, path):
        self.file = open(path, "w")

    def __call__(self, *parts):
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        self.file.write(line + "\n")
        self.file.flush()


def load_data(path):
    data = np.frombuffer(open(path, "rb").read(), np.uint8)
    split = int(len(data) * TRAIN_FRACTION)
    return torch.from_numpy(data[:split].astype(np.int64)), torch.from_numpy(data[split:].astype(np.int64))


def get_batch(data, batch_size, length, generator, device):
    """Random windows: inputs [B, length] and next-byte targets [B, length]."""
    starts = torch.randint(len(data) - length - 1, (batch_size,), generator=generator)
    x = torch.stack([data[s:s + length] for s in starts])
    y = torch.stack([data[s + 1:s + length + 1] for s in starts])
    return x.to(device), y.to(device)


def learning_rate(step, args):
    """(learning rate, weight decay) of `step`: warm-up, phase 1 flat, phase 2 cosine from phase2_lr."""
    phase1_end = int(args.steps * args.phase1_fraction)
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup, args.weight_decay
    if step < phase1_end:
        return args.lr, args.weight_decay
    progress = (step - phase1_end) / max(1, args.steps - phase1_end)
    return args.phase2_lr * 0.5 * (1 + math.cos(math.pi * progress)), 0.0


def make_optimizer(model, args, device):
    """AdamW, betas (0.9, 0.95); weight decay on matrices only (not norms, alpha, beta)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": args.weight_decay, "decays": True},
              {"params": rest, "weight_decay": 0.0, "decays": False}]
    kwargs = dict(lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    if device.type == "cuda":
        try:
            return torch.optim.AdamW(groups, fused=True, **kwargs)
        except (TypeError, RuntimeError):
            pass
    return torch.optim.AdamW(groups, **kwargs)


@torch.no_grad()
def estimate_loss(model, data, args, device, seed):
    """Mean next-byte loss (nats) over eval_batches fixed random windows, eval mode, float32 path."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(args.eval_batches):
        x, y = get_batch(data, args.batch_size, model.config.max_seq_len, generator, device)
        logits = model(x, exact=False)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
    model.train()
    return total / args.eval_batches


@torch.no_grad()
def score(model, tokens, device, exact=False, batch_size=16):
    """(NLL nats/token, predicted count) of `tokens` as `model --score` computes it: chunks of max_seq_len
    from position 0, each chunk's first token unpredicted, every other token teacher-forced. PyTorch's own
    float32 arithmetic unless `exact` (pquant.nn's reference-exact mode)."""
    model.eval()
    length = model.config.max_seq_len
    chunks = [tokens[i:i + length] for i in range(0, len(tokens), length)]
    nll, predicted = 0.0, 0
    groups = [chunks[i:i + batch_size] for i in range(0, len(chunks), batch_size)]
    for group in groups:
        for same in sorted({len(c) for c in group}):  # only the last chunk can be shorter
            batch = torch.stack([c for c in group if len(c) == same]).to(device)
            if same < 2:
                continue
            logits = model(batch, exact=exact).double()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            nll -= torch.gather(logp, 2, batch[:, 1:, None]).sum().item()
            predicted += batch.shape[0] * (same - 1)
    return nll / predicted, predicted


@torch.no_grad()
def sample(model, prompt, count, device, temperature=0.8, seed=0):
    """Text continuing `prompt` (bytes), sampled with `temperature` (no KV cache: recomputes)."""
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    tokens = torch.tensor(list(prompt), dtype=torch.long, device=device)[None]
    for _ in range(min(count, model.config.max_seq_len - tokens.shape[1])):
        logits = model(tokens, exact=False)[0, -1].double()
        probs = torch.softmax(logits / temperature, dim=-1)
        tokens = torch.cat([tokens, torch.multinomial(probs, 1, generator=generator)[None]], dim=1)
    return bytes(tokens[0].tolist()).decode("utf-8", errors="replace")


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = Log(os.path.join(args.out, "train.log"))
    pqnn.configure_deterministic()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # exact on the integer-valued quantized products
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    torch.manual_seed(args.seed)

    config = ckpt.Config(
        vocab_size=256, hidden_size=args.hidden_size, num_layers=args.num_layers, num_heads=args.num_heads,
        num_kv_heads=args.num_kv_heads, ffn_bin_size=args.ffn_bin_size, ffn_hp_size=args.ffn_hp_size,
        num_experts=args.num_experts, top_k=1, gate_weighting=True, subln=True, rope_theta=10000.0,
        rms_norm_eps=1e-5, max_seq_len=args.max_seq_len, tie_embeddings=False)
    model = pqnn.PQuantLM(config, arch=args.arch, dropout=args.dropout).to(device)
    train, val = load_data(args.data)
    log(f"{args.arch}: {model.num_parameters() / 1e6:.3f}M parameters, config {json.dumps(config.to_dict())}")
    log(f"data: {args.data}: {len(train)} train bytes, {len(val)} validation bytes; device {device} "
        f"({device_name}), torch {torch.__version__}, seed {args.seed}")
    log(f"args: {json.dumps(vars(args))}")

    optimizer = make_optimizer(model, args, device)
    generator = torch.Generator().manual_seed(args.seed)
    tokens_per_step = args.batch_size * config.max_seq_len
    evals = []
    model.train()
    start = time.time()
    last_steps = args.stop_after or args.steps
    window = []
    for step in range(last_steps):
        if args.time_limit and time.time() - start > args.time_limit:
            log(f"stopped by --time-limit {args.time_limit:.0f}s after {step} of {last_steps} steps")
            last_steps = step
            break
        lr, wd = learning_rate(step, args)
        for group in optimizer.param_groups:
            group["lr"] = lr
            group["weight_decay"] = wd if group["decays"] else 0.0
        x, y = get_batch(train, args.batch_size, config.max_seq_len, generator, device)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        total = loss + args.aux_loss * model.aux_loss().to(loss.device) if args.arch == "pquant" else loss
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        window.append(loss.detach())
        if (step + 1) % args.log_every == 0 or step == 0:
            mean = torch.stack(window).mean().item()
            window = []
            elapsed = time.time() - start
            extra = ""
            if args.arch == "pquant":
                ffn = model.layers[-1].ffn
                extra = f" alpha/beta(last layer) {ffn.alpha.item():.3f}/{ffn.beta.item():.3f}"
            log(f"step {step + 1:5d} loss {mean:.4f} lr {lr:.2e} wd {wd:.2f} "
                f"{tokens_per_step * (step + 1) / elapsed:,.0f} tokens/s {elapsed:.0f}s{extra}")
        if (step + 1) % args.eval_every == 0 and step + 1 < last_steps:
            v = estimate_loss(model, val, args, device, seed=1)
            evals.append({"step": step + 1, "val_loss": v})
            log(f"step {step + 1:5d} validation loss {v:.4f}")
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_time = time.time() - start

    train_loss = estimate_loss(model, train, args, device, seed=2)
    val_loss = estimate_loss(model, val, args, device, seed=1)
    scored = val[:args.score_limit] if args.score_limit else val
    nll, predicted = score(model, scored, device)
    summary = {
        "arch": args.arch, "parameters": model.num_parameters(), "config": config.to_dict(),
        "steps": last_steps, "tokens": last_steps * tokens_per_step, "seed": args.seed,
        "train_time_s": round(train_time, 1), "device": f"{device} ({device_name})",
        "torch": torch.__version__, "train_loss": train_loss, "val_loss": val_loss, "evals": evals,
        "val_score": {"bytes": len(scored), "predicted": predicted, "nll": nll, "bits_per_byte": nll / math.log(2)},
    }
    log(f"done: {last_steps} steps in {train_time:.1f}s on {device} ({device_name})")
    log(f"train loss {train_loss:.4f}, validation loss {val_loss:.4f} (nats/byte, {args.eval_batches} batches)")
    log(f"validation score ({len(scored)} bytes, {predicted} predicted, chunks of {config.max_seq_len}): "
        f"nll {nll:.6f} nats/byte, {nll / math.log(2):.4f} bits per byte")
    if args.arch == "pquant":
        alphas = [round(layer.ffn.alpha.item(), 4) for layer in model.layers]
        betas = [round(layer.ffn.beta.item(), 4) for layer in model.layers]
        summary.update(alpha=alphas, beta=betas)
        log(f"alpha per layer {alphas}, beta per layer {betas}")
        path = os.path.join(args.out, "checkpoint")
        export.export_checkpoint(model, path)
        prefix = val[:config.max_seq_len].numpy()
        error = export.compare_with_reference(model, path, prefix)
        summary["reference_vs_torch_rel_error"] = error
        size = os.path.getsize(os.path.join(path, ckpt.WEIGHTS_FILE))
        log(f"exported {path} ({size} bytes); reference vs PyTorch logits on {len(prefix)} validation bytes: "
            f"max error {error:.2e} of the largest logit")
        if args.save_state:
            export.save_state(model, os.path.join(args.out, "state.pt"))
    text = sample(model, b"ROMEO:", args.sample_tokens, device, seed=args.seed)
    summary["sample"] = text
    log("sample (temperature 0.8):\n" + text)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
