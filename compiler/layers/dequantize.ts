/**
 * @fileoverview `dequantize uniform bits=8` | `levels=L`: uniform
 * dequantisation of integer data in [0, L) (Theis et al. 2016; as in RealNVP
 * and Glow): `y = (x + u) / L`, `u ~ U[0, 1)`, so y lies in [0, 1); log-det
 * `−D · log L`, which makes the flow's density that of the integer data and
 * bits/dim comparable with published figures. The inverse is
 * `floor(y · L)` clamped to [0, L). Give `bits=` (L = 2^bits) or `levels=`,
 * not both; the default is 8 bits. Resolved options hold `levels` only.
 */
import type { LayerKind } from "./types.ts";
import { analyticBoth, elementwise, perElement, without } from "./util.ts";

export const dequantize: LayerKind = {
  name: "dequantize",
  summary: "uniform dequantisation of integer data to [0, 1)",
  paper: "Theis et al. 2016; Dinh et al. 2016, RealNVP; Kingma & Dhariwal 2018, Glow",
  variants: [{ name: "noise", values: ["uniform"], default: "uniform", doc: "the dequantisation noise" }],
  options: {
    bits: { type: "int", min: 1, max: 16, doc: "bits per value: levels = 2^bits (default 8)" },
    levels: { type: "int", min: 2, max: 65536, doc: "number of integer levels of the data, e.g. 17 for sklearn digits" },
  },
  accepts: "any",
  validate(opts, ctx) {
    if (ctx.written?.("bits") && ctx.written?.("levels")) {
      ctx.error("FLOW215", { a: "bits=", b: "levels=", owner: "dequantize", fix: `keep levels=${opts.levels as number}, or bits=${opts.bits as number}` }, ctx.spanOf("levels"));
    }
  },
  resolve(opts) {
    const levels = typeof opts.levels === "number" ? opts.levels : 2 ** (typeof opts.bits === "number" ? opts.bits : 8);
    return { ...without(opts, ["bits"]), levels };
  },
  shape: (input) => input,
  params: () => [],
  direction: analyticBoth,
  flops: (input) => perElement(input, 3),
  features: () => elementwise,
};
