/**
 * @fileoverview `actnorm`: activation normalisation (Kingma & Dhariwal 2018,
 * Glow). `y = (x + bias) · exp(logs)` per channel of an image or per feature
 * of a vector; log-det `HW · Σ logs`. `bias` and `logs` are set from the first
 * batch (bias = −mean, logs = −log(std + ε)), so the output starts with zero
 * mean and unit variance per channel.
 */
import type { LayerKind } from "./types.ts";
import { analyticBoth, elementwise, featureDim, perElement } from "./util.ts";

export const actnorm: LayerKind = {
  name: "actnorm",
  summary: "per-channel scale and shift, initialised from the first batch",
  paper: "Kingma & Dhariwal 2018, Glow",
  options: {},
  accepts: "any",
  shape: (input) => input,
  params(input) {
    const n = featureDim(input);
    return [
      { name: "bias", shape: [n], init: { kind: "zeros" }, note: "data-dependent init: −mean of the first batch" },
      { name: "logs", shape: [n], init: { kind: "zeros" }, note: "data-dependent init: −log(std + ε) of the first batch" },
    ];
  },
  direction: analyticBoth,
  flops: (input) => perElement(input, 3),
  features: () => elementwise,
};
