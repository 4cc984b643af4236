"""PyTorch reference for flowc's spline benchmark: nflows' coupling neural
spline flow (RQ-NSF (C), Durkan et al. 2019), re-implemented line for line
from nflows 0.14 (nflows is not installable offline): 8 x
[PiecewiseRationalQuadraticCouplingTransform (8 bins, tails='linear',
tail_bound=5, min_bin_width = min_bin_height = min_derivative = 1e-3),
ReversePermutation], the identity half = the first ceil(D/2) features (flowc's
mask=half), an MLP conditioner 64x2 with ReLU, standard normal base; Adam
lr 1e-3, batch 256, on FFJORD's checkerboard. The same architecture as
spec-examples/nsf-moons.flow. Prints one JSON line.

Run with Debian's interpreter: /usr/bin/python3 bench/torch/spline.py --mode train
"""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_MIN_BIN_WIDTH = 1e-3
DEFAULT_MIN_BIN_HEIGHT = 1e-3
DEFAULT_MIN_DERIVATIVE = 1e-3


def searchsorted(bin_locations, inputs, eps=1e-6):
    # nflows.utils.torchutils.searchsorted: the last edge nudged up so the right end falls in the last bin.
    bin_locations[..., -1] += eps
    return torch.sum(inputs[..., None] >= bin_locations, dim=-1) - 1


def rational_quadratic_spline(inputs, unnormalized_widths, unnormalized_heights, unnormalized_derivatives,
                              inverse=False, left=0.0, right=1.0, bottom=0.0, top=1.0,
                              min_bin_width=DEFAULT_MIN_BIN_WIDTH, min_bin_height=DEFAULT_MIN_BIN_HEIGHT,
                              min_derivative=DEFAULT_MIN_DERIVATIVE):
    if torch.min(inputs) < left or torch.max(inputs) > right:
        raise ValueError("input outside the spline's domain")
    num_bins = unnormalized_widths.shape[-1]

    widths = F.softmax(unnormalized_widths, dim=-1)
    widths = min_bin_width + (1 - min_bin_width * num_bins) * widths
    cumwidths = torch.cumsum(widths, dim=-1)
    cumwidths = F.pad(cumwidths, pad=(1, 0), mode="constant", value=0.0)
    cumwidths = (right - left) * cumwidths + left
    cumwidths[..., 0] = left
    cumwidths[..., -1] = right
    widths = cumwidths[..., 1:] - cumwidths[..., :-1]

    derivatives = min_derivative + F.softplus(unnormalized_derivatives)

    heights = F.softmax(unnormalized_heights, dim=-1)
    heights = min_bin_height + (1 - min_bin_height * num_bins) * heights
    cumheights = torch.cumsum(heights, dim=-1)
    cumheights = F.pad(cumheights, pad=(1, 0), mode="constant", value=0.0)
    cumheights = (top - bottom) * cumheights + bottom
    cumheights[..., 0] = bottom
    cumheights[..., -1] = top
    heights = cumheights[..., 1:] - cumheights[..., :-1]

    if inverse:
        bin_idx = searchsorted(cumheights, inputs)[..., None]
    else:
        bin_idx = searchsorted(cumwidths, inputs)[..., None]

    input_cumwidths = cumwidths.gather(-1, bin_idx)[..., 0]
    input_bin_widths = widths.gather(-1, bin_idx)[..., 0]
    input_cumheights = cumheights.gather(-1, bin_idx)[..., 0]
    delta = heights / widths
    input_delta = delta.gather(-1, bin_idx)[..., 0]
    input_derivatives = derivatives.gather(-1, bin_idx)[..., 0]
    input_derivatives_plus_one = derivatives[..., 1:].gather(-1, bin_idx)[..., 0]
    input_heights = heights.gather(-1, bin_idx)[..., 0]

    if inverse:
        a = (inputs - input_cumheights) * (input_derivatives + input_derivatives_plus_one - 2 * input_delta) \
            + input_heights * (input_delta - input_derivatives)
        b = input_heights * input_derivatives - (inputs - input_cumheights) * (
            input_derivatives + input_derivatives_plus_one - 2 * input_delta)
        c = -input_delta * (inputs - input_cumheights)
        discriminant = b.pow(2) - 4 * a * c
        root = (2 * c) / (-b - torch.sqrt(discriminant))
        outputs = root * input_bin_widths + input_cumwidths
        theta_one_minus_theta = root * (1 - root)
        denominator = input_delta + ((input_derivatives + input_derivatives_plus_one - 2 * input_delta) * theta_one_minus_theta)
        derivative_numerator = input_delta.pow(2) * (input_derivatives_plus_one * root.pow(2)
                                                     + 2 * input_delta * theta_one_minus_theta
                                                     + input_derivatives * (1 - root).pow(2))
        logabsdet = torch.log(derivative_numerator) - 2 * torch.log(denominator)
        return outputs, -logabsdet

    theta = (inputs - input_cumwidths) / input_bin_widths
    theta_one_minus_theta = theta * (1 - theta)
    numerator = input_heights * (input_delta * theta.pow(2) + input_derivatives * theta_one_minus_theta)
    denominator = input_delta + ((input_derivatives + input_derivatives_plus_one - 2 * input_delta) * theta_one_minus_theta)
    outputs = input_cumheights + numerator / denominator
    derivative_numerator = input_delta.pow(2) * (input_derivatives_plus_one * theta.pow(2)
                                                 + 2 * input_delta * theta_one_minus_theta
                                                 + input_derivatives * (1 - theta).pow(2))
    logabsdet = torch.log(derivative_numerator) - 2 * torch.log(denominator)
    return outputs, logabsdet


def unconstrained_rational_quadratic_spline(inputs, unnormalized_widths, unnormalized_heights, unnormalized_derivatives,
                                            inverse=False, tails="linear", tail_bound=1.0,
                                            min_bin_width=DEFAULT_MIN_BIN_WIDTH, min_bin_height=DEFAULT_MIN_BIN_HEIGHT,
                                            min_derivative=DEFAULT_MIN_DERIVATIVE):
    inside_interval_mask = (inputs >= -tail_bound) & (inputs <= tail_bound)
    outside_interval_mask = ~inside_interval_mask
    outputs = torch.zeros_like(inputs)
    logabsdet = torch.zeros_like(inputs)
    assert tails == "linear"
    unnormalized_derivatives = F.pad(unnormalized_derivatives, pad=(1, 1))
    constant = np.log(np.exp(1 - min_derivative) - 1)
    unnormalized_derivatives[..., 0] = constant
    unnormalized_derivatives[..., -1] = constant
    outputs[outside_interval_mask] = inputs[outside_interval_mask]
    logabsdet[outside_interval_mask] = 0
    if inside_interval_mask.any():
        outputs[inside_interval_mask], logabsdet[inside_interval_mask] = rational_quadratic_spline(
            inputs=inputs[inside_interval_mask],
            unnormalized_widths=unnormalized_widths[inside_interval_mask, :],
            unnormalized_heights=unnormalized_heights[inside_interval_mask, :],
            unnormalized_derivatives=unnormalized_derivatives[inside_interval_mask, :],
            inverse=inverse, left=-tail_bound, right=tail_bound, bottom=-tail_bound, top=tail_bound,
            min_bin_width=min_bin_width, min_bin_height=min_bin_height, min_derivative=min_derivative)
    return outputs, logabsdet


class MLP(nn.Module):
    """nflows.nn.nets.MLP: dense layers with ReLU, no activation on the output. It has no
    `hidden_features` attribute, so the coupling does not rescale the widths and heights."""

    def __init__(self, in_features, out_features, hidden=64, depth=2):
        super().__init__()
        layers, width = [], in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, out_features))

    def forward(self, x, context=None):
        return self.net(x)


class PiecewiseRationalQuadraticCouplingTransform(nn.Module):
    """nflows.transforms.coupling.PiecewiseRationalQuadraticCouplingTransform with
    tails='linear' (CouplingTransform.forward + PiecewiseCouplingTransform._coupling_transform)."""

    def __init__(self, mask, transform_net_create_fn, num_bins=8, tails="linear", tail_bound=5.0):
        super().__init__()
        mask = torch.as_tensor(mask)
        features = torch.arange(len(mask))
        self.register_buffer("identity_features", features.masked_select(mask <= 0))
        self.register_buffer("transform_features", features.masked_select(mask > 0))
        self.num_bins, self.tails, self.tail_bound = num_bins, tails, tail_bound
        # 3K − 1 values per transformed feature: K widths, K heights, K − 1 interior derivatives.
        self.transform_net = transform_net_create_fn(len(self.identity_features), len(self.transform_features) * (3 * num_bins - 1))

    def _piecewise_cdf(self, inputs, transform_params, inverse=False):
        K = self.num_bins
        unnormalized_widths = transform_params[..., :K]
        unnormalized_heights = transform_params[..., K:2 * K]
        unnormalized_derivatives = transform_params[..., 2 * K:]
        if hasattr(self.transform_net, "hidden_features"):
            unnormalized_widths /= np.sqrt(self.transform_net.hidden_features)
            unnormalized_heights /= np.sqrt(self.transform_net.hidden_features)
        return unconstrained_rational_quadratic_spline(inputs, unnormalized_widths, unnormalized_heights,
                                                       unnormalized_derivatives, inverse=inverse,
                                                       tails=self.tails, tail_bound=self.tail_bound)

    def _coupling_transform(self, inputs, transform_params, inverse):
        b, d = inputs.shape
        transform_params = transform_params.reshape(b, d, -1)
        outputs, logabsdet = self._piecewise_cdf(inputs, transform_params, inverse)
        return outputs, logabsdet.reshape(b, -1).sum(-1)

    def forward(self, inputs, context=None):
        identity_split = inputs[:, self.identity_features, ...]
        transform_split = inputs[:, self.transform_features, ...]
        transform_params = self.transform_net(identity_split, context)
        transform_split, logabsdet = self._coupling_transform(transform_split, transform_params, inverse=False)
        outputs = torch.empty_like(inputs)
        outputs[:, self.identity_features, ...] = identity_split
        outputs[:, self.transform_features, ...] = transform_split
        return outputs, logabsdet

    def inverse(self, inputs, context=None):
        identity_split = inputs[:, self.identity_features, ...]
        transform_split = inputs[:, self.transform_features, ...]
        transform_params = self.transform_net(identity_split, context)
        transform_split, logabsdet = self._coupling_transform(transform_split, transform_params, inverse=True)
        outputs = torch.empty_like(inputs)
        outputs[:, self.identity_features] = identity_split
        outputs[:, self.transform_features] = transform_split
        return outputs, logabsdet


class ReversePermutation(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.register_buffer("_permutation", torch.arange(features - 1, -1, -1))

    def forward(self, inputs, context=None):
        return inputs[:, self._permutation], inputs.new_zeros(inputs.shape[0])


class Flow(nn.Module):
    """nflows.flows.Flow with a CompositeTransform and a StandardNormal base."""

    def __init__(self, d=2, k=8, bins=8, tail_bound=5.0, hidden=64, depth=2):
        super().__init__()
        self.d = d
        a = (d + 1) // 2  # flowc's mask=half: the first ceil(D/2) features condition the rest
        mask = [-1] * a + [1] * (d - a)
        layers = []
        for _ in range(k):
            layers.append(PiecewiseRationalQuadraticCouplingTransform(
                mask, lambda i, o: MLP(i, o, hidden, depth), num_bins=bins, tails="linear", tail_bound=tail_bound))
            layers.append(ReversePermutation(d))
        self.transforms = nn.ModuleList(layers)
        self._log_z = 0.5 * d * math.log(2 * math.pi)

    def log_prob(self, x):
        total = x.new_zeros(x.shape[0])
        for t in self.transforms:
            x, ld = t(x)
            total = total + ld
        return -0.5 * (x * x).sum(1) - self._log_z + total


def checkerboard(n, g):
    # FFJORD's checkerboard, as runtime-wasm/host/toys.ts.
    x1 = torch.rand(n, generator=g) * 4 - 2
    x2 = torch.rand(n, generator=g) - torch.randint(0, 2, (n,), generator=g).float() * 2
    x2 = x2 + (torch.floor(x1) % 2)
    return torch.stack([x1, x2], 1) * 2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["train", "nll"], default="train")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=256)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = Flow()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = checkerboard(100_000, g)
    out = {"mode": a.mode, "threads": a.threads, "torch": torch.__version__}
    for _ in range(10):  # warm-up
        loss = -model.log_prob(data[:a.batch]).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        i = torch.randint(0, data.shape[0], (a.batch,), generator=g)
        loss = -model.log_prob(data[i]).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    dt = time.perf_counter() - t0
    out.update(samples_per_s=a.steps * a.batch / dt, loss=float(loss))
    if a.mode == "nll":
        with torch.no_grad():
            out["test_nll"] = float(-model.log_prob(checkerboard(20_000, torch.Generator().manual_seed(1))).mean())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
