/**
 * @fileoverview `split prior=normal|learned`: the multi-scale factor-out of
 * RealNVP (Dinh et al. 2016, §3.6) and Glow (Kingma & Dhariwal 2018). The
 * flow keeps the first ⌈C/2⌉ channels of an image (⌈D/2⌉ features of a
 * vector); the rest leave the flow here as part of the latent and are scored
 * by a prior: `normal` = standard normal; `learned` = a diagonal normal whose
 * mean and log-std come from a zero-initialised conv 3×3 on the kept half
 * (a dense layer for vectors), as in Glow. Sampling draws the factored half
 * from the prior.
 *
 * Learned-prior parameters (images, PyTorch layout): `prior.weight`
 * [2·(C − k), k, 3, 3] and `prior.bias` [2·(C − k)], k = ⌈C/2⌉; output
 * channels [0, C − k) are the means, [C − k, 2(C − k)) the log-stds. For vectors
 * `prior.weight` [2·(D − k), k]. The learned prior does not see the context.
 *
 * Latent convention: the factored-out part x_b is written to this split's
 * part of the latent row (`zl` at the offset `latentLayout` gives it) in
 * standardised form ε = (x_b − μ(y)) / σ(y), with log-det −Σ log σ
 * (`normal`: μ = 0, σ = 1, so ε = x_b and the log-det is 0). The compiled
 * module scores every split's ε with N(0, 1) next to the base's score of
 * the final part, and sampling draws ε at temperature τ, so the inverse
 * reads ε from `zl` and returns x_b = μ(y) + σ(y)·ε. bwd receives ∂L/∂ε in
 * `gzl` and carries it into x_b, into y through μ and log σ, and into the
 * prior's parameters.
 */
import type { DirectionInfo, EmitCtx, LayerCode, LayerKind, Shape } from "./types.ts";
import { isImage, showShape, spatial } from "./util.ts";
import { convTmpSize } from "./nets/conv.ts";

/** Channels (images) or features (vectors) kept by the flow. */
export const keptOf = (input: Shape): number => Math.ceil(input[0] / 2);

export const split: LayerKind = {
  name: "split",
  summary: "factor out half the channels into the latent (multi-scale)",
  paper: "Dinh et al. 2016, RealNVP; Kingma & Dhariwal 2018, Glow",
  options: {
    prior: { type: "enum", values: ["normal", "learned"], default: "normal", doc: "prior of the factored-out half: standard normal or learned from the kept half" },
  },
  accepts: "any",
  shape(input, _opts, ctx) {
    if (input[0] < 2) {
      if (isImage(input)) ctx.error("FLOW306", { what: "split", shape: showShape(input) });
      else ctx.error("FLOW305", { layer: "split", shape: showShape(input) });
      return null;
    }
    return isImage(input) ? [keptOf(input), input[1], input[2]] : [keptOf(input)];
  },
  params(input, opts) {
    if (opts.prior !== "learned") return [];
    const k = keptOf(input);
    const out = 2 * (input[0] - k);
    const weight = isImage(input) ? [out, k, 3, 3] : [out, k];
    return [
      { name: "prior.weight", shape: weight, init: { kind: "zeros" }, note: "zero-init: the prior starts standard normal" },
      { name: "prior.bias", shape: [out], init: { kind: "zeros" }, note: "zero-init" },
    ];
  },
  direction: (): DirectionInfo => ({
    forward: { kind: "analytic", cost: "parallel" },
    inverse: { kind: "analytic", cost: "parallel" },
    note: "sampling draws the factored half from the prior",
  }),
  flops(input, opts) {
    const k = keptOf(input);
    const gone = (input[0] - k) * spatial(input);
    const prior = opts.prior === "learned" ? (isImage(input) ? (2 * 9 * k + 1) * 2 * gone : (2 * k + 1) * 2 * gone) : 0;
    return { forward: prior + 4 * gone, inverse: prior + 3 * gone };
  },
  features(input) {
    const kept = keptOf(input) * spatial(input);
    return { map: Array.from({ length: kept }, (_, i) => i), coupled: "none" };
  },
  emit: emitSplit,
  // Odd channel counts (k = ⌈C/2⌉ ≠ C − k), H ≠ W, vectors, and two splits in a row
  // (the second writes at a non-zero latent offset).
  testCases: [
    { input: [5, 2, 3], text: "split prior=learned" },
    { input: [4, 3, 2], text: "split" },
    { input: [3, 4, 4], text: "split prior=learned" },
    { input: [2, 3, 5], text: "split prior=learned" },
    { input: [7], text: "split prior=learned" },
    { input: [4], text: "split" },
    { input: [6, 2, 3], text: "split prior=learned; split prior=learned" },
    { input: [5], text: "split; split prior=learned" },
  ],
};

function emitSplit(ctx: EmitCtx): LayerCode {
  const input = ctx.inShape;
  const image = isImage(input);
  const C = input[0], HW = spatial(input);
  const k = keptOf(input), g = C - k;
  const D = C * HW, KP = k * HW, GP = g * HW; // row, kept and factored-out sizes
  const LS = ctx.latentSize, off = ctx.latentOffset;
  if (off === undefined || LS === undefined) throw new Error("split: the code generator gave no latent offset");
  const eps = (r: string, j: string) => `${r} * ${LS} + ${off} + ${j}`;
  const copyKept = (from: string, fs: number, to: string, ts: number) =>
    `for (let r = 0; r < n; r++) copy(at(${to}, r * ${ts}), at(${from}, r * ${fs}), ${KP});`;

  if (ctx.opts.prior !== "learned") {
    return {
      fwd: `${copyKept("x", D, "y", KP)}
  for (let r = 0; r < n; r++) copy(at(zl, ${eps("r", "0")}), at(x, r * ${D} + ${KP}), ${GP});`,
      inv: `${copyKept("y", KP, "x", D)}
  for (let r = 0; r < n; r++) copy(at(x, r * ${D} + ${KP}), at(zl, ${eps("r", "0")}), ${GP});`,
      bwd: `${copyKept("gy", KP, "gx", D)}
  for (let r = 0; r < n; r++) copy(at(gx, r * ${D} + ${KP}), at(gzl, ${eps("r", "0")}), ${GP});`,
    };
  }

  const Wp = ctx.p("prior.weight"), bp = ctx.p("prior.bias"), gWp = ctx.g("prior.weight"), gbp = ctx.g("prior.bias");
  // μ and log σ per row ([μ | log σ], 2·GP F); bwd overwrites them with their gradients.
  const Hs = ctx.slot("prior", 2 * GP);
  const tmp = ctx.slot("tmp", 0, image && ctx.precision === "f32" ? convTmpSize(k, 2 * g, input[1], input[2], 3) : 0);
  const H = image ? input[1] : 1, W = image ? input[2] : 1;
  /** Hs = prior(rows of the kept half at `src`, row stride `stride`). */
  const prior = (src: string, stride: number) => image
    ? `conv_fwd(${Wp}, ${bp}, ${src}, ${Hs}, n, ${k}, ${2 * g}, ${H}, ${W}, 3, ${stride}, ${2 * GP}, ${tmp});`
    : `dense_fwd(${Wp}, ${bp}, ${src}, ${Hs}, n, ${k}, ${2 * g}, ${stride}, ${2 * g});`;
  const priorBack = image
    ? `conv_bwd_w(x, ${Hs}, ${gWp}, ${gbp}, n, ${k}, ${2 * g}, ${H}, ${W}, 3, ${D}, ${2 * GP}, ${tmp});
  conv_bwd_x(${Wp}, ${Hs}, gx, n, ${k}, ${2 * g}, ${H}, ${W}, 3, ${2 * GP}, ${D}, ${tmp});`
    : `dense_bwd_w(x, ${Hs}, ${gWp}, ${gbp}, n, ${k}, ${2 * g}, ${D}, ${2 * g});
  dense_bwd_x(${Wp}, ${Hs}, gx, n, ${k}, ${2 * g}, ${2 * g}, ${D});`;
  return {
    fwd: `${copyKept("x", D, "y", KP)}
  ${prior("x", D)}
  for (let r = 0; r < n; r++) {
    const h = at(${Hs}, r * ${2 * GP}), xb = at(x, r * ${D} + ${KP}), e = at(zl, ${eps("r", "0")});
    let s: F = 0;
    for (let j = 0; j < ${GP}; j++) {
      const ls = ldf(h, ${GP} + j);
      stf(e, j, (ldf(xb, j) - ldf(h, j)) * exp_(-ls));
      s += ls;
    }
    addf(ld, r, -s);
  }`,
    inv: `${copyKept("y", KP, "x", D)}
  ${prior("y", KP)}
  for (let r = 0; r < n; r++) {
    const h = at(${Hs}, r * ${2 * GP}), xb = at(x, r * ${D} + ${KP}), e = at(zl, ${eps("r", "0")});
    let s: F = 0;
    for (let j = 0; j < ${GP}; j++) {
      const ls = ldf(h, ${GP} + j);
      stf(xb, j, ldf(h, j) + exp_(ls) * ldf(e, j));
      s += ls;
    }
    addf(ld, r, s);
  }`,
    // ε = (x_b − μ)·e^{−ls}, ld −= Σ ls: ∂/∂x_b = gε·e^{−ls}, ∂/∂μ = −gε·e^{−ls}, ∂/∂ls = −gε·ε − gld.
    // The prior's input gradient overwrites gx's kept half; gy is added after it.
    bwd: `for (let r = 0; r < n; r++) {
    const h = at(${Hs}, r * ${2 * GP}), gxb = at(gx, r * ${D} + ${KP});
    const e = at(zl, ${eps("r", "0")}), ge = at(gzl, ${eps("r", "0")});
    for (let j = 0; j < ${GP}; j++) {
      const gv = ldf(ge, j);
      const t = gv * exp_(-ldf(h, ${GP} + j));
      stf(gxb, j, t);
      stf(h, j, -t);
      stf(h, ${GP} + j, -gv * ldf(e, j) - gld);
    }
  }
  ${priorBack}
  for (let r = 0; r < n; r++) {
    const gxr = at(gx, r * ${D}), gyr = at(gy, r * ${KP});
    for (let j = 0; j < ${KP}; j++) addf(gxr, j, ldf(gyr, j));
  }`,
  };
}
