/**
 * @fileoverview `base normal`: the standard normal base distribution, or with
 * `learned` a diagonal normal with learned mean `loc` and log-std `log_scale`
 * (Glow's learned top prior, Kingma & Dhariwal 2018). Both start at zero, so
 * `normal learned` starts as the standard normal. Sampling at temperature τ
 * scales the standard deviation by τ.
 *
 * The base owns the last part of each latent row, the output of the final
 * layer (`numel(finalShape)` features at the end of the row); parts that
 * `split` layers factored out earlier are scored by those layers. So log p
 * covers only the final part, the gradient is zero on the other parts, and
 * sampling fills the other parts with τ·N(0, 1) draws (see `latentParts`).
 */
import type { BaseKind, EmitCtx } from "../types.ts";
import { numel } from "../util.ts";

/** The final part's size and offset in a latent row of `size`, and code that handles the
 *  factored-out parts [0, off) of row r: zero their gradient, draw τ·N(0, 1) for them. */
export function latentParts(ctx: EmitCtx, size: number) {
  const F = numel(ctx.inShape);
  const off = size - F;
  return {
    F,
    off,
    zeroGrad: off > 0 ? `for (let r = 0; r < n; r++) zero(gz + ((<usize>r * ${size}) << ${ctx.shift}), ${off});` : "",
    sampleRest: off > 0 ? `for (let j = 0; j < ${off}; j++) stf(z, r * ${size} + j, temp * <F>rng_normal(ws));` : "",
  };
}

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
    const { F, off, zeroGrad, sampleRest } = latentParts(ctx, size);
    const at = (r: string, j: string) => `${r} * ${size} + ${off} + ${j}`;
    if (ctx.opts.params !== "learned") {
      const c = -0.5 * F * Math.log(2 * Math.PI);
      return {
        logp: `for (let r = 0; r < n; r++) { const zr = z + ((<usize>r * ${size} + ${off}) << ${ctx.shift}); stf(out, r, <F>(${c} - 0.5 * ew_dot(zr, zr, ${F}))); }`,
        grad: off === 0
          ? `ew_axpb(z, gz, n * ${size}, -scale, <F>0);`
          : `${zeroGrad}
  for (let r = 0; r < n; r++) for (let j = 0; j < ${F}; j++) stf(gz, ${at("r", "j")}, -scale * ldf(z, ${at("r", "j")}));`,
        sample: `for (let k = 0; k < n * ${size}; k++) stf(z, k, temp * <F>rng_normal(ws));`,
      };
    }
    const loc = ctx.p("loc"), ls = ctx.p("log_scale"), gloc = ctx.g("loc"), gls = ctx.g("log_scale");
    const sig = ctx.slot("sigma", 0, F);
    // u = (z − loc)·exp(−log_scale); log p = Σ −u²/2 − log_scale − log(2π)/2.
    // Feature-outer loops compute each exp once per chunk; the rows of one
    // feature block stay in L1, so the strided walk costs little.
    return {
      logp: `let c: f64 = ${-0.5 * F * Math.log(2 * Math.PI)};
  for (let j = 0; j < ${F}; j++) c -= <f64>ldf(${ls}, j);
  for (let r = 0; r < n; r++) stf(out, r, <F>c);
  for (let j = 0; j < ${F}; j++) {
    const m = ldf(${loc}, j), w = exp_(-ldf(${ls}, j));
    for (let r = 0; r < n; r++) { const u = (ldf(z, ${at("r", "j")}) - m) * w; addf(out, r, <F>-0.5 * u * u); }
  }`,
      // ∂/∂z = −u·w, ∂/∂loc = u·w, ∂/∂log_scale = u² − 1.
      grad: `${zeroGrad}
  for (let j = 0; j < ${F}; j++) {
    const m = ldf(${loc}, j), w = exp_(-ldf(${ls}, j));
    let sm: f64 = 0, ss: f64 = 0;
    for (let r = 0; r < n; r++) {
      const u = (ldf(z, ${at("r", "j")}) - m) * w;
      const g = u * w;
      stf(gz, ${at("r", "j")}, -scale * g);
      sm += <f64>g;
      ss += <f64>(u * u) - 1.0;
    }
    addf(${gloc}, j, scale * <F>sm);
    addf(${gls}, j, scale * <F>ss);
  }`,
      sample: `for (let j = 0; j < ${F}; j++) stf(${sig}, j, temp * exp_(ldf(${ls}, j)));
  for (let r = 0; r < n; r++) {
    ${sampleRest}
    for (let j = 0; j < ${F}; j++) stf(z, ${at("r", "j")}, ldf(${loc}, j) + ldf(${sig}, j) * <F>rng_normal(ws));
  }`,
    };
  },
};
