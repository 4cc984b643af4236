/**
 * @fileoverview `mlp(hidden=64, depth=2, act=relu)`: the dense conditioner
 * used by coupling layers on vectors (RealNVP, Dinh et al. 2016; NICE, Dinh
 * et al. 2014). `depth` hidden layers of width `hidden`, then an output layer
 * that is zero-initialised so the owning layer starts as the identity.
 * Parameters: `0.weight` [hidden, in], `0.bias`, …, `<depth>.weight` [out, hidden].
 */
import type { NetKind, Shape } from "../types.ts";
import { denseFlops, denseParams, numel } from "../util.ts";

const flat = (d: number | Shape): number => (typeof d === "number" ? d : numel(d));

export const mlp: NetKind = {
  name: "mlp",
  summary: "dense layers with an activation between them; the output layer starts at zero",
  accepts: "vector",
  options: {
    hidden: { type: "int", default: 64, min: 1, max: 65536, doc: "width of every hidden layer" },
    depth: { type: "int", default: 2, min: 1, max: 64, doc: "number of hidden layers" },
    act: { type: "enum", values: ["relu", "tanh", "elu", "gelu"], default: "relu", doc: "activation after every hidden layer" },
  },
  params(inDim, outDim, opts) {
    const hidden = opts.hidden as number;
    const depth = opts.depth as number;
    const ps = denseParams("0", flat(inDim), hidden);
    for (let i = 1; i < depth; i++) ps.push(...denseParams(String(i), hidden, hidden));
    ps.push(...denseParams(String(depth), hidden, flat(outDim), true));
    return ps;
  },
  flops(inDim, outDim, opts) {
    const hidden = opts.hidden as number;
    const depth = opts.depth as number;
    return denseFlops(flat(inDim), hidden) + (depth - 1) * denseFlops(hidden, hidden) + depth * hidden + denseFlops(hidden, flat(outDim));
  },
};
