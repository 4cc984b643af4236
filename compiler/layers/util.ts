/**
 * @fileoverview Small helpers shared by the layer, net and base declarations:
 * shape predicates and descriptions, typed option getters, dense/conv
 * parameter lists in PyTorch layout and their FLOP counts.
 *
 * FLOP convention (used by every layer): a multiply-add counts 2, any other
 * elementwise operation (including exp, log, tanh) counts 1. Counts are per
 * sample and approximate; per-batch work such as rebuilding an LU weight is
 * not included.
 */
import type { DirectionInfo, NetConfig, Opts, ParamDecl, Shape } from "./types.ts";

export const isImage = (s: Shape): boolean => s.length === 3;
export const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
export const showShape = (s: readonly number[]): string => `[${s.join(", ")}]`;

/** "the vector [4]" / "the image [1, 28, 28]", for shape error messages. */
export function describeInput(s: Shape): string {
  return `${isImage(s) ? "the image" : "the vector"} ${showShape(s)}`;
}

/** Per-feature parameter length: channels of an image, features of a vector. */
export const featureDim = (s: Shape): number => s[0];

/** Pixels per channel (1 for vectors). */
export const spatial = (s: Shape): number => (isImage(s) ? s[1] * s[2] : 1);

export const num = (o: Opts, k: string): number => o[k] as number;
export const str = (o: Opts, k: string): string => o[k] as string;
export const net = (o: Opts, k = "net"): NetConfig => o[k] as NetConfig;

/** Drop the listed keys from resolved options (options that do not apply to a variant). */
export function without(o: Opts, keys: string[]): Opts {
  const out: Opts = {};
  for (const [k, v] of Object.entries(o)) if (!keys.includes(k)) out[k] = v;
  return out;
}

/** A dense layer `name.weight` [out, in], `name.bias` [out] with PyTorch's default init,
 *  or zeros when `zero` (the last layer of a conditioner, so its owner starts as the identity). */
export function denseParams(name: string, inDim: number, outDim: number, zero = false): ParamDecl[] {
  const bound = 1 / Math.sqrt(Math.max(1, inDim));
  return [
    { name: `${name}.weight`, shape: [outDim, inDim], init: zero ? { kind: "zeros" } : { kind: "uniform", bound }, note: zero ? "zero-init" : undefined },
    { name: `${name}.bias`, shape: [outDim], init: zero ? { kind: "zeros" } : { kind: "uniform", bound }, note: zero ? "zero-init" : undefined },
  ];
}

/** A conv layer `name.weight` [out, in, k, k], `name.bias` [out]. */
export function convParams(name: string, cin: number, cout: number, k: number, init: "normal" | "zero"): ParamDecl[] {
  const zero = init === "zero";
  return [
    { name: `${name}.weight`, shape: [cout, cin, k, k], init: zero ? { kind: "zeros" } : { kind: "normal", std: 0.05 }, note: zero ? "zero-init" : undefined },
    { name: `${name}.bias`, shape: [cout], init: { kind: "zeros" }, note: zero ? "zero-init" : undefined },
  ];
}

/** Dense layer FLOPs per sample: the matrix-vector product plus the bias. */
export const denseFlops = (inDim: number, outDim: number): number => 2 * inDim * outDim + outDim;

/** Same-padded conv FLOPs per sample. */
export const convFlops = (cin: number, cout: number, k: number, h: number, w: number): number =>
  (2 * k * k * cin + 1) * cout * h * w;

/** Parameters per transformed feature of an elementwise transform:
 *  additive 1 (shift), affine 2 (scale, shift), rational-quadratic spline with K bins
 *  3K − 1 (K widths, K heights, K − 1 interior derivatives; linear tails, Durkan et al. 2019). */
export function transformFactor(transform: string, bins: number): number {
  if (transform === "additive") return 1;
  if (transform === "spline") return 3 * bins - 1;
  return 2;
}

/** Elementwise FLOPs per transformed feature of the same transforms (softmaxes, bin search, the rational quadratic). */
export function transformFlops(transform: string, bins: number): number {
  if (transform === "additive") return 1;
  if (transform === "spline") return 8 * bins + 30;
  return 8;
}

/** All features map to themselves and none depends on the others. */
export const elementwise = { coupled: "none" as const };

/** Every output feature depends on every input feature (when there are at least two). */
export const mixing = (s: Shape) => ({ coupled: numel(s) >= 2 ? ("all" as const) : ("none" as const) });

/** Closed form both ways, one parallel pass each. */
export const analyticBoth = (): DirectionInfo => ({
  forward: { kind: "analytic", cost: "parallel" },
  inverse: { kind: "analytic", cost: "parallel" },
});

/** The same elementwise cost both ways. */
export const perElement = (s: Shape, forward: number, inverse = forward) => ({ forward: forward * numel(s), inverse: inverse * numel(s) });
