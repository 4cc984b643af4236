/**
 * @fileoverview `sigmoid`: the elementwise logistic sigmoid `y = 1/(1+e^−x)`,
 * mapping ℝ to (0, 1); log-det `Σ log σ(x)(1 − σ(x))`; the inverse is the
 * logit. Used to squash a flow's output into the unit interval (the
 * counterpart of `logit`, RealNVP's preprocessing, Dinh et al. 2016).
 */
import type { LayerKind } from "./types.ts";
import { analyticBoth, elementwise, perElement } from "./util.ts";

export const sigmoid: LayerKind = {
  name: "sigmoid",
  summary: "elementwise sigmoid, ℝ → (0, 1)",
  paper: "Dinh et al. 2016, RealNVP (logit preprocessing, read backwards)",
  options: {},
  accepts: "any",
  shape: (input) => input,
  params: () => [],
  direction: analyticBoth,
  flops: (input) => perElement(input, 6),
  features: () => elementwise,
};
