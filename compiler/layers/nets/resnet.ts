/**
 * @fileoverview `resnet(hidden=64, blocks=2, act=relu)`: a dense residual
 * conditioner as in nflows' ResidualNet (Durkan et al. 2019, neural spline
 * flows). An input layer, `blocks` residual blocks of two dense layers
 * (the second starts near zero so each block starts near the identity), and a
 * zero-initialised output layer. Parameters: `input.weight` [hidden, in],
 * `blocks.<b>.0.weight`, `blocks.<b>.1.weight` [hidden, hidden], `output.weight` [out, hidden], with biases.
 */
import type { NetKind, ParamDecl, Shape } from "../types.ts";
import { denseFlops, denseParams, numel } from "../util.ts";

const flat = (d: number | Shape): number => (typeof d === "number" ? d : numel(d));

export const resnet: NetKind = {
  name: "resnet",
  summary: "dense residual blocks; the output layer starts at zero",
  accepts: "vector",
  options: {
    hidden: { type: "int", default: 64, min: 1, max: 65536, doc: "width of the residual stream" },
    blocks: { type: "int", default: 2, min: 1, max: 64, doc: "number of residual blocks" },
    act: { type: "enum", values: ["relu", "tanh", "elu", "gelu"], default: "relu", doc: "activation inside the blocks" },
  },
  params(inDim, outDim, opts) {
    const hidden = opts.hidden as number;
    const ps: ParamDecl[] = denseParams("input", flat(inDim), hidden);
    for (let b = 0; b < (opts.blocks as number); b++) {
      ps.push(...denseParams(`blocks.${b}.0`, hidden, hidden));
      // Near-zero second layer: each block starts close to the identity (as nflows does).
      for (const p of denseParams(`blocks.${b}.1`, hidden, hidden)) ps.push({ ...p, init: { kind: "uniform", bound: 1e-3 } });
    }
    ps.push(...denseParams("output", hidden, flat(outDim), true));
    return ps;
  },
  flops(inDim, outDim, opts) {
    const hidden = opts.hidden as number;
    const block = 2 * denseFlops(hidden, hidden) + 3 * hidden;
    return denseFlops(flat(inDim), hidden) + (opts.blocks as number) * block + denseFlops(hidden, flat(outDim));
  },
};
