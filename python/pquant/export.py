"""Export a trained pquant.nn.PQuantLM to a pQuant checkpoint (docs/checkpoint-format.md).

    from pquant.export import export_checkpoint
    export_checkpoint(model, "examples/my-model")                  # packed: bits + scales, int8 experts

    PYTHONPATH=python python3 -m pquant.export state.pt -o DIR [--format latent] [--fold-scales]

The packed export quantizes every latent weight with the functions the model's forward pass uses
(pquant.nn.binarize, pquant.nn.quant8): 1-bit weights become packed bits plus one scale lambda = mean|W|
per tensor, expert weights int8 plus one scale per output row, and the tables, norms, router, alpha and
beta stay float32. The model in eval mode and reference.Model on the exported checkpoint then compute the
same logits (`compare_with_reference` measures it).

--fold-scales folds alpha into the scales of down8 and beta into the scale of down1 and stores
alpha = beta = 1, which docs/semantics.md allows (y = alpha * y8 + beta * y1 is linear in both branches'
output scales); the logits move by float32 rounding only. The default keeps them explicit, as the
reference does. --format latent writes the float32 latent weights instead, for the loader to quantize.

A state file (`torch.save`) holds {"config": config.json text, "arch": "pquant", "model": state_dict};
examples/train_shakespeare.py writes one next to its checkpoint.
"""

import argparse
import copy
import json
import sys

import numpy as np
import torch

from . import checkpoint as ckpt
from . import nn as pqnn
from . import reference


def checkpoint_tensors(model, fmt="packed", fold_scales=False):
    """(Config with format `fmt`, {name: numpy array}): the stored tensors of `model`'s checkpoint."""
    if getattr(model, "arch", "pquant") != "pquant":
        raise ValueError(f"a {model.arch} model has no pQuant checkpoint form (it has no int8 branch)")
    if fmt not in ckpt.FORMATS:
        raise ValueError(f"format must be one of {ckpt.FORMATS}, got {fmt!r}")
    if fold_scales and fmt != "packed":
        raise ValueError("--fold-scales needs the packed format (latent weights have no scales)")
    config = ckpt.Config.from_dict({**model.config.to_dict(), "format": fmt})
    state = {name: value.detach().to("cpu", torch.float32) for name, value in model.state_dict().items()}
    tensors = {}
    for spec in ckpt.weight_specs(config):
        weight = state[spec.name]
        if spec.kind in ("bit", "int8") and fmt == "latent":
            tensors[spec.name] = weight.numpy()
        elif spec.kind == "bit":
            bits, lam = pqnn.binarize(weight)
            tensors[spec.name] = ckpt.pack_bits(bits.numpy() > 0)
            tensors[ckpt.scale_name(spec.name)] = lam.reshape(1).numpy()
        elif spec.kind == "int8":
            w8, scale = pqnn.quant8(weight)
            tensors[spec.name] = w8.numpy().astype(np.int8)
            tensors[ckpt.scale_name(spec.name)] = scale.numpy()
        else:
            tensors[spec.name] = weight.numpy().reshape(spec.shape)
    if fold_scales:
        for i in range(config.num_layers):
            p = f"layers.{i}.ffn."
            tensors[p + "down8.scale"] = tensors[p + "down8.scale"] * tensors[p + "alpha"][0]
            tensors[p + "down1.scale"] = tensors[p + "down1.scale"] * tensors[p + "beta"][0]
            tensors[p + "alpha"] = np.ones(1, np.float32)
            tensors[p + "beta"] = np.ones(1, np.float32)
    return config, tensors


def export_checkpoint(model, path, fmt="packed", fold_scales=False):
    """Write `model`'s checkpoint to directory `path`; returns its Config."""
    config, tensors = checkpoint_tensors(model, fmt, fold_scales)
    ckpt.save_checkpoint(path, config, tensors)
    return config


def compare_with_reference(model, path, tokens):
    """Max |logit difference| / max |reference logit| between `model` (eval mode, exact, on CPU) and
    reference.Model on checkpoint `path`, for one sequence `tokens` from position 0."""
    model_cpu = copy.deepcopy(model).to("cpu").eval()
    with torch.no_grad():
        got = model_cpu(torch.as_tensor(np.asarray(tokens), dtype=torch.long)[None], exact=True)[0].numpy()
    want = reference.Model(*ckpt.load_checkpoint(path)).prefill(np.asarray(tokens))
    return float(np.max(np.abs(got.astype(np.float64) - want)) / np.max(np.abs(want)))


def load_state(path, map_location="cpu"):
    """A PQuantLM from a state file written by save_state."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except TypeError:  # PyTorch < 1.13.1 has no weights_only
        state = torch.load(path, map_location=map_location)
    config = ckpt.Config.from_dict(json.loads(state["config"]), source=path)
    model = pqnn.PQuantLM(config, arch=state.get("arch", "pquant"))
    model.load_state_dict(state["model"])
    return model.eval()


def save_state(model, path):
    torch.save({"config": json.dumps(model.config.to_dict()), "arch": model.arch,
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pquant.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("state", help="state file (save_state: torch.save of config, arch and state_dict)")
    parser.add_argument("-o", "--output", required=True, help="checkpoint directory to write (created)")
    parser.add_argument("--format", choices=ckpt.FORMATS, default="packed")
    parser.add_argument("--fold-scales", action="store_true", help="fold alpha, beta into the output scales")
    args = parser.parse_args(argv)
    try:
        export_checkpoint(load_state(args.state), args.output, args.format, args.fold_scales)
    except ValueError as e:
        parser.error(str(e))
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
