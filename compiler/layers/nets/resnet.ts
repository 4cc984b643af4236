/**
 * @fileoverview `resnet(hidden=64, blocks=2, act=relu)`: a dense residual
 * conditioner as in nflows' ResidualNet (Durkan et al. 2019, neural spline
 * flows). An input layer, `blocks` residual blocks of two dense layers
 * (the second starts near zero so each block starts near the identity), and a
 * zero-initialised output layer. Parameters: `input.weight` [hidden, in],
 * `blocks.<b>.0.weight`, `blocks.<b>.1.weight` [hidden, hidden], `output.weight` [out, hidden], with biases.
 *
 * Structure (nflows' ResidualNet without batch norm or dropout):
 *   t₀ = input(x);  t_{b+1} = t_b + W₁·act(W₀·act(t_b) + b₀) + b₁;  out = output(t_B).
 * Kernels follow mlp.ts: one dense_* call per product, activations in place,
 * derivatives from the activation outputs except for gelu.
 */
import type { EmitCtx, NetCode, NetKind, ParamDecl, Shape } from "../types.ts";
import { denseFlops, denseParams, numel } from "../util.ts";
import { denseAct } from "./mlp.ts";

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
  emit(ctx: EmitCtx, inDim, outDim, opts): NetCode {
    const IN = flat(inDim), OUT = flat(outDim);
    const H = opts.hidden as number, nb = opts.blocks as number;
    const act = denseAct((opts.act as string | undefined) ?? "relu");
    const p = (name: string) => ctx.p(name), g = (name: string) => ctx.g(name);
    // Residual stream t_0..t_B; per block u = act(t_b), v = W₀u + b₀ (kept only for gelu), w = act(v).
    const t = Array.from({ length: nb + 1 }, (_, b) => ctx.slot(`t${b}`, H));
    const u = Array.from({ length: nb }, (_, b) => ctx.slot(`u${b}`, H));
    const w = Array.from({ length: nb }, (_, b) => ctx.slot(`w${b}`, H));
    const v = act.needsPre ? Array.from({ length: nb }, (_, b) => ctx.slot(`v${b}`, H)) : w;
    const gT = ctx.slot("gt", H), gA = ctx.slot("ga", H), gB = ctx.slot("gb", H);
    const fwd = (W: string, bias: string, src: string, dst: string, n: string, i: number, o: number) =>
      `dense_fwd(${p(W)}, ${p(bias)}, ${src}, ${dst}, ${n}, ${i}, ${o}, ${i}, ${o});`;
    const bwdW = (name: string, src: string, gy: string, n: string, i: number, o: number) =>
      `dense_bwd_w(${src}, ${gy}, ${g(`${name}.weight`)}, ${g(`${name}.bias`)}, ${n}, ${i}, ${o}, ${i}, ${o});`;
    const bwdX = (name: string, gy: string, gx: string, n: string, i: number, o: number) =>
      `dense_bwd_x(${p(`${name}.weight`)}, ${gy}, ${gx}, ${n}, ${i}, ${o}, ${o}, ${i});`;
    return {
      forward(inp, out, n) {
        const cnt = `(${n}) * ${H}`;
        const s = [fwd("input.weight", "input.bias", inp, t[0], n, IN, H)];
        for (let b = 0; b < nb; b++) {
          s.push(act.fwd(t[b], u[b], cnt));
          s.push(fwd(`blocks.${b}.0.weight`, `blocks.${b}.0.bias`, u[b], v[b], n, H, H));
          s.push(act.fwd(v[b], w[b], cnt));
          s.push(fwd(`blocks.${b}.1.weight`, `blocks.${b}.1.bias`, w[b], t[b + 1], n, H, H));
          s.push(`net_add(${t[b + 1]}, ${t[b]}, ${cnt});`);
        }
        s.push(fwd("output.weight", "output.bias", t[nb], out, n, H, OUT));
        return s.join("\n");
      },
      backward(inp, gOut, gInp, n) {
        const cnt = `(${n}) * ${H}`;
        const s = [bwdW("output", t[nb], gOut, n, H, OUT), bwdX("output", gOut, gT, n, H, OUT)];
        for (let b = nb - 1; b >= 0; b--) {
          // gT = ∂L/∂t_{b+1}: it reaches t_b directly (the skip) and through the block.
          s.push(bwdW(`blocks.${b}.1`, w[b], gT, n, H, H));
          s.push(bwdX(`blocks.${b}.1`, gT, gA, n, H, H));
          s.push(act.bwd(v[b], w[b], gA, cnt));
          s.push(bwdW(`blocks.${b}.0`, u[b], gA, n, H, H));
          s.push(bwdX(`blocks.${b}.0`, gA, gB, n, H, H));
          s.push(act.bwd(t[b], u[b], gB, cnt));
          s.push(`net_add(${gT}, ${gB}, ${cnt});`);
        }
        s.push(bwdW("input", inp, gT, n, IN, H));
        if (gInp !== null) s.push(bwdX("input", gT, gInp, n, IN, H));
        return s.join("\n");
      },
    };
  },
};
