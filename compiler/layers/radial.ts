/**
 * @fileoverview `radial`: the radial flow of Rezende & Mohamed 2015, defined
 * in the generative direction: the layer's inverse (latent → data) is
 * `x = z + β h(α, r)(z − x0)`, r = ‖z − x0‖, h = 1/(α + r), with α = softplus(α̂)
 * and β = −α + softplus(β̂), which keeps the map invertible (their appendix
 * A); log|det| `(D − 1) log(1 + βh) + log(1 + βh + β h′ r)`. The data →
 * latent direction has no closed form here, so `logProb` of arbitrary data is
 * unavailable. Parameters: `x0` [D], `alpha` [1] (α̂), `beta` [1] (β̂).
 */
import type { DirectionInfo, LayerKind } from "./types.ts";
import { mixing } from "./util.ts";

export const radial: LayerKind = {
  name: "radial",
  summary: "radial flow (generative direction only)",
  paper: "Rezende & Mohamed 2015",
  options: {},
  accepts: "vector",
  shape: (input) => input,
  params: (input) => [
    { name: "x0", shape: [input[0]], init: { kind: "normal", std: 0.01 } },
    { name: "alpha", shape: [1], init: { kind: "zeros" } },
    { name: "beta", shape: [1], init: { kind: "zeros" } },
  ],
  direction: (): DirectionInfo => ({
    forward: { kind: "none", cost: "parallel" },
    inverse: { kind: "analytic", cost: "parallel" },
    note: "defined latent → data; no closed-form inverse for scoring data",
  }),
  flops: (input) => ({ forward: 0, inverse: 6 * input[0] + 12 }),
  features: (input) => mixing(input),
};
