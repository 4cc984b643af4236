/**
 * @fileoverview `base logistic`: the standard logistic distribution per
 * feature, log p(z) = −Σ (softplus(z) + softplus(−z)), the prior of NICE
 * (Dinh et al. 2014). Sampling at temperature τ scales the draws by τ.
 * Like every base it owns the final part of the latent row (see normal.ts).
 */
import type { BaseKind } from "../types.ts";
import { latentParts } from "./normal.ts";

export const logistic: BaseKind = {
  name: "logistic",
  summary: "standard logistic per feature (NICE)",
  options: {},
  params() {
    return [];
  },
  emit(ctx, size) {
    const { F, off, zeroGrad, sampleRest } = latentParts(ctx, size);
    const at = (r: string, j: string) => `${r} * ${size} + ${off} + ${j}`;
    return {
      // softplus(z) + softplus(−z) = |z| + 2·log1p(e^−|z|), exact at both tails.
      logp: `for (let r = 0; r < n; r++) {
    let s: f64 = 0;
    for (let j = 0; j < ${F}; j++) { const a = abs_(ldf(z, ${at("r", "j")})); s += <f64>(a + <F>2 * log1p_(exp_(-a))); }
    stf(out, r, <F>(-s));
  }`,
      // ∂ log p/∂z = 1 − 2σ(z) = −tanh(z/2).
      grad: `${zeroGrad}
  for (let r = 0; r < n; r++) for (let j = 0; j < ${F}; j++) stf(gz, ${at("r", "j")}, -scale * tanh_(<F>0.5 * ldf(z, ${at("r", "j")})));`,
      sample: `for (let r = 0; r < n; r++) {
    ${sampleRest}
    for (let j = 0; j < ${F}; j++) stf(z, ${at("r", "j")}, temp * <F>rng_logistic(ws));
  }`,
    };
  },
};
