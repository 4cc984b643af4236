/**
 * @fileoverview `base normal`: the standard normal base distribution, or with
 * `learned` a diagonal normal with learned mean `loc` and log-std `log_scale`
 * (Glow's learned top prior, Kingma & Dhariwal 2018). Both start at zero, so
 * `normal learned` starts as the standard normal. Sampling at temperature τ
 * scales the standard deviation by τ.
 */
import type { BaseKind } from "../types.ts";

export const normal: BaseKind = {
  name: "normal",
  summary: "standard normal, or a diagonal normal with learned mean and log-std",
  variants: [{ name: "params", values: ["standard", "learned"], default: "standard", doc: "`learned`: train a mean and log-std per latent feature" }],
  options: {},
  params(latent, opts) {
    if (opts.params !== "learned") return [];
    return [
      { name: "loc", shape: [...latent], init: { kind: "zeros" } },
      { name: "log_scale", shape: [...latent], init: { kind: "zeros" } },
    ];
  },
};
