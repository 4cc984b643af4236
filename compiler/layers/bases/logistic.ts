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
    const row = (p: string) => `(${p} + ((<usize>r * ${size} + ${off}) << ${ctx.shift}))`;
    return {
      // softplus(z) + softplus(−z) = |z| + 2·log1p(e^−|z|), exact at both tails (ew.ts).
      logp: `for (let r = 0; r < n; r++) stf(out, r, <F>ew_logistic_logp(${row("z")}, ${F}));`,
      // ∂ log p/∂z = 1 − 2σ(z) = −tanh(z/2).
      grad: off === 0
        ? `ew_logistic_grad(z, gz, n * ${size}, scale);`
        : `${zeroGrad}
  for (let r = 0; r < n; r++) ew_logistic_grad(${row("z")}, ${row("gz")}, ${F}, scale);`,
      sample: `for (let r = 0; r < n; r++) {
    ${sampleRest}
    for (let j = 0; j < ${F}; j++) stf(z, r * ${size} + ${off} + j, temp * <F>rng_logistic(ws));
  }`,
    };
  },
};
