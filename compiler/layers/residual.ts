/**
 * @fileoverview `residual hidden= lipschitz= terms= iterations=`: an
 * invertible residual block (i-ResNet, Behrmann et al. 2019). Forward (data →
 * latent) is explicit, `y = x + g(x)`, where g is a 3-layer dense net
 * D → hidden → hidden → D (ELU) whose weights are spectrally normalised to
 * Lipschitz constant `lipschitz` < 1; log|det(I + J_g)| is estimated by the
 * power series Σ_{k=1..terms} (−1)^{k+1} tr(J_g^k)/k with a Hutchinson
 * trace estimator. The inverse is the fixed point x = y − g(x), run for
 * `iterations` steps (error ≤ lipschitz^iterations).
 *
 * Parameters: `net.0.weight` [hidden, D], `net.1.weight` [hidden, hidden],
 * `net.2.weight` [D, hidden] with biases (the last layer zero-initialised, so
 * the block starts as the identity), and per layer the power-iteration
 * vector of the spectral norm `net.<i>.weight_u` [out] (a buffer, as PyTorch's
 * spectral_norm).
 */
import type { DirectionInfo, LayerKind, ParamDecl } from "./types.ts";
import { denseFlops, denseParams, mixing, num } from "./util.ts";

export const residual: LayerKind = {
  name: "residual",
  summary: "invertible residual block (i-ResNet); inverse by fixed-point iteration",
  paper: "Behrmann et al. 2019, i-ResNet",
  options: {
    hidden: { type: "int", default: 64, min: 1, max: 65536, doc: "width of g's hidden layers" },
    lipschitz: { type: "float", default: 0.9, min: 0, max: 1, exclusiveMin: true, exclusiveMax: true, doc: "Lipschitz bound of g; must be < 1 for invertibility" },
    terms: { type: "int", default: 5, min: 1, max: 100, doc: "power-series terms of the log-det estimate" },
    iterations: { type: "int", default: 100, min: 1, max: 10000, doc: "fixed-point iterations of the inverse" },
  },
  accepts: "vector",
  shape: (input) => input,
  params(input, opts) {
    const d = input[0];
    const h = num(opts, "hidden");
    const layers: [number, number, boolean][] = [[d, h, false], [h, h, false], [h, d, true]];
    const ps: ParamDecl[] = [];
    layers.forEach(([i, o, zero], k) => {
      ps.push(...denseParams(`net.${k}`, i, o, zero));
      ps.push({ name: `net.${k}.weight_u`, shape: [o], init: { kind: "normal", std: 1 }, trainable: false, note: "spectral-norm power iteration state" });
    });
    return ps;
  },
  direction: (_input, opts): DirectionInfo => ({
    forward: { kind: "analytic", cost: "parallel" },
    inverse: { kind: "iterative", cost: "sequential", passes: num(opts, "iterations") },
    note: "log-det by a power-series estimate",
  }),
  flops(input, opts) {
    const d = input[0];
    const h = num(opts, "hidden");
    const g = denseFlops(d, h) + denseFlops(h, h) + denseFlops(h, d) + 2 * h;
    // Each series term is one vector-Jacobian product (about two evaluations of g).
    const logdet = 2 * g * num(opts, "terms");
    return { forward: g + d + logdet, inverse: num(opts, "iterations") * (g + d) + logdet };
  },
  features: (input) => mixing(input),
};
