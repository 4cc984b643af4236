/**
 * @fileoverview `affine`: an elementwise learned affine map
 * `y = x · exp(logs) + bias` with one scale and shift per feature of the
 * event (both [D] or [C, H, W]); log-det `Σ logs`. Starts as the identity.
 * The diagonal special case of an affine flow (Papamakarios et al. 2021,
 * "Normalizing flows for probabilistic modeling and inference", §3.1).
 */
import type { LayerKind } from "./types.ts";
import { analyticBoth, elementwise, perElement } from "./util.ts";

export const affine: LayerKind = {
  name: "affine",
  summary: "elementwise learned scale and shift",
  paper: "Papamakarios et al. 2021 (elementwise affine flow)",
  options: {},
  accepts: "any",
  shape: (input) => input,
  params: (input) => [
    { name: "bias", shape: [...input], init: { kind: "zeros" } },
    { name: "logs", shape: [...input], init: { kind: "zeros" } },
  ],
  direction: analyticBoth,
  flops: (input) => perElement(input, 3),
  features: () => elementwise,
};
