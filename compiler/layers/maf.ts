/**
 * @fileoverview `maf affine|spline hidden= depth=`: a masked autoregressive
 * flow layer (Papamakarios et al. 2017) with a MADE conditioner (Germain et
 * al. 2015). affine: `y_i = (x_i − μ_i(x_<i)) · exp(−α_i(x_<i))`, log-det
 * `−Σ α_i`; spline: a rational-quadratic spline per feature whose knots
 * depend on x_<i (Durkan et al. 2019). Scoring (forward) is one parallel
 * pass; sampling (inverse) needs D sequential passes, one per feature.
 *
 * MADE parameters (dense, PyTorch layout; the autoregressive masks are
 * derived from the feature order and applied by the kernels, not stored):
 * `made.0.weight` [hidden, D (+ context)], `made.1.weight` [hidden, hidden],
 * …, `made.<depth>.weight` [factor·D, hidden] (factor 2 affine, 3·bins − 1
 * spline), each with a bias; the output layer is zero-initialised so the
 * layer starts as the identity.
 */
import type { DirectionInfo, FeatureFlow, LayerKind, OptionSpec, Opts, ParamDecl, RuleCtx, Shape, VariantGroup } from "./types.ts";
import { denseFlops, denseParams, num, showShape, str, transformFactor, transformFlops, without } from "./util.ts";

/** Options, variants and rules shared by maf and iaf (the same layer read the other way). */
export const madeVariants: VariantGroup[] = [{ name: "transform", values: ["affine", "spline"], default: "affine", doc: "elementwise transform of each feature" }];

export const madeOptions: Record<string, OptionSpec> = {
  hidden: { type: "int", default: 64, min: 1, max: 65536, doc: "width of MADE's hidden layers" },
  depth: { type: "int", default: 2, min: 1, max: 64, doc: "number of MADE hidden layers" },
  bins: { type: "int", default: 8, min: 2, max: 128, doc: "spline bins" },
  tail: { type: "float", default: 3, min: 0, exclusiveMin: true, doc: "the spline acts on [−tail, tail] and is the identity outside" },
};

export function madeValidate(layer: string) {
  return (opts: Opts, ctx: RuleCtx): void => {
    if (opts.transform === "spline") return;
    for (const option of ["bins", "tail"]) {
      if (ctx.written?.(option)) ctx.warn("FLOW214", { option, reason: `with \`${layer} affine\``, fix: `remove it, or use \`${layer} spline\`` }, ctx.spanOf(option));
    }
  };
}

export const madeResolve = (opts: Opts): Opts => (opts.transform === "spline" ? opts : without(opts, ["bins", "tail"]));

export function madeShape(layer: string) {
  return (input: Shape, _opts: Opts, ctx: RuleCtx): Shape | null => {
    if (input[0] < 2) {
      ctx.error("FLOW305", { layer, shape: showShape(input) });
      return null;
    }
    return input;
  };
}

const factorOf = (opts: Opts) => transformFactor(str(opts, "transform"), (opts.bins as number | undefined) ?? 8);

export function madeParams(input: Shape, opts: Opts, contextSize: number): ParamDecl[] {
  const d = input[0];
  const hidden = num(opts, "hidden");
  const depth = num(opts, "depth");
  const ps = denseParams("made.0", d + contextSize, hidden);
  for (let i = 1; i < depth; i++) ps.push(...denseParams(`made.${i}`, hidden, hidden));
  ps.push(...denseParams(`made.${depth}`, hidden, factorOf(opts) * d, true));
  return ps;
}

/** One MADE evaluation plus the elementwise transform, per sample. */
export function madePass(input: Shape, opts: Opts): { net: number; transform: number } {
  const d = input[0];
  const hidden = num(opts, "hidden");
  const depth = num(opts, "depth");
  const net = denseFlops(d, hidden) + (depth - 1) * denseFlops(hidden, hidden) + depth * hidden + denseFlops(hidden, factorOf(opts) * d);
  return { net, transform: d * transformFlops(str(opts, "transform"), (opts.bins as number | undefined) ?? 8) };
}

/** Feature 0 has no predecessors, so it is only transformed elementwise. */
export function madeFeatures(input: Shape): FeatureFlow {
  return { coupled: Array.from({ length: input[0] }, (_, i) => i > 0) };
}

export const maf: LayerKind = {
  name: "maf",
  summary: "masked autoregressive flow: fast scoring, D sequential passes to sample",
  paper: "Papamakarios et al. 2017, MAF; Germain et al. 2015, MADE",
  variants: madeVariants,
  options: madeOptions,
  accepts: "vector",
  validate: madeValidate("maf"),
  resolve: madeResolve,
  shape: madeShape("maf"),
  params: (input, opts, ctx) => madeParams(input, opts, ctx.contextSize),
  direction: (input): DirectionInfo => ({
    forward: { kind: "analytic", cost: "parallel" },
    inverse: { kind: "analytic", cost: "sequential", passes: input[0] },
    note: `sampling runs ${input[0]} sequential passes`,
  }),
  flops(input, opts) {
    const { net, transform } = madePass(input, opts);
    return { forward: net + transform, inverse: input[0] * net + transform };
  },
  features: (input) => madeFeatures(input),
};
