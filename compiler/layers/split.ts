/**
 * @fileoverview `split prior=normal|learned`: the multi-scale factor-out of
 * RealNVP (Dinh et al. 2016, §3.6) and Glow (Kingma & Dhariwal 2018). The
 * flow keeps the first ⌈C/2⌉ channels of an image (⌈D/2⌉ features of a
 * vector); the rest leave the flow here as part of the latent and are scored
 * by a prior: `normal` = standard normal; `learned` = a diagonal normal whose
 * mean and log-std come from a zero-initialised conv 3×3 on the kept half
 * (a dense layer for vectors), as in Glow. Sampling draws the factored half
 * from the prior.
 *
 * Learned-prior parameters (images, PyTorch layout): `prior.weight`
 * [2·(C − k), k, 3, 3] and `prior.bias` [2·(C − k)], k = ⌈C/2⌉; output
 * channels [0, C − k) are the means, [C − k, 2(C − k)) the log-stds. For vectors
 * `prior.weight` [2·(D − k), k]. The learned prior does not see the context.
 */
import type { DirectionInfo, LayerKind, Shape } from "./types.ts";
import { isImage, showShape, spatial } from "./util.ts";

/** Channels (images) or features (vectors) kept by the flow. */
export const keptOf = (input: Shape): number => Math.ceil(input[0] / 2);

export const split: LayerKind = {
  name: "split",
  summary: "factor out half the channels into the latent (multi-scale)",
  paper: "Dinh et al. 2016, RealNVP; Kingma & Dhariwal 2018, Glow",
  options: {
    prior: { type: "enum", values: ["normal", "learned"], default: "normal", doc: "prior of the factored-out half: standard normal or learned from the kept half" },
  },
  accepts: "any",
  shape(input, _opts, ctx) {
    if (input[0] < 2) {
      if (isImage(input)) ctx.error("FLOW306", { what: "split", shape: showShape(input) });
      else ctx.error("FLOW305", { layer: "split", shape: showShape(input) });
      return null;
    }
    return isImage(input) ? [keptOf(input), input[1], input[2]] : [keptOf(input)];
  },
  params(input, opts) {
    if (opts.prior !== "learned") return [];
    const k = keptOf(input);
    const out = 2 * (input[0] - k);
    const weight = isImage(input) ? [out, k, 3, 3] : [out, k];
    return [
      { name: "prior.weight", shape: weight, init: { kind: "zeros" }, note: "zero-init: the prior starts standard normal" },
      { name: "prior.bias", shape: [out], init: { kind: "zeros" }, note: "zero-init" },
    ];
  },
  direction: (): DirectionInfo => ({
    forward: { kind: "analytic", cost: "parallel" },
    inverse: { kind: "analytic", cost: "parallel" },
    note: "sampling draws the factored half from the prior",
  }),
  flops(input, opts) {
    const k = keptOf(input);
    const gone = (input[0] - k) * spatial(input);
    const prior = opts.prior === "learned" ? (isImage(input) ? (2 * 9 * k + 1) * 2 * gone : (2 * k + 1) * 2 * gone) : 0;
    return { forward: prior + 4 * gone, inverse: prior + 3 * gone };
  },
  features(input) {
    const kept = keptOf(input) * spatial(input);
    return { map: Array.from({ length: kept }, (_, i) => i), coupled: "none" };
  },
};
