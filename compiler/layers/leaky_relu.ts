/**
 * @fileoverview `leaky_relu slope=0.01`: the elementwise leaky ReLU
 * (Maas et al. 2013), invertible for slope > 0: `y = x` for x ≥ 0, `slope·x`
 * otherwise; log-det `Σ log slope` over the negative inputs. slope ≤ 0 is not
 * invertible and is rejected (FLOW402).
 */
import type { LayerKind } from "./types.ts";
import { analyticBoth, elementwise, num, perElement } from "./util.ts";

export const leaky_relu: LayerKind = {
  name: "leaky_relu",
  summary: "elementwise leaky ReLU, invertible for slope > 0",
  paper: "Maas et al. 2013",
  options: {
    slope: { type: "float", default: 0.01, doc: "slope for negative inputs; must be > 0 to be invertible" },
  },
  accepts: "any",
  validate(opts, ctx) {
    const slope = num(opts, "slope");
    if (!(slope > 0)) ctx.error("FLOW402", { slope }, ctx.spanOf("slope"));
  },
  shape: (input) => input,
  params: () => [],
  direction: analyticBoth,
  flops: (input) => perElement(input, 2),
  features: () => elementwise,
};
