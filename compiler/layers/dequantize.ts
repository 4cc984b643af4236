/**
 * @fileoverview `dequantize uniform bits=8` | `levels=L`: uniform
 * dequantisation of integer data in [0, L) (Theis et al. 2016; as in RealNVP
 * and Glow): `y = (x + u) / L`, `u ~ U[0, 1)`, so y lies in [0, 1); log-det
 * `−D · log L`, which makes the flow's density that of the integer data and
 * bits/dim comparable with published figures. The inverse is
 * `floor(y · L)` clamped to [0, L). Give `bits=` (L = 2^bits) or `levels=`,
 * not both; the default is 8 bits. Resolved options hold `levels` only.
 *
 * Kernels: u comes from the workspace RNG (`rng_uniform`), drawn from
 * [δ, 1 − δ] rather than [0, 1) with δ a few rounding errors of y·L (2⁻¹⁰
 * in f32, ~10⁻¹¹ in f64): then floor(y·L) recovers x exactly although y is
 * rounded, while the density is unchanged (the log-det does not depend on u)
 * and the noise differs from U[0, 1) by 0.2% of its range at most in f32.
 */
import type { EmitCtx, LayerCode, LayerKind } from "./types.ts";
import { analyticBoth, elementwise, num, numel, perElement, without } from "./util.ts";

export const dequantize: LayerKind = {
  name: "dequantize",
  summary: "uniform dequantisation of integer data to [0, 1)",
  paper: "Theis et al. 2016; Dinh et al. 2016, RealNVP; Kingma & Dhariwal 2018, Glow",
  variants: [{ name: "noise", values: ["uniform"], default: "uniform", doc: "the dequantisation noise" }],
  options: {
    bits: { type: "int", min: 1, max: 16, doc: "bits per value: levels = 2^bits (default 8)" },
    levels: { type: "int", min: 2, max: 65536, doc: "number of integer levels of the data, e.g. 17 for sklearn digits" },
  },
  accepts: "any",
  validate(opts, ctx) {
    if (ctx.written?.("bits") && ctx.written?.("levels")) {
      ctx.error("FLOW215", { a: "bits=", b: "levels=", owner: "dequantize", fix: `keep levels=${opts.levels as number}, or bits=${opts.bits as number}` }, ctx.spanOf("levels"));
    }
  },
  resolve(opts) {
    const levels = typeof opts.levels === "number" ? opts.levels : 2 ** (typeof opts.bits === "number" ? opts.bits : 8);
    return { ...without(opts, ["bits"]), levels };
  },
  shape: (input) => input,
  params: () => [],
  direction: analyticBoth,
  flops: (input) => perElement(input, 3),
  features: () => elementwise,
  domain(opts) {
    const L = num(opts, "levels");
    return { lo: 0, hi: L, loClosed: true, hiClosed: false, integer: true, describe: `integers in [0, ${L}) (dequantize levels=${L})` };
  },
  emit: emitDequantize,
  testCases: [
    { input: [5], text: "dequantize bits=3", domain: { lo: 0, hi: 8, integer: true } },
    { input: [2, 3, 3], text: "dequantize levels=17", domain: { lo: 0, hi: 17, integer: true } },
    { input: [1, 2, 5], text: "dequantize", domain: { lo: 0, hi: 256, integer: true } },
    { input: [3], text: "dequantize levels=2", domain: { lo: 0, hi: 2, integer: true } },
    { input: [3, 2, 2], text: "dequantize bits=16", domain: { lo: 0, hi: 65536, integer: true } },
  ],
};

function emitDequantize(ctx: EmitCtx): LayerCode {
  const L = num(ctx.opts, "levels");
  const D = numel(ctx.inShape);
  const delta = ctx.precision === "f32" ? Math.min(0.25, Math.max(2 ** -10, L * 2 ** -20)) : L * 2 ** -45;
  const ldv = ctx.lit(-D * Math.log(L));
  return {
    fwd: `for (let k = 0; k < n * ${D}; k++) stf(y, k, (ldf(x, k) + <F>(${delta} + ${1 - 2 * delta} * rng_uniform(ws))) / ${ctx.lit(L)});
  for (let r = 0; r < n; r++) addf(ld, r, ${ldv});`,
    inv: `for (let k = 0; k < n * ${D}; k++) stf(x, k, min_(max_(floor_(ldf(y, k) * ${ctx.lit(L)}), ${ctx.lit(0)}), ${ctx.lit(L - 1)}));
  for (let r = 0; r < n; r++) addf(ld, r, -${ldv});`,
    bwd: `ew_axpb(gy, gx, n * ${D}, ${ctx.lit(1 / L)}, ${ctx.lit(0)});`,
  };
}
