/**
 * @fileoverview `leaky_relu slope=0.01`: the elementwise leaky ReLU
 * (Maas et al. 2013), invertible for slope > 0: `y = x` for x ≥ 0, `slope·x`
 * otherwise; log-det `Σ log slope` over the negative inputs. slope ≤ 0 is not
 * invertible and is rejected (FLOW402).
 */
import type { EmitCtx, LayerCode, LayerKind } from "./types.ts";
import { analyticBoth, elementwise, num, numel, perElement } from "./util.ts";

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
  emit: emitLeakyRelu,
  testCases: [
    { input: [1], text: "leaky_relu" },
    { input: [5], text: "leaky_relu slope=3; leaky_relu slope=0.5" },
    { input: [3], text: "leaky_relu slope=0.2" },
    { input: [2, 3, 3], text: "leaky_relu slope=0.1" },
    { input: [3, 2, 5], text: "leaky_relu slope=1" },
  ],
};

/**
 * Kernels. One SIMD pass per row returns how many inputs were negative; the
 * inverse is the same pass with 1/slope (the sign of y is the sign of x).
 */
function emitLeakyRelu(ctx: EmitCtx): LayerCode {
  const D = numel(ctx.inShape);
  const slope = num(ctx.opts, "slope");
  const k = ctx.lit(slope), kinv = ctx.lit(1 / slope), lk = ctx.lit(Math.log(slope));
  const row = (p: string) => `(${p} + ((<usize>r * ${D}) << ${ctx.shift}))`;
  return {
    fwd: `for (let r = 0; r < n; r++) addf(ld, r, <F>ew_leaky(${row("x")}, ${row("y")}, ${D}, ${k}) * ${lk});`,
    inv: `for (let r = 0; r < n; r++) addf(ld, r, -(<F>ew_leaky(${row("y")}, ${row("x")}, ${D}, ${kinv})) * ${lk});`,
    // The log-det is piecewise constant, so gld contributes nothing.
    bwd: `ew_leaky_bwd(x, gy, gx, n * ${D}, ${k});`,
    // ∂x/∂y = 1/slope where y < 0; the log-det is again piecewise constant.
    bwdInv: `ew_leaky_bwd(y, gx, gy, n * ${D}, ${kinv});`,
  };
}
