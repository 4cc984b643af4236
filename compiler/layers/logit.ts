/**
 * @fileoverview `logit alpha=0.05`: RealNVP's preprocessing for data in
 * [0, 1] (Dinh et al. 2016, §4.1): `y = logit(α + (1 − 2α)·x)`, mapping
 * [0, 1] into ℝ while keeping away from the infinities at 0 and 1; log-det
 * `Σ [log(1 − 2α) − log p − log(1 − p)]` with p = α + (1 − 2α)x. The inverse is
 * `(sigmoid(y) − α)/(1 − 2α)`. Data outside [0, 1] is a run-time error.
 */
import type { EmitCtx, LayerCode, LayerKind } from "./types.ts";
import { analyticBoth, elementwise, num, numel, perElement } from "./util.ts";

export const logit: LayerKind = {
  name: "logit",
  summary: "logit of data in [0, 1], squeezed by alpha",
  paper: "Dinh et al. 2016, RealNVP",
  options: {
    alpha: { type: "float", default: 0.05, min: 0, max: 0.5, exclusiveMax: true, doc: "keeps the logit away from 0 and 1" },
  },
  accepts: "any",
  anomaly: { whenHere: "`logit` maps 0 and 1 to ±infinity: its input must lie strictly inside (0, 1); use alpha > 0 (e.g. alpha=0.05), dequantize integer data first, or rescale the data" },
  shape: (input) => input,
  params: () => [],
  direction: analyticBoth,
  flops: (input) => perElement(input, 8),
  features: () => elementwise,
  domain(opts) {
    const alpha = num(opts, "alpha");
    // With α > 0 the ends map to logit(α) and logit(1 − α), both finite.
    const closed = alpha > 0;
    return {
      lo: 0,
      hi: 1,
      loClosed: closed,
      hiClosed: closed,
      describe: `values in ${closed ? "[0, 1]" : "(0, 1)"} (logit alpha=${alpha})`,
    };
  },
  emit: emitLogit,
  testCases: [
    { input: [1], text: "logit", domain: { lo: 0, hi: 1 } },
    { input: [2, 3, 3], text: "logit alpha=0.1", domain: { lo: 0, hi: 1 } },
    { input: [3], text: "logit alpha=0", domain: { lo: 0, hi: 1 } },
    { input: [5], text: "sigmoid; logit alpha=0" },
    { input: [4], text: "logit alpha=0.49", domain: { lo: 0, hi: 1 } },
  ],
};

/**
 * Kernels, with β = 1 − 2α, p = α + βx and q = 1 − p computed as α + β(1 − x)
 * (no cancellation near x = 1): y = log p − log q and log-det
 * log β − log p − log q. The inverse forms σ(y) and log σ(y) + log σ(−y) from
 * one exp(−|y|), as in sigmoid. Each row is one library call (ew.ts).
 */
function emitLogit(ctx: EmitCtx): LayerCode {
  const D = numel(ctx.inShape);
  const alpha = num(ctx.opts, "alpha"), beta = 1 - 2 * alpha;
  const A = ctx.lit(alpha), B = ctx.lit(beta), LB = ctx.lit(D * Math.log(beta));
  const row = (p: string) => `(${p} + ((<usize>r * ${D}) << ${ctx.shift}))`;
  return {
    fwd: `for (let r = 0; r < n; r++) addf(ld, r, <F>ew_logit_fwd(${row("x")}, ${row("y")}, ${D}, ${A}, ${B}) + ${LB});`,
    inv: `for (let r = 0; r < n; r++) addf(ld, r, <F>ew_logit_inv(${row("y")}, ${row("x")}, ${D}, ${A}, ${B}) - ${LB});`,
    // dy/dx = β(1/p + 1/q); d(log-det)/dx = β(1/q − 1/p).
    bwd: `ew_logit_bwd(x, gy, gx, n * ${D}, ${A}, ${B}, gld);`,
    // dx/dy = σ(y)σ(−y)/β; d(inverse log-det)/dy = σ(−y) − σ(y): sigmoid's backward run
    // with β·gld, then scaled by 1/β (gx is the caller's and is not ours to scale).
    bwdInv: beta === 1
      ? `ew_sigmoid_bwd(y, gx, gy, n * ${D}, gld);`
      : `ew_sigmoid_bwd(y, gx, gy, n * ${D}, gld * ${B});
  scale_inplace(gy, n * ${D}, ${1 / beta});`,
  };
}
