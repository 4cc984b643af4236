/**
 * @fileoverview `planar`: the planar flow of Rezende & Mohamed 2015
 * ("Variational inference with normalizing flows"), defined in the generative
 * direction: the layer's inverse (latent → data) is
 * `x = z + û · tanh(wᵀz + b)` with log|det| `log|1 + ûᵀψ(z)|`,
 * ψ(z) = (1 − tanh²(wᵀz + b)) w, and û = u + (m(wᵀu) − wᵀu) w/‖w‖²,
 * m(a) = −1 + softplus(a), which keeps the map invertible (their appendix A).
 * The data → latent direction has no closed form, so `logProb` of arbitrary
 * data is unavailable; `sampleAndLogProb` and reverse-KL training work.
 * Parameters: `u` [D], `w` [D], `b` [1].
 */
import type { DirectionInfo, LayerKind } from "./types.ts";
import { mixing } from "./util.ts";

export const planar: LayerKind = {
  name: "planar",
  summary: "planar flow (generative direction only)",
  paper: "Rezende & Mohamed 2015",
  options: {},
  accepts: "vector",
  shape: (input) => input,
  params: (input) => [
    { name: "u", shape: [input[0]], init: { kind: "normal", std: 0.01 } },
    { name: "w", shape: [input[0]], init: { kind: "normal", std: 0.01 } },
    { name: "b", shape: [1], init: { kind: "zeros" } },
  ],
  direction: (): DirectionInfo => ({
    forward: { kind: "none", cost: "parallel" },
    inverse: { kind: "analytic", cost: "parallel" },
    note: "defined latent → data; no closed-form inverse for scoring data",
  }),
  // Inverse: two dot products, an axpy, the tanh and the log-det term.
  flops: (input) => ({ forward: 0, inverse: 6 * input[0] + 10 }),
  features: (input) => mixing(input),
};
