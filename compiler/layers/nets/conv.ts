/**
 * @fileoverview `conv(hidden=128, kernel=3)`: Glow's coupling conditioner
 * (Kingma & Dhariwal 2018): conv k×k → ReLU → conv 1×1 → ReLU → conv k×k,
 * same padding, the last conv zero-initialised so the owning coupling starts
 * as the identity. Parameters (PyTorch conv layout [out, in, kh, kw]):
 * `0.weight` [hidden, in, k, k], `1.weight` [hidden, hidden, 1, 1],
 * `2.weight` [out, hidden, k, k], each with a bias.
 */
import type { NetKind, Shape } from "../types.ts";
import { convFlops, convParams } from "../util.ts";

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
};
