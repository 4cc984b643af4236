/**
 * @fileoverview `linear lu`: an invertible dense layer on vectors with Glow's
 * LU parameterisation (Kingma & Dhariwal 2018, §3.2): `y = W x + b`,
 * `W = P L (U + diag(sign · exp(logs)))` with P a fixed permutation, L unit
 * lower-triangular and U strictly upper-triangular (only those parts of the
 * stored [D, D] matrices are used). log-det `Σ logs`; the inverse is two
 * triangular solves. All parts start as the PLU decomposition of one random
 * rotation, so W starts orthogonal.
 */
import type { LayerKind, ParamDecl } from "./types.ts";
import { analyticBoth, mixing } from "./util.ts";

/** Glow's LU parameter set over n features; shared with conv1x1. */
export function luParams(n: number): ParamDecl[] {
  const part = (p: "P" | "L" | "U" | "sign" | "logs") => ({ kind: "lu-rotation" as const, n, part: p, group: "w" });
  return [
    { name: "P", shape: [n, n], init: part("P"), trainable: false },
    { name: "L", shape: [n, n], init: part("L"), note: "strictly lower part used, unit diagonal" },
    { name: "U", shape: [n, n], init: part("U"), note: "strictly upper part used" },
    { name: "sign", shape: [n], init: part("sign"), trainable: false },
    { name: "logs", shape: [n], init: part("logs") },
  ];
}

export const linear: LayerKind = {
  name: "linear",
  summary: "invertible dense layer, LU-parameterised",
  paper: "Kingma & Dhariwal 2018, Glow (LU-decomposed weights)",
  variants: [{ name: "parametrization", values: ["lu"], default: "lu", doc: "`lu`: W = P L (U + diag(sign·exp(logs)))" }],
  options: {},
  accepts: "vector",
  shape: (input) => input,
  params(input) {
    const d = input[0];
    return [...luParams(d), { name: "bias", shape: [d], init: { kind: "zeros" } }];
  },
  direction: analyticBoth,
  // Forward is a mat-vec; the inverse is a forward and a backward substitution.
  flops: (input) => ({ forward: 2 * input[0] * input[0] + input[0], inverse: 2 * input[0] * input[0] + 2 * input[0] }),
  features: (input) => mixing(input),
};
