/**
 * @fileoverview `conv(hidden=128, kernel=3)`: Glow's coupling conditioner
 * (Kingma & Dhariwal 2018): conv k×k → ReLU → conv 1×1 → ReLU → conv k×k,
 * same padding, the last conv zero-initialised so the owning coupling starts
 * as the identity. Parameters (PyTorch conv layout [out, in, kh, kw]):
 * `0.weight` [hidden, in, k, k], `1.weight` [hidden, hidden, 1, 1],
 * `2.weight` [out, hidden, k, k], each with a bias.
 *
 * Kernels (runtime-wasm/assembly/conv.ts): rows are C·H·W floats in CHW
 * order, as the owning layer hands them over (context channels, if any,
 * already broadcast into the input rows). The forward pass runs each
 * convolution over the whole chunk and keeps the two hidden feature maps
 * (after the activation, which relu's derivative can be read from). The
 * backward pass goes one row at a time, so its two gradient feature maps
 * need one row of workspace each instead of a chunk; it packs each weight
 * transposed and flipped once per call (conv_pack), so every input gradient
 * is a forward convolution with pre-packed weights.
 */
import type { EmitCtx, NetCode, NetKind, Shape } from "../types.ts";
import { convFlops, convParams } from "../util.ts";
import { denseAct } from "./mlp.ts";

/** F of per-call scratch `conv_fwd`/`conv_bwd_*` need for one shape (f32; f64 needs none).
 *  Mirrors conv_tmp_size in runtime-wasm/assembly/conv.ts. */
export function convTmpSize(cin: number, cout: number, h: number, w: number, k: number): number {
  const up4 = (c: number) => Math.ceil(c / 4) * 4;
  const cmax = Math.max(cin, cout);
  const P = (h + k - 1) * (w + k - 1);
  const packed = Math.max(up4(cout) * cin, up4(cin) * cout) * k * k;
  const fwd = cmax * (P + 3) + 16 + 4 + cmax * k * k + 4 + 4 + packed;
  const grad = up4(cin) * P + up4(cout) * h * w;
  return Math.max(fwd, grad);
}

/** Conv nets only see images; a number here is a caller bug, read as a 1×1 image. */
const img = (d: number | Shape): Shape => (typeof d === "number" ? [d, 1, 1] : d);

export const conv: NetKind = {
  name: "conv",
  summary: "Glow's conv k×k → conv 1×1 → conv k×k; the last conv starts at zero",
  accepts: "image",
  options: {
    hidden: { type: "int", default: 128, min: 1, max: 65536, doc: "channels of the hidden feature maps" },
    kernel: { type: "int", default: 3, min: 1, max: 15, doc: "size of the first and last convolutions (odd)" },
  },
  validate(opts, ctx) {
    const k = opts.kernel as number;
    if (k % 2 === 0) ctx.error("FLOW217", { got: k }, ctx.spanOf("kernel"));
  },
  params(inDim, outDim, opts) {
    const hidden = opts.hidden as number;
    const k = opts.kernel as number;
    return [
      ...convParams("0", img(inDim)[0], hidden, k, "normal"),
      ...convParams("1", hidden, hidden, 1, "normal"),
      ...convParams("2", hidden, img(outDim)[0], k, "zero"),
    ];
  },
  flops(inDim, outDim, opts) {
    const [cin, h, w] = img(inDim);
    const hidden = opts.hidden as number;
    const k = opts.kernel as number;
    return convFlops(cin, hidden, k, h, w) + convFlops(hidden, hidden, 1, h, w) + convFlops(hidden, img(outDim)[0], k, h, w) + 2 * hidden * h * w;
  },
  emit: emitConvNet,
};

function emitConvNet(ctx: EmitCtx, inDim: number | Shape, outDim: number | Shape, opts: Record<string, number | string | boolean>): NetCode {
  const [cin, h, w] = img(inDim);
  const cout = img(outDim)[0];
  const hid = opts.hidden as number, k = opts.kernel as number;
  const HW = h * w;
  // No `act` option today: Glow's ReLU, read through the dense nets' table so one can be added.
  const act = denseAct((opts.act as string | undefined) ?? "relu");
  const W = (i: number) => ctx.p(`${i}.weight`), B = (i: number) => ctx.p(`${i}.bias`);
  const gW = (i: number) => ctx.g(`${i}.weight`), gB = (i: number) => ctx.g(`${i}.bias`);
  const post = [ctx.slot("h0", hid * HW), ctx.slot("h1", hid * HW)];
  const pre = act.needsPre ? [ctx.slot("z0", hid * HW), ctx.slot("z1", hid * HW)] : post;
  const ga = ctx.slot("ga", 0, hid * HW), gb = ctx.slot("gb", 0, hid * HW);
  // Packed transposed, flipped weights: the input gradients are forward convolutions with them.
  const packed = (ci: number, co: number, kk: number) => (ctx.precision === "f32" ? Math.ceil(co / 4) * 4 : co) * ci * kk * kk;
  const Wt = [ctx.slot("w0t", 0, packed(hid, cin, k)), ctx.slot("w1t", 0, packed(hid, hid, 1)), ctx.slot("w2t", 0, packed(cout, hid, k))];
  const tmp = ctx.slot("tmp", 0, ctx.precision === "f32"
    ? Math.max(convTmpSize(cin, hid, h, w, k), convTmpSize(hid, hid, h, w, 1), convTmpSize(hid, cout, h, w, k))
    : 0);
  const conv = (fn: string, ...args: (string | number)[]) => `${fn}(${args.join(", ")});`;
  return {
    forward(inp, out, n) {
      return [
        conv("conv_fwd", W(0), B(0), inp, pre[0], n, cin, hid, h, w, k, cin * HW, hid * HW, tmp),
        act.fwd(pre[0], post[0], `(${n}) * ${hid * HW}`),
        conv("conv_fwd", W(1), B(1), post[0], pre[1], n, hid, hid, h, w, 1, hid * HW, hid * HW, tmp),
        act.fwd(pre[1], post[1], `(${n}) * ${hid * HW}`),
        conv("conv_fwd", W(2), B(2), post[1], out, n, hid, cout, h, w, k, hid * HW, cout * HW, tmp),
      ].join("\n");
    },
    backward(inp, gOut, gInp, n) {
      const r = ctx.uid("r");
      const row = (p: string, width: number) => `at(${p}, ${r} * ${width})`;
      const hrow = (p: string) => row(p, hid * HW);
      return `${conv("conv_pack", W(2), Wt[2], hid, cout, k, "true")}
  ${conv("conv_pack", W(1), Wt[1], hid, hid, 1, "true")}
  ${gInp !== null ? conv("conv_pack", W(0), Wt[0], cin, hid, k, "true") : ""}
  for (let ${r} = 0; ${r} < ${n}; ${r}++) {
    ${conv("conv_bwd_w", hrow(post[1]), row(gOut, cout * HW), gW(2), gB(2), 1, hid, cout, h, w, k, 0, 0, tmp)}
    ${conv("conv_fwd_packed", Wt[2], 0, row(gOut, cout * HW), ga, 1, cout, hid, h, w, k, 0, 0, tmp)}
    ${act.bwd(hrow(pre[1]), hrow(post[1]), ga, String(hid * HW))}
    ${conv("conv_bwd_w", hrow(post[0]), ga, gW(1), gB(1), 1, hid, hid, h, w, 1, 0, 0, tmp)}
    ${conv("conv_fwd_packed", Wt[1], 0, ga, gb, 1, hid, hid, h, w, 1, 0, 0, tmp)}
    ${act.bwd(hrow(pre[0]), hrow(post[0]), gb, String(hid * HW))}
    ${conv("conv_bwd_w", row(inp, cin * HW), gb, gW(0), gB(0), 1, cin, hid, h, w, k, 0, 0, tmp)}
    ${gInp !== null ? conv("conv_fwd_packed", Wt[0], 0, gb, row(gInp, cin * HW), 1, hid, cin, h, w, k, 0, 0, tmp) : ""}
  }`;
    },
  };
}
