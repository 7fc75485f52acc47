"""PyTorch fp16 baselines for the GPU benchmark, measured on the GPU machine:

* `gemv`: torch.matmul of one fp16 token [1, K] with an fp16 weight [N, K]
  (transposed), the shapes of bench/gpu_bitlinear.c, weights rotated over
  enough copies to overflow L2, captured in a CUDA graph; effective bandwidth
  = bytes of weights + activations + outputs over time.
* `model`: an fp16 decoder of the 1.3B preset's shape (hidden 2048, 24 layers,
  32 heads, SwiGLU FFN 5460 plus one of 8 routed experts of width 256, vocab
  32000, KV cache of 256 rows), one decode step captured in a CUDA graph and
  replayed; tokens/s with the next token chosen on the device (argmax in the
  graph, no host round trip) and with the logits copied to the host each step
  as pquant's runtime does.

    python3 bench/gpu_torch.py gemv|model
"""

import sys
import time

import torch

SHAPES = [(4096, 11008), (11008, 4096), (2048, 2048), (5460, 2048), (2048, 5460)]


def graph_time(fn, reps=20):
    """Seconds per replay of a CUDA graph of fn()."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    for _ in range(3):
        graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        graph.replay()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) * 1e-3 / reps


def gemv():
    dev = torch.device("cuda")
    a = torch.empty(1 << 28, dtype=torch.float32, device=dev)
    b = torch.empty_like(a)
    copy = graph_time(lambda: b.copy_(a), reps=20)
    print(f"torch device-to-device copy: {2 * a.numel() * 4 / copy / 1e9:.0f} GB/s (bytes read + written)")
    print(f"{'N x K':12} {'bytes':>10} {'us':>10} {'GB/s':>10}   (torch fp16 matmul, [1,K] x [N,K]^T)")
    for n, k in SHAPES:
        weight_bytes = n * k * 2
        copies = int(512e6 / weight_bytes) + 2
        ws = [torch.randn(n, k, dtype=torch.float16, device=dev) for _ in range(copies)]
        x = torch.randn(1, k, dtype=torch.float16, device=dev)
        y = torch.empty(1, n, dtype=torch.float16, device=dev)

        def run():
            for w in ws:
                torch.matmul(x, w.t(), out=y)
        t = graph_time(run, reps=10) / copies
        bytes_ = weight_bytes + 2 * k + 2 * n
        print(f"{n}x{k:<7} {bytes_:>10} {t * 1e6:>10.2f} {bytes_ / t / 1e9:>10.0f}")
        del ws


class Decoder(torch.nn.Module):
    def __init__(self, d=2048, layers=24, heads=32, f1=5460, r=256, experts=8, vocab=32000, rows=256):
        super().__init__()
        g = torch.Generator(device="cuda").manual_seed(0)
        dev, h = torch.device("cuda"), torch.float16

        def w(*shape):
            return (torch.randn(*shape, generator=g, device=dev, dtype=torch.float32) / shape[-1] ** 0.5).to(h)

        self.d, self.heads, self.dh, self.rows = d, heads, d // heads, rows
        self.embed = w(vocab, d)
        self.lm_head = w(vocab, d)
        self.layers = []
        for _ in range(layers):
            self.layers.append(dict(
                qkv=w(3 * d, d), o=w(d, d), gate_up=w(2 * f1, d), down=w(d, f1), router=w(experts, d),
                gate_up8=w(experts, 2 * r, d), down8=w(experts, d, r),
                n1=torch.ones(d, device=dev, dtype=h), n2=torch.ones(d, device=dev, dtype=h)))
        self.keys = torch.zeros(layers, heads, rows, self.dh, device=dev, dtype=h)
        self.values = torch.zeros_like(self.keys)
        half = self.dh // 2
        inv = 10000.0 ** (-torch.arange(half, device=dev, dtype=torch.float32) * 2 / self.dh)
        angle = torch.arange(rows, device=dev, dtype=torch.float32)[:, None] * inv
        self.cos, self.sin = angle.cos().to(h), angle.sin().to(h)
        self.f1, self.r = f1, r

    @staticmethod
    def norm(x, w):
        x32 = x.float()
        return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + 1e-5)).to(x.dtype) * w

    def rope(self, x, pos):
        cos, sin = self.cos[pos], self.sin[pos]  # [1, half]
        a, b = x[..., : self.dh // 2], x[..., self.dh // 2:]
        return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)

    def step(self, token, pos):
        x = self.embed[token]  # [1, d]
        mask = (torch.arange(self.rows, device=x.device) <= pos)[None, None, None, :]
        for i, l in enumerate(self.layers):
            h = self.norm(x, l["n1"])
            q, k, v = (h @ l["qkv"].t()).view(3, self.heads, self.dh)
            q, k = self.rope(q, pos), self.rope(k, pos)
            self.keys[i].index_copy_(1, pos, k[:, None, :])
            self.values[i].index_copy_(1, pos, v[:, None, :])
            att = torch.nn.functional.scaled_dot_product_attention(
                q[None, :, None, :], self.keys[i][None], self.values[i][None], attn_mask=mask)
            x = x + att.reshape(1, self.d) @ l["o"].t()
            h = self.norm(x, l["n2"])
            g, u = (h @ l["gate_up"].t()).split(self.f1, dim=-1)
            y1 = (torch.nn.functional.silu(g) * u) @ l["down"].t()
            e = (h @ l["router"].t()).argmax(-1)
            g8, u8 = (h @ l["gate_up8"][e][0].t()).split(self.r, dim=-1)
            y8 = (torch.nn.functional.silu(g8) * u8) @ l["down8"][e][0].t()
            x = x + 2.0 * y8 + 0.2 * y1
        return self.norm(x, 1.0) @ self.lm_head.t()


def model():
    torch.manual_seed(0)
    dev = torch.device("cuda")
    net = Decoder()
    weights = sum(t.numel() for l in net.layers for t in l.values()) + 2 * net.embed.numel()
    print(f"torch fp16 decoder: {weights / 1e9:.2f}B parameters, {2 * weights / 1e9:.2f} GB of fp16 weights")
    token = torch.zeros(1, dtype=torch.long, device=dev)
    pos = torch.zeros(1, dtype=torch.long, device=dev)
    logits = torch.empty(1, 32000, dtype=torch.float16, device=dev)

    def step():
        logits.copy_(net.step(token, pos))
        token.copy_(logits.argmax(-1))
        pos.add_(1)

    with torch.no_grad():
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step()
        steps = 128
        for device_side in (True, False):
            pos.zero_()
            for _ in range(8):
                graph.replay()
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(steps):
                graph.replay()
                if not device_side:
                    logits.float().cpu()
            torch.cuda.synchronize()
            elapsed = time.perf_counter() - start
            how = "next token on the device" if device_side else "logits to the host each step"
            print(f"torch fp16 decode, CUDA graph, {how}: {steps / elapsed:.0f} tokens/s")


if __name__ == "__main__":
    {"gemv": gemv, "model": model}[sys.argv[1]]()
