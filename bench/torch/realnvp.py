"""PyTorch reference for flowc's benchmarks: the same RealNVP as
spec-examples/moons.flow (8 x [affine coupling, mask=half, MLP 64x2 relu,
scale=sigmoid (Glow: s = sigmoid(h + 2) + 1e-3); permute reverse], standard
normal base), trained the same way (Adam, batch 256). Prints one JSON line.

Run with Debian's interpreter: /usr/bin/python3 bench/torch/realnvp.py --mode train
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn


class Coupling(nn.Module):
    def __init__(self, d, hidden=64, depth=2):
        super().__init__()
        self.a = (d + 1) // 2
        self.b = d - self.a
        layers, width = [], self.a
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        last = nn.Linear(width, 2 * self.b)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def forward(self, x):
        xa, xb = x[:, : self.a], x[:, self.a :]
        h = self.net(xa)
        shift, pre = h[:, : self.b], h[:, self.b :]
        s = torch.sigmoid(pre + 2.0) + 1e-3
        return torch.cat([xa, xb * s + shift], 1), torch.log(s).sum(1)

    def inverse(self, y):
        ya, yb = y[:, : self.a], y[:, self.a :]
        h = self.net(ya)
        shift, pre = h[:, : self.b], h[:, self.b :]
        s = torch.sigmoid(pre + 2.0) + 1e-3
        return torch.cat([ya, (yb - shift) / s], 1)


class RealNVP(nn.Module):
    def __init__(self, d=2, k=8):
        super().__init__()
        self.d = d
        self.layers = nn.ModuleList(Coupling(d) for _ in range(k))

    def log_prob(self, x):
        ld = torch.zeros(x.shape[0])
        for c in self.layers:
            x, l = c(x)
            ld = ld + l
            x = x.flip(1)
        return -0.5 * (x * x).sum(1) - 0.5 * self.d * math.log(2 * math.pi) + ld

    @torch.no_grad()
    def sample(self, n):
        z = torch.randn(n, self.d)
        for c in reversed(self.layers):
            z = c.inverse(z.flip(1))
        return z


def moons(n, g):
    t = torch.rand(n, generator=g) * math.pi
    outer = torch.rand(n, generator=g) < 0.5
    x = torch.where(outer, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(outer, torch.sin(t), 1 - torch.sin(t) - 0.5)
    return torch.stack([x, y], 1) + 0.05 * torch.randn(n, 2, generator=g)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["train", "sample", "latency", "nll"], default="train")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--n", type=int, default=100_000)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = RealNVP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = moons(100_000, g)
    out = {"mode": a.mode, "threads": a.threads, "torch": torch.__version__}
    if a.mode in ("train", "nll"):
        steps = a.steps
        for s in range(10):  # warm-up
            loss = -model.log_prob(data[:a.batch]).mean()
            opt.zero_grad(); loss.backward(); opt.step()
        t0 = time.perf_counter()
        for s in range(steps):
            i = torch.randint(0, data.shape[0], (a.batch,), generator=g)
            loss = -model.log_prob(data[i]).mean()
            opt.zero_grad(); loss.backward(); opt.step()
        dt = time.perf_counter() - t0
        out.update(samples_per_s=steps * a.batch / dt, loss=float(loss))
        if a.mode == "nll":
            with torch.no_grad():
                out["test_nll"] = float(-model.log_prob(moons(20_000, torch.Generator().manual_seed(1))).mean())
                # E_q[log q]: how much of the model's mass sits off the data (mode covering).
                out["sample_logq"] = float(model.log_prob(model.sample(20_000)).mean())
    elif a.mode == "sample":
        model.sample(1000)
        t0 = time.perf_counter()
        model.sample(a.n)
        out.update(seconds=time.perf_counter() - t0, n=a.n)
    else:
        for _ in range(100):
            model.sample(1)
        reps = 2000
        t0 = time.perf_counter()
        for _ in range(reps):
            model.sample(1)
        out.update(us=(time.perf_counter() - t0) / reps * 1e6)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
