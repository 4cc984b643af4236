/**
 * @fileoverview `base normal`: the standard normal base distribution, or with
 * `learned` a diagonal normal with learned mean `loc` and log-std `log_scale`
 * (Glow's learned top prior, Kingma & Dhariwal 2018). Both start at zero, so
 * `normal learned` starts as the standard normal. Sampling at temperature τ
 * scales the standard deviation by τ.
 *
 * The kernels see rows of the final layer's output only; the module scores
 * the parts that `split` layers factored out (compiler/codegen/module.ts).
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
  emit(ctx, size) {
    const half = 0.5 * Math.log(2 * Math.PI);
    if (ctx.opts.params !== "learned") {
      return {
        logp: `for (let r = 0; r < n; r++) { const zr = z + ((<usize>r * ${size}) << ${ctx.shift}); stf(out, r, <F>(${-half * size} - 0.5 * ew_dot(zr, zr, ${size}))); }`,
        grad: `ew_axpb(z, gz, n * ${size}, -scale, <F>0);`,
        sample: `for (let k = 0; k < n * ${size}; k++) stf(z, k, temp * <F>rng_normal(ws));`,
      };
    }
    const loc = ctx.p("loc"), ls = ctx.p("log_scale"), gloc = ctx.g("loc"), gls = ctx.g("log_scale");
    const sig = ctx.slot("sigma", 0, size);
    // u = (z − loc)·exp(−log_scale); log p = Σ −u²/2 − log_scale − log(2π)/2.
    // Feature-outer loops compute each exp once per chunk; a chunk's rows of a
    // few neighbouring features stay in L1, so the strided walk costs little.
    return {
      logp: `let c: f64 = ${-half * size};
  for (let j = 0; j < ${size}; j++) c -= <f64>ldf(${ls}, j);
  for (let r = 0; r < n; r++) stf(out, r, <F>c);
  for (let j = 0; j < ${size}; j++) {
    const m = ldf(${loc}, j), w = exp_(-ldf(${ls}, j));
    for (let r = 0; r < n; r++) { const u = (ldf(z, r * ${size} + j) - m) * w; addf(out, r, <F>-0.5 * u * u); }
  }`,
      // ∂/∂z = −u·w, ∂/∂loc = u·w, ∂/∂log_scale = u² − 1.
      grad: `for (let j = 0; j < ${size}; j++) {
    const m = ldf(${loc}, j), w = exp_(-ldf(${ls}, j));
    let sm: f64 = 0, ss: f64 = 0;
    for (let r = 0; r < n; r++) {
      const k = r * ${size} + j;
      const u = (ldf(z, k) - m) * w;
      const g = u * w;
      stf(gz, k, -scale * g);
      sm += <f64>g;
      ss += <f64>(u * u) - 1.0;
    }
    addf(${gloc}, j, scale * <F>sm);
    addf(${gls}, j, scale * <F>ss);
  }`,
      sample: `for (let j = 0; j < ${size}; j++) stf(${sig}, j, temp * exp_(ldf(${ls}, j)));
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < ${size}; j++) stf(z, r * ${size} + j, ldf(${loc}, j) + ldf(${sig}, j) * <F>rng_normal(ws));
  }`,
    };
  },
};
