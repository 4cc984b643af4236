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
    { input: [3], text: "logit alpha=0", domain: { lo: 0, hi: 1 } },
    { input: [2, 3, 3], text: "logit alpha=0.1", domain: { lo: 0, hi: 1 } },
    { input: [5], text: "sigmoid; logit alpha=0" },
    { input: [4], text: "logit alpha=0.49", domain: { lo: 0, hi: 1 } },
  ],
};

/**
 * Kernels, with β = 1 − 2α, p = α + βx and q = 1 − p computed as α + β(1 − x)
 * (no cancellation near x = 1): y = log p − log q and log-det
 * log β − log p − log q. The inverse forms σ(y) and σ(−y) from one
 * exp(−|y|), as in sigmoid.
 */
function emitLogit(ctx: EmitCtx): LayerCode {
  const D = numel(ctx.inShape);
  const alpha = num(ctx.opts, "alpha"), beta = 1 - 2 * alpha;
  const A = ctx.lit(alpha), B = ctx.lit(beta), LB = ctx.lit(Math.log(beta));
  return {
    fwd: `for (let r = 0; r < n; r++) {
    let s: F = 0;
    for (let j = 0; j < ${D}; j++) {
      const k = r * ${D} + j;
      const v = ldf(x, k);
      const lp = log_(${A} + ${B} * v), lq = log_(${A} + ${B} * (<F>1 - v));
      stf(y, k, lp - lq);
      s += ${LB} - lp - lq;
    }
    addf(ld, r, s);
  }`,
    inv: `for (let r = 0; r < n; r++) {
    let s: F = 0;
    for (let j = 0; j < ${D}; j++) {
      const k = r * ${D} + j;
      const u = ldf(y, k);
      const a = abs_(u);
      const e = exp_(-a);
      const q = <F>1 / (<F>1 + e);
      stf(x, k, ((u >= 0 ? q : e * q) - ${A}) / ${B});
      s -= a + <F>2 * log1p_(e) + ${LB};
    }
    addf(ld, r, s);
  }`,
    // dy/dx = β(1/p + 1/q); d(log-det)/dx = β(1/q − 1/p).
    bwd: `for (let k = 0; k < n * ${D}; k++) {
    const v = ldf(x, k);
    const ip = <F>1 / (${A} + ${B} * v), iq = <F>1 / (${A} + ${B} * (<F>1 - v));
    stf(gx, k, ${B} * (ldf(gy, k) * (ip + iq) + gld * (iq - ip)));
  }`,
  };
}
