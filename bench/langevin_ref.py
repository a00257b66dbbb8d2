"""PyTorch reference benchmark: Langevin sampling steps on a ConvEnergy model.

Mirrors the Rust (tch) implementation in src/energy/{conv,layers,spectral}.rs
operation for operation, so the two can be timed side by side. One JSON line
per (config, precision) goes to stdout; progress goes to stderr.

    python bench/langevin_ref.py [--configs cifar,mnist] [--precisions fp32,bf16]
        [--layouts nchw,nhwc] [--mode langevin|train] [--chain-steps 20]
        [--warmup 2] [--steps 10] [--threads 2] [--seed 0]

`--mode dsm` (config `denoiser`) times one denoising-score-matching step on
ebm's denoiser energy, with its double backward. `--mode train` times one
contrastive-divergence update (a fresh chain of
--chain-steps Langevin steps, E+ and E-, backward, Adam) with fp32 master
weights, under CPU autocast for bf16.
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
    # --mode dsm: the denoiser energy at ebm's defaults.
    "denoiser": dict(channels=3, size=32, batch=128, widths=[64, 128, 256], code_dim=0),
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


class Denoiser(nn.Module):
    """ebm's DenoiserEnergy (src/energy/denoiser.rs) at its defaults, unconditional:
    E_sigma(x) = |x - D(x, sigma)|^2 / (2 sigma^2), D a bottleneck autoencoder with
    FiLM from log sigma in the decoder and coordinate channels at both ends."""

    def __init__(self, channels=3, size=32, width=32, latent=32, embedding=64):
        super().__init__()
        w, self.size, self.width = width, size, width
        self.embed = nn.Linear(1, embedding)
        self.enc_in = nn.Conv2d(channels + 3, w, 3, padding=1)
        self.enc = nn.ModuleList([nn.Conv2d(a, b, 4, 2, 1) for a, b in [(w, 2 * w), (2 * w, 2 * w), (2 * w, 2 * w)]])
        cells = 2 * w * (size // 8) ** 2
        self.to_latent, self.from_latent = nn.Linear(cells, latent), nn.Linear(latent, cells)
        self.dec = nn.ModuleList(
            [nn.ConvTranspose2d(a, b, 4, 2, 1) for a, b in [(2 * w, 2 * w), (2 * w, 2 * w), (2 * w, w)]])
        self.films = nn.ModuleList(
            [nn.ModuleList([nn.Linear(embedding, c), nn.Linear(embedding, c)]) for c in [2 * w, 2 * w, 2 * w, w]])
        self.dec_out = nn.Conv2d(w + 2, channels, 3, padding=1)

    @staticmethod
    def film(film, h, emb):
        return h * (film[0](emb)[:, :, None, None] + 1.0) + film[1](emb)[:, :, None, None]

    def denoise(self, x, sigma):
        b, s = x.shape[0], self.size
        log_sigma = sigma.log().view(b, 1)
        emb = F.silu(self.embed(log_sigma))
        axis = torch.linspace(-1.0, 1.0, s, dtype=x.dtype)
        coords = torch.cat([axis.view(1, 1, 1, s).expand(b, 1, s, s), axis.view(1, 1, s, 1).expand(b, 1, s, s)], 1)
        level = log_sigma.view(b, 1, 1, 1).expand(b, 1, s, s).to(x.dtype)
        h = F.silu(self.enc_in(torch.cat([x, coords, level], 1)))
        for conv in self.enc:
            h = F.silu(conv(h))
        h = self.from_latent(self.to_latent(h.flatten(1))).view(b, 2 * self.width, s // 8, s // 8)
        h = F.silu(self.film(self.films[0], h, emb))
        for conv, film in zip(self.dec, self.films[1:]):
            h = F.silu(self.film(film, conv(h), emb))
        return self.dec_out(torch.cat([h, coords], 1))

    def forward(self, x, sigma):
        residual = x - self.denoise(x, sigma).float()
        return residual.square().sum(dim=(1, 2, 3)) / (2 * sigma.square())


def dsm_update(model, optimiser, positives, dtype, sigma_range=(0.01, 0.6)):
    """One denoising-score-matching step, |sigma grad E(x + sigma eps) - eps|^2
    weighted by sigma: an input gradient with its graph, then the weights'
    gradient through it (double backward), then Adam."""
    lo, hi = sigma_range
    n = positives.shape[0]
    sigma = (torch.rand(n) * math.log(hi / lo) + math.log(lo)).exp()
    eps = torch.randn_like(positives)
    noisy = (positives + eps * sigma.view(n, 1, 1, 1)).detach().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        e = model(noisy, sigma).float()
    (g,) = torch.autograd.grad(e.sum(), [noisy], create_graph=True)
    residual = g * sigma.view(n, 1, 1, 1) - eps
    loss = (residual.square().sum(dim=(1, 2, 3)) * sigma / positives[0].numel()).mean()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return positives


def langevin_step(model, x, code, dtype):
    """One Langevin step; x stays float32, the model runs in `dtype`."""
    x = x.detach().requires_grad_(True)
    e = model(x.to(dtype), code).to(torch.float32)
    (g,) = torch.autograd.grad(e.sum(), [x])  # gradient w.r.t. x only
    drift = (STEP_SIZE / 2) * g.clamp(-0.01, 0.01)
    return (x.detach() - drift + NOISE_STD * torch.randn_like(x)).clamp(0, 1)


def build(cfg, precision, layout, mode):
    """The model and a starting batch in the configuration asked for.

    Sampling casts the model to the compute dtype (as ebm's cast network
    does); training keeps fp32 master weights and runs under CPU autocast,
    PyTorch's own mixed-precision recipe.
    """
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    model = ConvEnergy(cfg["channels"], cfg["size"], cfg["widths"], cfg["code_dim"])
    if mode == "langevin":
        model = model.to(dtype)  # casts parameters and SN buffers alike
    x = torch.rand(cfg["batch"], cfg["channels"], cfg["size"], cfg["size"])
    if layout == "nhwc":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return model, x, dtype


def cd_update(model, optimiser, positives, dtype, chain_steps):
    """One contrastive-divergence update: a fresh chain, E+ and E-, Adam."""
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)
    x = torch.rand_like(positives)
    for _ in range(chain_steps):
        xv = x.detach().requires_grad_(True)
        with autocast:
            e = model(xv, None).float()
        (g,) = torch.autograd.grad(e.sum(), [xv])
        x = (xv.detach() - (STEP_SIZE / 2) * g.clamp(-0.01, 0.01) + NOISE_STD * torch.randn_like(x)).clamp(0, 1)
    with autocast:
        e_pos = model(positives, None).float()
        e_neg = model(x.detach(), None).float()
    loss = e_pos.mean() - e_neg.mean() + (e_pos.square().mean() + e_neg.square().mean())
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return x


def bench(name, precision, layout, mode, warmup, steps, chain_steps):
    cfg = CONFIGS[name]
    model, x, dtype = build(cfg, precision, layout, mode)
    code = None
    if mode == "dsm":
        model = Denoiser(cfg["channels"], cfg["size"])
        if layout == "nhwc":
            model = model.to(memory_format=torch.channels_last)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
        step = lambda x: dsm_update(model, optimiser, x, dtype)
    elif mode == "langevin":
        step = lambda x: langevin_step(model, x, code, dtype)
    else:
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
        positives = x.clone()
        step = lambda x: cd_update(model, optimiser, positives, dtype, chain_steps)
    label = f"[{mode} {name}/{precision}-{layout}]"
    print(f"{label} warmup {warmup} steps", file=sys.stderr, flush=True)
    for _ in range(warmup):
        x = step(x)
    start = time.perf_counter()
    for _ in range(steps):
        x = step(x)
    seconds = time.perf_counter() - start
    assert torch.isfinite(x).all(), "chain state became non-finite"
    if mode == "langevin":
        assert all(p.grad is None for p in model.parameters()), "weights accumulated gradients"
    return {
        "impl": "pytorch",
        "mode": mode,
        "config": name,
        "precision": precision,
        "layout": layout,
        "batch": cfg["batch"],
        "steps": steps,
        "seconds": round(seconds, 4),
        "steps_per_s": round(steps / seconds, 4),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", default="cifar,mnist")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--layouts", default="nchw,nhwc")
    p.add_argument("--mode", default="langevin", choices=["langevin", "train", "dsm"])
    p.add_argument("--chain-steps", type=int, default=20, help="Langevin steps per CD update (train)")
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
            for layout in args.layouts.split(","):
                if layout not in ("nchw", "nhwc"):
                    p.error(f"unknown layout {layout!r}; choose nchw or nhwc")
                result = bench(name, precision, layout, args.mode, args.warmup, args.steps, args.chain_steps)
                print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
