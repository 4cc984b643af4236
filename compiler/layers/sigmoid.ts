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
    { input: [2, 3, 3], text: "sigmoid" },
    { input: [3], text: "sigmoid" },
    { input: [5], text: "affine; sigmoid" },
  ],
};

/**
 * Kernels: one library call per row (runtime-wasm/assembly/ew.ts), which
 * forms σ(x), σ(−x) and log σ(x) + log σ(−x) = −|x| − 2·log1p(e^−|x|) from one
 * e = exp(−|x|), so nothing cancels or overflows, four lanes at a time in f32.
 */
function emitSigmoid(ctx: EmitCtx): LayerCode {
  const D = numel(ctx.inShape);
  const row = (p: string) => `(${p} + ((<usize>r * ${D}) << ${ctx.shift}))`;
  return {
    fwd: `for (let r = 0; r < n; r++) addf(ld, r, <F>ew_sigmoid_fwd(${row("x")}, ${row("y")}, ${D}));`,
    // x = log y − log(1 − y); the inverse log-det is −log y − log(1 − y).
    inv: `for (let r = 0; r < n; r++) addf(ld, r, <F>ew_sigmoid_inv(${row("y")}, ${row("x")}, ${D}));`,
    // dy/dx = σ(x)σ(−x); d(log-det)/dx = σ(−x) − σ(x).
    bwd: `ew_sigmoid_bwd(x, gy, gx, n * ${D}, gld);`,
    // dx/dy = 1/y + 1/(1 − y); d(inverse log-det)/dy = 1/(1 − y) − 1/y: logit's backward
    // with α = 0, β = 1, where p = y and q = 1 − y.
    bwdInv: `ew_logit_bwd(y, gx, gy, n * ${D}, <F>0, <F>1, gld);`,
  };
}
