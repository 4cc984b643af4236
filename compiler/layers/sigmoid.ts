/**
 * @fileoverview `sigmoid`: the elementwise logistic sigmoid `y = 1/(1+e^−x)`,
 * mapping ℝ to (0, 1); log-det `Σ log σ(x)(1 − σ(x))`; the inverse is the
 * logit. Used to squash a flow's output into the unit interval (the
 * counterpart of `logit`, RealNVP's preprocessing, Dinh et al. 2016).
 */
import type { EmitCtx, LayerCode, LayerKind } from "./types.ts";
import { analyticBoth, elementwise, numel, perElement } from "./util.ts";

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
  emit: emitSigmoid,
  testCases: [
    { input: [1], text: "sigmoid" },
    { input: [3], text: "sigmoid" },
    { input: [2, 3, 3], text: "sigmoid" },
    { input: [5], text: "affine; sigmoid" },
  ],
};

/**
 * Kernels. With e = exp(−|x|), σ(x) and σ(−x) are 1/(1+e) and e/(1+e) in
 * some order, so neither 1 − y nor the log-det
 * log σ(x) + log σ(−x) = −|x| − 2·log1p(e) ever cancels or overflows.
 */
function emitSigmoid(ctx: EmitCtx): LayerCode {
  const D = numel(ctx.inShape);
  return {
    fwd: `for (let r = 0; r < n; r++) {
    let s: F = 0;
    for (let j = 0; j < ${D}; j++) {
      const k = r * ${D} + j;
      const v = ldf(x, k);
      const a = abs_(v);
      const e = exp_(-a);
      const q = <F>1 / (<F>1 + e);
      stf(y, k, v >= 0 ? q : e * q);
      s -= a + <F>2 * log1p_(e);
    }
    addf(ld, r, s);
  }`,
    // x = log y − log(1 − y); the inverse log-det is −log y − log(1 − y).
    inv: `for (let r = 0; r < n; r++) {
    let s: F = 0;
    for (let j = 0; j < ${D}; j++) {
      const k = r * ${D} + j;
      const u = ldf(y, k);
      const l0 = log_(u), l1 = log1p_(-u);
      stf(x, k, l0 - l1);
      s -= l0 + l1;
    }
    addf(ld, r, s);
  }`,
    // dy/dx = σ(x)σ(−x); d(log-det)/dx = σ(−x) − σ(x).
    bwd: `for (let k = 0; k < n * ${D}; k++) {
    const v = ldf(x, k);
    const e = exp_(-abs_(v));
    const q = <F>1 / (<F>1 + e);
    const s = v >= 0 ? q : e * q;
    const t = v >= 0 ? e * q : q;
    stf(gx, k, ldf(gy, k) * s * t + gld * (t - s));
  }`,
  };
}
