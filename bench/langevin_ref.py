"""PyTorch reference benchmark: Langevin sampling steps on a ConvEnergy model.

Mirrors the Rust (tch) implementation in src/energy/{conv,layers,spectral}.rs
operation for operation, so the two can be timed side by side. One JSON line
per (config, precision) goes to stdout; progress goes to stderr.

    python bench/langevin_ref.py [--configs cifar,mnist] [--precisions fp32,bf16]
        [--warmup 2] [--steps 10] [--threads 2] [--seed 0]
"""

import argparse
import json
import math
import sys
import time
import warnings

# torch warns at import when NumPy is absent; nothing here uses NumPy.
warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "cifar": dict(channels=3, size=32, batch=128, widths=[64, 128, 256], code_dim=0),
    "mnist": dict(channels=1, size=28, batch=128, widths=[32, 64, 64], code_dim=0),
}
STEP_SIZE = 10.0
NOISE_STD = 0.005
SN_INIT_ITERATIONS = 15


def swish(x):
    return x * torch.sigmoid(x)


def normalise(t):
    return t / t.norm().clamp_min(1e-12)


class SNWeight(nn.Module):
    """A weight divided by sigma = u . (W v), with u, v fixed buffers.

    The power iteration runs only at construction (under no_grad); the forward
    pass is reshape, mv, dot, divide, exactly as on the Rust side.
    """

    def __init__(self, shape, spectral):
        super().__init__()
        fan_in = math.prod(shape[1:])
        self.weight = nn.Parameter(torch.randn(shape) / math.sqrt(fan_in))
        self.spectral = spectral
        if spectral:
            self.register_buffer("u", normalise(torch.randn(shape[0])))
            self.register_buffer("v", normalise(torch.randn(fan_in)))
            with torch.no_grad():
                w = self.weight.reshape(shape[0], -1)
                for _ in range(SN_INIT_ITERATIONS):
                    self.v.copy_(normalise(w.t().mv(self.u)))
                    self.u.copy_(normalise(w.mv(self.v)))

    def forward(self):
        if not self.spectral:
            return self.weight
        w = self.weight.reshape(self.weight.shape[0], -1)
        return self.weight / self.u.dot(w.mv(self.v))


class Dense(nn.Module):
    def __init__(self, inputs, outputs, spectral):
        super().__init__()
        self.weight = SNWeight((outputs, inputs), spectral)
        self.bias = nn.Parameter(torch.zeros(outputs))

    def forward(self, x):
        return F.linear(x, self.weight(), self.bias)


class Conv3(nn.Module):
    def __init__(self, inputs, outputs, spectral):
        super().__init__()
        self.weight = SNWeight((outputs, inputs, 3, 3), spectral)
        self.bias = nn.Parameter(torch.zeros(outputs))

    def forward(self, x):
        return F.conv2d(x, self.weight(), self.bias, stride=1, padding=1)


class ResBlock(nn.Module):
    def __init__(self, inputs, outputs, code_dim, spectral, residual_gain):
        super().__init__()
        self.conv1 = Conv3(inputs, outputs, spectral)
        self.conv2 = Conv3(outputs, outputs, spectral)
        self.film = None
        if code_dim > 0:  # FiLM: h * (1 + gain(code)) + bias(code)
            self.film = nn.ModuleDict(
                dict(gain=Dense(code_dim, outputs, spectral), bias=Dense(code_dim, outputs, spectral)))
        self.skip = Conv3(inputs, outputs, spectral) if inputs != outputs else None
        self.residual_gain = nn.Parameter(torch.full((1,), residual_gain))

    def forward(self, x, code):
        h = self.conv1(x)
        if self.film is not None and code is not None:
            gain = self.film["gain"](code)[:, :, None, None]
            bias = self.film["bias"](code)[:, :, None, None]
            h = h * (gain + 1.0) + bias
        h = self.conv2(swish(h)) * self.residual_gain
        skip = self.skip(x) if self.skip is not None else x
        return swish(h + skip)


class ConvEnergy(nn.Module):
    """input conv -> [ResBlock -> avgpool 2x2] per width -> swish -> spatial sum -> head."""

    def __init__(self, channels, size, widths, code_dim, spectral_norm=True, residual_gain=0.1):
        super().__init__()
        assert size >> len(widths) >= 1, "too many downsamplings for this image size"
        self.input = Conv3(channels, widths[0], spectral_norm)
        blocks, prev = [], widths[0]
        for w in widths:
            blocks.append(ResBlock(prev, w, code_dim, spectral_norm, residual_gain))
            prev = w
        self.blocks = nn.ModuleList(blocks)
        self.head = Dense(prev, 1, spectral=False)

    def forward(self, x, code=None):
        h = self.input(x)
        for block in self.blocks:
            h = F.avg_pool2d(block(h, code), 2, 2)
        pooled = swish(h).sum(dim=(2, 3))
        return self.head(pooled).squeeze(-1)


def langevin_step(model, x, code, dtype):
    """One Langevin step; x stays float32, the model runs in `dtype`."""
    x = x.detach().requires_grad_(True)
    e = model(x.to(dtype), code).to(torch.float32)
    (g,) = torch.autograd.grad(e.sum(), [x])  # gradient w.r.t. x only
    drift = (STEP_SIZE / 2) * g.clamp(-0.01, 0.01)
    return (x.detach() - drift + NOISE_STD * torch.randn_like(x)).clamp(0, 1)


def bench(name, precision, warmup, steps):
    cfg = CONFIGS[name]
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    model = ConvEnergy(cfg["channels"], cfg["size"], cfg["widths"], cfg["code_dim"])
    model = model.to(dtype)  # casts parameters and SN buffers alike
    x = torch.rand(cfg["batch"], cfg["channels"], cfg["size"], cfg["size"])
    code = torch.randn(cfg["batch"], cfg["code_dim"], dtype=dtype) if cfg["code_dim"] > 0 else None

    print(f"[{name}/{precision}] warmup {warmup} steps", file=sys.stderr, flush=True)
    for _ in range(warmup):
        x = langevin_step(model, x, code, dtype)
    print(f"[{name}/{precision}] timing {steps} steps", file=sys.stderr, flush=True)
    start = time.perf_counter()
    for _ in range(steps):
        x = langevin_step(model, x, code, dtype)
    seconds = time.perf_counter() - start
    assert torch.isfinite(x).all(), "chain state became non-finite"
    assert all(p.grad is None for p in model.parameters()), "weights accumulated gradients"
    return {
        "impl": "pytorch",
        "config": name,
        "precision": precision,
        "batch": cfg["batch"],
        "steps": steps,
        "seconds": round(seconds, 4),
        "steps_per_s": round(steps / seconds, 4),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="cifar,mnist")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.steps < 1 or args.warmup < 0:
        p.error("--steps must be >= 1 and --warmup >= 0")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    for name in args.configs.split(","):
        if name not in CONFIGS:
            p.error(f"unknown config {name!r}; choose from {', '.join(CONFIGS)}")
        for precision in args.precisions.split(","):
            if precision not in ("fp32", "bf16"):
                p.error(f"unknown precision {precision!r}; choose fp32 or bf16")
            print(json.dumps(bench(name, precision, args.warmup, args.steps)), flush=True)


if __name__ == "__main__":
    main()
