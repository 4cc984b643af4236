/**
 * @fileoverview `base logistic`: the standard logistic distribution per
 * feature, log p(z) = −Σ (softplus(z) + softplus(−z)), the prior of NICE
 * (Dinh et al. 2014). Sampling at temperature τ scales the draws by τ.
 */
import type { BaseKind } from "../types.ts";

export const logistic: BaseKind = {
  name: "logistic",
  summary: "standard logistic per feature (NICE)",
  options: {},
  params() {
    return [];
  },
  emit(ctx, size) {
    return {
      // softplus(z) + softplus(−z) = |z| + 2·log1p(e^−|z|), exact at both tails (ew.ts).
      logp: `for (let r = 0; r < n; r++) stf(out, r, <F>ew_logistic_logp(z + ((<usize>r * ${size}) << ${ctx.shift}), ${size}));`,
      // ∂ log p/∂z = 1 − 2σ(z) = −tanh(z/2).
      grad: `ew_logistic_grad(z, gz, n * ${size}, scale);`,
      sample: `for (let k = 0; k < n * ${size}; k++) stf(z, k, temp * <F>rng_logistic(ws));`,
    };
  },
};
