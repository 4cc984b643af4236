/**
 * @fileoverview `logit alpha=0.05`: RealNVP's preprocessing for data in
 * [0, 1] (Dinh et al. 2016, §4.1): `y = logit(α + (1 − 2α)·x)`, mapping
 * [0, 1] into ℝ while keeping away from the infinities at 0 and 1; log-det
 * `Σ [log(1 − 2α) − log p − log(1 − p)]` with p = α + (1 − 2α)x. The inverse is
 * `(sigmoid(y) − α)/(1 − 2α)`. Data outside [0, 1] is a run-time error.
 */
import type { LayerKind } from "./types.ts";
import { analyticBoth, elementwise, perElement } from "./util.ts";

export const logit: LayerKind = {
  name: "logit",
  summary: "logit of data in [0, 1], squeezed by alpha",
  paper: "Dinh et al. 2016, RealNVP",
  options: {
    alpha: { type: "float", default: 0.05, min: 0, max: 0.5, exclusiveMax: true, doc: "keeps the logit away from 0 and 1" },
  },
  accepts: "any",
  shape: (input) => input,
  params: () => [],
  direction: analyticBoth,
  flops: (input) => perElement(input, 8),
  features: () => elementwise,
};
