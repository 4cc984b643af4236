/**
 * @fileoverview `iaf affine|spline hidden= depth=`: an inverse autoregressive
 * flow layer (Kingma et al. 2016), the MAF layer read the other way: in the
 * generative direction (latent → data) `x_i = z_i · exp(α_i(z_<i)) + μ_i(z_<i)`
 * in one parallel pass, so sampling and reverse-KL training (variational
 * inference) are fast, while scoring data (forward) needs D sequential
 * passes. Forward log-det `−Σ α_i`. Parameters as in `maf`: `made.0.weight`
 * [hidden, D (+ context)] … `made.<depth>.weight` [factor·D, hidden] (zero-init).
 */
import type { DirectionInfo, LayerKind } from "./types.ts";
import { emitAutoregressive, madeFeatures, madeOptions, madeParams, madePass, madeResolve, madeShape, madeTestCases, madeValidate, madeVariants } from "./maf.ts";

export const iaf: LayerKind = {
  name: "iaf",
  summary: "inverse autoregressive flow: fast sampling, D sequential passes to score",
  paper: "Kingma et al. 2016, IAF; Germain et al. 2015, MADE",
  variants: madeVariants,
  options: madeOptions,
  accepts: "vector",
  validate: madeValidate("iaf"),
  resolve: madeResolve,
  shape: madeShape("iaf"),
  params: (input, opts, ctx) => madeParams(input, opts, ctx.contextSize),
  direction: (input): DirectionInfo => ({
    forward: { kind: "analytic", cost: "sequential", passes: input[0] },
    inverse: { kind: "analytic", cost: "parallel" },
    note: `scoring runs ${input[0]} sequential passes`,
  }),
  flops(input, opts) {
    const { net, transform } = madePass(input, opts);
    return { forward: input[0] * net + transform, inverse: net + transform };
  },
  features: (input) => madeFeatures(input),
  // Kernels shared with maf (see emitAutoregressive): the scoring direction is the
  // sequential one, and its backward solves the implicit-function adjoint.
  emit: (ctx) => emitAutoregressive(ctx, "iaf"),
  testCases: madeTestCases("iaf"),
  zeroInitElementwise: true,
};
