/**
 * @fileoverview `mlp(hidden=64, depth=2, act=relu)`: the dense conditioner
 * used by coupling layers on vectors (RealNVP, Dinh et al. 2016; NICE, Dinh
 * et al. 2014). `depth` hidden layers of width `hidden`, then an output layer
 * that is zero-initialised so the owning layer starts as the identity.
 * Parameters: `0.weight` [hidden, in], `0.bias`, …, `<depth>.weight` [out, hidden].
 *
 * Kernels: every product is one `dense_fwd`/`dense_bwd_*` call over the whole
 * chunk; the bias rides in the product and the activation runs in place on
 * its output. The backward pass takes the activation's derivative from that
 * output (relu, tanh, elu), so only gelu also keeps its pre-activation.
 */
import type { EmitCtx, NetCode, NetKind, Shape } from "../types.ts";
import { denseFlops, denseParams, numel } from "../util.ts";

/** How the dense nets apply an activation over a buffer and back-propagate through it. */
export interface DenseAct {
  /** Whether the backward pass needs the pre-activation (gelu) rather than the output. */
  needsPre: boolean;
  /** Statements: post = act(pre) over `count` F (post may be pre). */
  fwd(pre: string, post: string, count: string): string;
  /** Statements: g ← g · act'(·) over `count` F, from the saved pre- or post-activation. */
  bwd(pre: string, post: string, g: string, count: string): string;
}

/** The activation code for `act` (validated by the option schema before it reaches here). */
export function denseAct(act: string): DenseAct {
  switch (act) {
    case "tanh":
      return { needsPre: false, fwd: (a, b, c) => `tanh_fwd(${a}, ${b}, ${c});`, bwd: (_a, b, g, c) => `net_tanh_bwd_post(${b}, ${g}, ${c});` };
    case "elu":
      return { needsPre: false, fwd: (a, b, c) => `elu_fwd(${a}, ${b}, ${c});`, bwd: (_a, b, g, c) => `net_elu_bwd_post(${b}, ${g}, ${c});` };
    case "gelu":
      return { needsPre: true, fwd: (a, b, c) => `gelu_fwd(${a}, ${b}, ${c});`, bwd: (a, _b, g, c) => `gelu_bwd(${a}, ${g}, ${g}, ${c});` };
    case "relu":
      return { needsPre: false, fwd: (a, b, c) => `relu_fwd(${a}, ${b}, ${c});`, bwd: (_a, b, g, c) => `net_relu_bwd_post(${b}, ${g}, ${c});` };
    default:
      throw new Error(`unknown activation '${act}'`);
  }
}

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
  emit(ctx: EmitCtx, inDim, outDim, opts): NetCode {
    const IN = flat(inDim), OUT = flat(outDim);
    const H = opts.hidden as number, depth = opts.depth as number;
    const act = denseAct((opts.act as string | undefined) ?? "relu");
    const W = (i: number) => ctx.p(`${i}.weight`), B = (i: number) => ctx.p(`${i}.bias`);
    const gW = (i: number) => ctx.g(`${i}.weight`), gB = (i: number) => ctx.g(`${i}.bias`);
    // Outputs of the hidden layers (after the activation), and for gelu their inputs.
    const post = Array.from({ length: depth }, (_, i) => ctx.slot(`h${i}`, H));
    const pre = act.needsPre ? Array.from({ length: depth }, (_, i) => ctx.slot(`z${i}`, H)) : post;
    const grad = [ctx.slot("ga", H), ctx.slot("gb", H)];
    const width = (i: number) => (i === depth ? OUT : H);
    const inWidth = (i: number) => (i === 0 ? IN : H);
    return {
      forward(inp, out, n) {
        const s: string[] = [];
        for (let i = 0; i < depth; i++) {
          const src = i === 0 ? inp : post[i - 1];
          s.push(`dense_fwd(${W(i)}, ${B(i)}, ${src}, ${pre[i]}, ${n}, ${inWidth(i)}, ${H}, ${inWidth(i)}, ${H});`);
          s.push(act.fwd(pre[i], post[i], `(${n}) * ${H}`));
        }
        s.push(`dense_fwd(${W(depth)}, ${B(depth)}, ${post[depth - 1]}, ${out}, ${n}, ${H}, ${OUT}, ${H}, ${OUT});`);
        return s.join("\n");
      },
      backward(inp, gOut, gInp, n) {
        const s: string[] = [];
        let g = gOut;
        for (let i = depth; i >= 0; i--) {
          const src = i === 0 ? inp : post[i - 1];
          s.push(`dense_bwd_w(${src}, ${g}, ${gW(i)}, ${gB(i)}, ${n}, ${inWidth(i)}, ${width(i)}, ${inWidth(i)}, ${width(i)});`);
          if (i > 0) {
            // Ping-pong between two buffers: dense_bwd_x must not write where it reads.
            const next = grad[(depth - i) % 2];
            s.push(`dense_bwd_x(${W(i)}, ${g}, ${next}, ${n}, ${H}, ${width(i)}, ${width(i)}, ${H});`);
            s.push(act.bwd(pre[i - 1], post[i - 1], next, `(${n}) * ${H}`));
            g = next;
          } else if (gInp !== null) {
            s.push(`dense_bwd_x(${W(0)}, ${g}, ${gInp}, ${n}, ${IN}, ${H}, ${H}, ${IN});`);
          }
        }
        return s.join("\n");
      },
    };
  },
};
