/**
 * @fileoverview `coupling additive|affine|spline mask=… net=…`: a coupling
 * layer. The features split into a conditioning part A and a transformed part
 * B; `y_A = x_A`, `y_B = τ(x_B; net(x_A, context))`:
 *   - additive: `y_B = x_B + t` (NICE, Dinh et al. 2014);
 *   - affine: `y_B = x_B · s + t` (RealNVP, Dinh et al. 2016) with
 *     `scale=sigmoid`: s = sigmoid(h + 2) + 1e-3 (Glow, Kingma & Dhariwal 2018),
 *     or `scale=exp`: s = exp(c · tanh(h / c)), c = `clamp`;
 *   - spline: monotone rational-quadratic spline with `bins` bins on
 *     [−tail, tail], identity outside (Durkan et al. 2019, neural spline flows).
 * log-det `Σ log ∂y_B/∂x_B`; the inverse is analytic.
 *
 * Masks (A / B at parity 0): `half` = first ⌈D/2⌉ / the rest, never flipped;
 * `alternate` = even / odd indices; `checker` = pixels with even / odd h + w,
 * in every channel; `channel` = first ⌈C/2⌉ / remaining channels. The last
 * three swap A and B on each successive coupling with the same mask kind
 * (parity 1). The conditioner (`net.` parameters) maps |A| (+ context)
 * features to factor·|B| outputs (factor 1 additive, 2 affine, 3·bins − 1
 * spline); `net=conv` instead sees the image: with `checker` the whole masked
 * image [C (+ context), H, W] → [factor·C, H, W], with `channel` the A
 * channels → factor × the B channels. Its last layer is zero-initialised, so
 * the coupling starts as the identity (additive, spline) or as a constant
 * per-feature scale (affine with scale=sigmoid).
 */
import type { LayerKind, NetConfig, Opts, RuleCtx, Shape } from "./types.ts";
import { nets } from "./nets/index.ts";
import {
  analyticBoth, describeInput, isImage, net, numel, showShape, str, transformFactor, transformFlops, without,
} from "./util.ts";

/** Sizes of the conditioning part A and the transformed part B, in features and (images) channels. */
export function maskSizes(input: Shape, mask: string, parity: number): { a: number; b: number; aChannels: number; bChannels: number } {
  const d = numel(input);
  if (mask === "checker" && isImage(input)) {
    const [c, h, w] = input;
    const even = Math.ceil((h * w) / 2);
    const odd = h * w - even;
    return parity === 0 ? { a: c * even, b: c * odd, aChannels: c, bChannels: c } : { a: c * odd, b: c * even, aChannels: c, bChannels: c };
  }
  if (mask === "channel" && isImage(input)) {
    const [c, h, w] = input;
    const first = Math.ceil(c / 2);
    const [ac, bc] = parity === 0 ? [first, c - first] : [c - first, first];
    return { a: ac * h * w, b: bc * h * w, aChannels: ac, bChannels: bc };
  }
  if (mask === "alternate") {
    const even = Math.ceil(d / 2);
    return parity === 0 ? { a: even, b: d - even, aChannels: 0, bChannels: 0 } : { a: d - even, b: even, aChannels: 0, bChannels: 0 };
  }
  const first = Math.ceil(d / 2);
  return { a: first, b: d - first, aChannels: 0, bChannels: 0 };
}

/** Whether each flat feature is in the transformed part B. */
export function transformedFeatures(input: Shape, mask: string, parity: number): boolean[] {
  const d = numel(input);
  const out = new Array<boolean>(d);
  if (mask === "checker" && isImage(input)) {
    const [c, h, w] = input;
    for (let k = 0; k < c; k++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[(k * h + i) * w + j] = (i + j) % 2 !== parity;
  } else if (mask === "channel" && isImage(input)) {
    const [c, h, w] = input;
    const first = Math.ceil(c / 2);
    for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) out[k * h * w + p] = parity === 0 ? k >= first : k < first;
  } else if (mask === "alternate") {
    for (let j = 0; j < d; j++) out[j] = j % 2 !== parity;
  } else {
    const first = Math.ceil(d / 2);
    for (let j = 0; j < d; j++) out[j] = j >= first;
  }
  return out;
}

/** Input and output sizes of the conditioner: numbers for dense nets, shapes for conv nets. */
export function conditionerDims(input: Shape, opts: Opts, parity: number, contextSize: number): { inDim: number | Shape; outDim: number | Shape } {
  const mask = str(opts, "mask");
  const factor = transformFactor(str(opts, "transform"), (opts.bins as number | undefined) ?? 8);
  const sizes = maskSizes(input, mask, parity);
  if (nets[net(opts).kind]?.accepts === "image" && isImage(input)) {
    const [c, h, w] = input;
    if (mask === "checker") return { inDim: [c + contextSize, h, w], outDim: [factor * c, h, w] };
    return { inDim: [sizes.aChannels + contextSize, h, w], outDim: [factor * sizes.bChannels, h, w] };
  }
  return { inDim: sizes.a + contextSize, outDim: factor * sizes.b };
}

const CONV_DEFAULT: NetConfig = { kind: "conv", opts: { hidden: 128, kernel: 3 } };

export const coupling: LayerKind = {
  name: "coupling",
  summary: "coupling layer: half the features transform the other half",
  paper: "Dinh et al. 2014, NICE; Dinh et al. 2016, RealNVP; Kingma & Dhariwal 2018, Glow; Durkan et al. 2019, neural spline flows",
  variants: [{ name: "transform", values: ["additive", "affine", "spline"], default: "affine", doc: "elementwise transform of the B part" }],
  options: {
    mask: { type: "enum", values: ["half", "alternate", "checker", "channel"], doc: "which features condition the others; default half for vectors, checker for images" },
    net: { type: "net", default: { kind: "mlp", opts: { hidden: 64, depth: 2, act: "relu" } }, doc: "conditioner; default mlp(hidden=64, depth=2) for vectors, conv(hidden=128, kernel=3) for images" },
    scale: { type: "enum", values: ["sigmoid", "exp"], default: "sigmoid", doc: "affine scale: sigmoid(h + 2) + 1e-3 (Glow) or exp(c·tanh(h/c))" },
    clamp: { type: "float", default: 2.0, min: 0, exclusiveMin: true, doc: "c of scale=exp: log-scales stay within (−c, c)" },
    bins: { type: "int", default: 8, min: 2, max: 128, doc: "spline bins" },
    tail: { type: "float", default: 3, min: 0, exclusiveMin: true, doc: "the spline acts on [−tail, tail] and is the identity outside" },
  },
  accepts: "any",
  maskKind: (opts) => (opts.mask === "half" || opts.mask === undefined ? undefined : str(opts, "mask")),
  validate(opts, ctx: RuleCtx) {
    const t = str(opts, "transform");
    const noEffect = (option: string, reason: string, fix: string) => {
      if (ctx.written?.(option)) ctx.warn("FLOW214", { option, reason, fix }, ctx.spanOf(option));
    };
    if (t !== "affine") noEffect("scale", `with \`coupling ${t}\``, "remove it; `scale=` applies to `coupling affine`");
    if (t !== "affine") noEffect("clamp", `with \`coupling ${t}\``, "remove it; `clamp=` applies to `coupling affine scale=exp`");
    else if (opts.scale !== "exp") noEffect("clamp", "with scale=sigmoid", "remove it, or use scale=exp");
    if (t !== "spline") {
      noEffect("bins", `with \`coupling ${t}\``, "remove it, or use `coupling spline`");
      noEffect("tail", `with \`coupling ${t}\``, "remove it, or use `coupling spline`");
    }
  },
  resolve(opts, input, written) {
    const o: Opts = { ...opts };
    if (input && !written("mask")) o.mask = isImage(input) ? "checker" : "half";
    if (input && !written("net") && isImage(input)) o.net = structuredClone(CONV_DEFAULT);
    const t = str(o, "transform");
    if (t === "additive") return without(o, ["scale", "clamp", "bins", "tail"]);
    if (t === "spline") return without(o, ["scale", "clamp"]);
    return without(o, o.scale === "exp" ? ["bins", "tail"] : ["bins", "tail", "clamp"]);
  },
  shape(input, opts, ctx) {
    if (numel(input) < 2) {
      ctx.error("FLOW305", { layer: "coupling", shape: showShape(input) });
      return null;
    }
    let ok = true;
    const mask = str(opts, "mask");
    if ((mask === "checker" || mask === "channel") && !isImage(input)) {
      ctx.error("FLOW304", { mask, input: describeInput(input) }, ctx.spanOf("mask"));
      ok = false;
    } else if (mask === "checker" && input[1] * input[2] < 2) {
      ctx.error("FLOW314", { shape: showShape(input) }, ctx.spanOf("mask"));
      ok = false;
    } else if (mask === "channel" && input[0] < 2) {
      ctx.error("FLOW306", { what: "mask=channel", shape: showShape(input) }, ctx.spanOf("mask"));
      ok = false;
    }
    const n = net(opts);
    if (nets[n.kind]?.accepts === "image") {
      if (!isImage(input)) {
        ctx.error("FLOW307", { net: n.kind, input: describeInput(input) }, ctx.spanOf("net"));
        ok = false;
      } else if (mask !== "checker" && mask !== "channel") {
        ctx.error("FLOW308", { net: n.kind, mask }, ctx.spanOf("net"));
        ok = false;
      }
    }
    return ok ? input : null;
  },
  params(input, opts, ctx) {
    const n = net(opts);
    const { inDim, outDim } = conditionerDims(input, opts, ctx.parity, ctx.contextSize);
    return nets[n.kind].params(inDim, outDim, n.opts).map((p) => ({ ...p, name: `net.${p.name}` }));
  },
  direction: analyticBoth,
  flops(input, opts) {
    const n = net(opts);
    const { inDim, outDim } = conditionerDims(input, opts, 0, 0);
    const { b } = maskSizes(input, str(opts, "mask"), 0);
    const per = nets[n.kind].flops(inDim, outDim, n.opts) + b * transformFlops(str(opts, "transform"), (opts.bins as number | undefined) ?? 8);
    return { forward: per, inverse: per };
  },
  features(input, opts, parity) {
    return { coupled: transformedFeatures(input, str(opts, "mask"), parity) };
  },
};
