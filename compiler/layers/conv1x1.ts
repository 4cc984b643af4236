/**
 * @fileoverview `conv1x1 lu` | `conv1x1 plain`: Glow's invertible 1×1
 * convolution (Kingma & Dhariwal 2018): the same C×C matrix W mixes the
 * channels of every pixel; log-det `HW · log|det W|`. `lu` stores W as
 * P L (U + diag(sign·exp(logs))) (params `P`, `L`, `U`, `sign`, `logs`, as in
 * `linear lu`); `plain` stores `weight` [C, C, 1, 1] (PyTorch conv layout)
 * and computes log|det W| and W⁻¹ in f64 once per batch. Both start as a
 * random rotation.
 */
import type { LayerKind } from "./types.ts";
import { analyticBoth, spatial } from "./util.ts";
import { luParams } from "./linear.ts";

export const conv1x1: LayerKind = {
  name: "conv1x1",
  summary: "invertible 1×1 convolution mixing channels",
  paper: "Kingma & Dhariwal 2018, Glow",
  variants: [{ name: "parametrization", values: ["lu", "plain"], default: "lu", doc: "`lu`: PLU-parameterised weight; `plain`: a full weight" }],
  options: {},
  accepts: "image",
  shape: (input) => input,
  params(input, opts) {
    const c = input[0];
    if (opts.parametrization === "plain") return [{ name: "weight", shape: [c, c, 1, 1], init: { kind: "rotation", n: c } }];
    return luParams(c);
  },
  direction: analyticBoth,
  flops(input) {
    const c = input[0];
    const per = 2 * c * c * spatial(input);
    return { forward: per, inverse: per };
  },
  features: (input) => ({ coupled: input[0] >= 2 ? "all" : "none" }),
};
