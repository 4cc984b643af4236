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
};
