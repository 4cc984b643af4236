/**
 * @fileoverview `maf affine|spline hidden= depth=`: a masked autoregressive
 * flow layer (Papamakarios et al. 2017) with a MADE conditioner (Germain et
 * al. 2015). affine: `y_i = (x_i − μ_i(x_<i)) · exp(−α_i(x_<i))`, log-det
 * `−Σ α_i`; spline: a rational-quadratic spline per feature whose knots
 * depend on x_<i (Durkan et al. 2019). Scoring (forward) is one parallel
 * pass; sampling (inverse) needs D sequential passes, one per feature.
 *
 * MADE parameters (dense, PyTorch layout; the autoregressive masks are
 * derived from the feature order and applied by the kernels, not stored):
 * `made.0.weight` [hidden, D (+ context)], `made.1.weight` [hidden, hidden],
 * …, `made.<depth>.weight` [factor·D, hidden] (factor 2 affine, 3·bins − 1
 * spline), each with a bias; the output layer is zero-initialised so the
 * layer starts as the identity.
 */
import type { DirectionInfo, EmitCtx, FeatureFlow, LayerCode, LayerKind, LayerTestCase, OptionSpec, Opts, ParamDecl, RuleCtx, Shape, VariantGroup } from "./types.ts";
import { denseFlops, denseParams, num, showShape, str, transformFactor, transformFlops, without } from "./util.ts";

/** Options, variants and rules shared by maf and iaf (the same layer read the other way). */
export const madeVariants: VariantGroup[] = [{ name: "transform", values: ["affine", "spline"], default: "affine", doc: "elementwise transform of each feature" }];

export const madeOptions: Record<string, OptionSpec> = {
  hidden: { type: "int", default: 64, min: 1, max: 65536, doc: "width of MADE's hidden layers" },
  depth: { type: "int", default: 2, min: 1, max: 64, doc: "number of MADE hidden layers" },
  bins: { type: "int", default: 8, min: 2, max: 128, doc: "spline bins" },
  tail: { type: "float", default: 3, min: 0, exclusiveMin: true, doc: "the spline acts on [−tail, tail] and is the identity outside" },
};

export function madeValidate(layer: string) {
  return (opts: Opts, ctx: RuleCtx): void => {
    if (opts.transform === "spline") return;
    for (const option of ["bins", "tail"]) {
      if (ctx.written?.(option)) ctx.warn("FLOW214", { option, reason: `with \`${layer} affine\``, fix: `remove it, or use \`${layer} spline\`` }, ctx.spanOf(option));
    }
  };
}

export const madeResolve = (opts: Opts): Opts => (opts.transform === "spline" ? opts : without(opts, ["bins", "tail"]));

export function madeShape(layer: string) {
  return (input: Shape, _opts: Opts, ctx: RuleCtx): Shape | null => {
    if (input[0] < 2) {
      ctx.error("FLOW305", { layer, shape: showShape(input) });
      return null;
    }
    return input;
  };
}

const factorOf = (opts: Opts) => transformFactor(str(opts, "transform"), (opts.bins as number | undefined) ?? 8);

export function madeParams(input: Shape, opts: Opts, contextSize: number): ParamDecl[] {
  const d = input[0];
  const hidden = num(opts, "hidden");
  const depth = num(opts, "depth");
  const ps = denseParams("made.0", d + contextSize, hidden);
  for (let i = 1; i < depth; i++) ps.push(...denseParams(`made.${i}`, hidden, hidden));
  ps.push(...denseParams(`made.${depth}`, hidden, factorOf(opts) * d, true));
  return ps;
}

/** One MADE evaluation plus the elementwise transform, per sample. */
export function madePass(input: Shape, opts: Opts): { net: number; transform: number } {
  const d = input[0];
  const hidden = num(opts, "hidden");
  const depth = num(opts, "depth");
  const net = denseFlops(d, hidden) + (depth - 1) * denseFlops(hidden, hidden) + depth * hidden + denseFlops(hidden, factorOf(opts) * d);
  return { net, transform: d * transformFlops(str(opts, "transform"), (opts.bins as number | undefined) ?? 8) };
}

/** Feature 0 has no predecessors, so it is only transformed elementwise. */
export function madeFeatures(input: Shape): FeatureFlow {
  return { coupled: Array.from({ length: input[0] }, (_, i) => i > 0) };
}

export const maf: LayerKind = {
  name: "maf",
  summary: "masked autoregressive flow: fast scoring, D sequential passes to sample",
  paper: "Papamakarios et al. 2017, MAF; Germain et al. 2015, MADE",
  variants: madeVariants,
  options: madeOptions,
  accepts: "vector",
  validate: madeValidate("maf"),
  resolve: madeResolve,
  shape: madeShape("maf"),
  params: (input, opts, ctx) => madeParams(input, opts, ctx.contextSize),
  direction: (input): DirectionInfo => ({
    forward: { kind: "analytic", cost: "parallel" },
    inverse: { kind: "analytic", cost: "sequential", passes: input[0] },
    note: `sampling runs ${input[0]} sequential passes`,
  }),
  flops(input, opts) {
    const { net, transform } = madePass(input, opts);
    return { forward: net + transform, inverse: input[0] * net + transform };
  },
  features: (input) => madeFeatures(input),
  emit: (ctx) => emitAutoregressive(ctx, "maf"),
  testCases: madeTestCases("maf"),
  zeroInitElementwise: true,
};

// ---------------------------------------------------------------- kernels

/** Test configurations shared by maf and iaf: odd sizes, one and two hidden layers, a context. */
export function madeTestCases(layer: string): LayerTestCase[] {
  return [
    { input: [2], text: `${layer} affine hidden=8 depth=1` },
    { input: [3], text: `${layer} affine hidden=8 depth=2` },
    { input: [5], text: `${layer} affine hidden=16 depth=1` },
    { input: [5], text: `${layer} affine hidden=16 depth=2` },
    { input: [3], text: `${layer} affine hidden=3 depth=2; ${layer} affine hidden=8 depth=1` },
    { input: [2], context: 2, text: `${layer} affine hidden=8 depth=1` },
    { input: [5], context: 2, text: `${layer} affine hidden=16 depth=2` },
    // Splines: tail 1, so the N(0, 1) inputs fall both inside [−B, B] and in the identity tails.
    { input: [2], text: `${layer} spline bins=2 tail=1 hidden=8 depth=1` },
    { input: [3], text: `${layer} spline bins=4 tail=1 hidden=8 depth=2` },
    { input: [5], text: `${layer} spline bins=4 tail=1 hidden=16 depth=1` },
    { input: [5], text: `${layer} spline bins=2 tail=1 hidden=3 depth=2` },
    { input: [3], text: `${layer} spline bins=4 tail=1 hidden=8 depth=1; ${layer} spline bins=2 tail=1 hidden=8 depth=2` },
    { input: [3], context: 2, text: `${layer} spline bins=4 tail=1 hidden=8 depth=1` },
  ];
}

/**
 * MADE (Germain et al. 2015) evaluated by the kernels. Degrees: input j has
 * degree j + 1; hidden unit k of every hidden layer has degree
 * ⌊k·(D − 1)/H⌋ + 1, so degrees rise with k and each of 1..D − 1 gets an
 * equal share of the units (when H ≥ D − 1); context inputs are seen by every
 * hidden unit. A unit sees the inputs and units of lower-or-equal degree;
 * output row o belongs to feature ⌊o / factor⌋ (affine: row 2i is μ_i, row
 * 2i + 1 is α_i) and sees the units of degree ≤ i, so feature i depends on
 * x_<i only. Sorted degrees make every mask row a prefix: the units of degree
 * ≤ m are the first c(m) = ⌈m·H/(D − 1)⌉, and pass k of a sequential
 * direction only computes those c(k) units of each hidden layer.
 *
 * The stored weights are never trusted to be masked: each call copies them
 * masked into the workspace (cheap next to the products over a chunk) and
 * the parameter gradients at masked entries are zeroed after accumulation,
 * so a perturbed or loaded weight file cannot break the autoregressive
 * structure. `project` also zeroes them in P, so saved weights are the
 * effective ones.
 */
interface Made {
  /** Statement (in a kernel): copy the masked weights into the workspace. */
  prep: string;
  /** Width of a MADE input row (D + context). */
  S: number;
  /** Row buffer of MADE inputs when there is a context; "" when MADE reads the data rows directly. */
  inbuf: string;
  /** MADE outputs: n rows of factor·D (μ_i, α_i interleaved). */
  out: string;
  /** Statement: zero the hidden activations, so units a sequential pass skips hold finite values. */
  clear: string;
  /** Statement: run MADE on `inp` (rows of S); `k` < 0 computes every output, else only feature k's. */
  run(inp: string, k: string): string;
  /** Statement: back-propagate gOut (rows of factor·D) to gin (rows of S, or "0" for none);
   *  with `params`, accumulate the masked parameter gradients into G. */
  back(inp: string, gout: string, gin: string, params: boolean): string;
  /** Statements: inbuf's data part ← rows of `src` (D wide) and its context part ← cx (zeros if cx = 0). */
  fill(src: string): string;
  /** The `project` body. */
  project: string;
  /** The sequential direction: D passes; pass k runs MADE on `dst` as built so far (with the
   *  context), then `body` (r, k and q = r·D + k in scope) writes feature k of every row into
   *  `dst`; `written` is the value fed back to MADE's input (a name from `body`, or an expression). */
  sequential(dst: string, body: string, written: string): string;
}

function made(ctx: EmitCtx, factor: number): Made {
  const D = ctx.inShape[0], C = ctx.contextSize, S = D + C;
  const H = num(ctx.opts, "hidden"), depth = num(ctx.opts, "depth");
  const FD = factor * D, sh = ctx.shift;
  const W = (l: number) => ctx.p(`made.${l}.weight`), B = (l: number) => ctx.p(`made.${l}.bias`);
  const gW = (l: number) => ctx.g(`made.${l}.weight`), gB = (l: number) => ctx.g(`made.${l}.bias`);
  const inDim = (l: number) => (l === 0 ? S : H);
  const outDim = (l: number) => (l === depth ? FD : H);
  const sizes = Array.from({ length: depth + 1 }, (_, l) => inDim(l) * outDim(l));
  const mwAll = ctx.slot("mw", 0, sizes.reduce((a, b) => a + b, 0));
  const mwOff = sizes.map((_, l) => sizes.slice(0, l).reduce((a, b) => a + b, 0));
  const MW = (l: number) => `(${mwAll} + ${mwOff[l] << sh})`;
  const hid = Array.from({ length: depth }, (_, l) => ctx.slot(`h${l}`, H));
  const ga = ctx.slot("ga", H), gb = ctx.slot("gb", H);
  const out = ctx.slot("out", FD);
  const inbuf = C > 0 ? ctx.slot("in", S) : "";
  const id = ctx.uid("made");
  const deg = `${id}_deg`, units = `${id}_units`;
  ctx.helper(`/** Degree of hidden unit k. */
@inline function ${deg}(k: i32): i32 { return k * ${D - 1} / ${H} + 1; }
/** Number of hidden units of degree ≤ m (they come first). */
@inline function ${units}(m: i32): i32 { return (m * ${H} + ${D - 2}) / ${D - 1}; }`);
  // Row o of layer l keeps columns [0, keep) and zeroes [keep, end); layer 0 keeps the context columns.
  const maskLoops = (src: (l: number) => string, dst: (l: number) => string): string =>
    Array.from({ length: depth + 1 }, (_, l) => {
      const keep = l === 0 ? `${deg}(o)` : l < depth ? `${units}(${deg}(o))` : `${units}(o / ${factor})`;
      const end = l === 0 ? D : H;
      return `for (let o = 0; o < ${outDim(l)}; o++) {
    const keep = ${keep};
    const s = at(${src(l)}, o * ${inDim(l)}), d = at(${dst(l)}, o * ${inDim(l)});
    if (d != s) copy(d, s, ${inDim(l)});
    zero(at(d, keep), ${end} - keep);
  }`;
    }).join("\n  ");
  ctx.helper(`function ${id}_prep(P: usize, ws: usize): void {
  ${maskLoops(W, MW)}
}`);
  ctx.helper(`function ${id}_gmask(G: usize): void {
  ${maskLoops(gW, gW)}
}`);
  // Hidden activations are stored after the relu, in place; relu' is read from them
  // (h > 0 ⇔ pre > 0). Pass k of a sequential direction computes the first c(k) units only.
  const hidLines = (rows: string) => {
    const lines = [`dense_fwd(${MW(0)}, ${B(0)}, inp, ${hid[0]}, n, ${S}, ${rows}, ${S}, ${H});`, `relu_fwd(${hid[0]}, ${hid[0]}, n * ${H});`];
    for (let l = 1; l < depth; l++) {
      lines.push(`dense_fwd(${MW(l)}, ${B(l)}, ${hid[l - 1]}, ${hid[l]}, n, ${H}, ${rows}, ${H}, ${H});`, `relu_fwd(${hid[l]}, ${hid[l]}, n * ${H});`);
    }
    return lines.join("\n    ");
  };
  const last = hid[depth - 1];
  ctx.helper(`function ${id}_run(P: usize, ws: usize, inp: usize, n: i32, k: i32): void {
  if (k < 0) {
    ${hidLines(String(H))}
    dense_fwd(${MW(depth)}, ${B(depth)}, ${last}, ${out}, n, ${H}, ${FD}, ${H}, ${FD});
  } else {
    const c = ${units}(k);
    if (c > 0) {
    ${hidLines("c")}
    }
    dense_fwd(${MW(depth)} + (<usize>(k * ${factor * H}) << ${sh}), ${B(depth)} + (<usize>(k * ${factor}) << ${sh}), ${last}, ${out} + (<usize>(k * ${factor}) << ${sh}), n, ${H}, ${factor}, ${H}, ${FD});
  }
}`);
  // Gradient ping-pong between ga and gb, from the output layer down to the input layer.
  const backLines = [
    `if (params) dense_bwd_w(${last}, gout, ${gW(depth)}, ${gB(depth)}, n, ${H}, ${FD}, ${H}, ${FD});`,
    `dense_bwd_x(${MW(depth)}, gout, ${ga}, n, ${H}, ${FD}, ${FD}, ${H});`,
    `relu_bwd(${last}, ${ga}, ${ga}, n * ${H});`,
  ];
  let cur = ga, other = gb;
  for (let l = depth - 1; l >= 1; l--) {
    backLines.push(
      `if (params) dense_bwd_w(${hid[l - 1]}, ${cur}, ${gW(l)}, ${gB(l)}, n, ${H}, ${H}, ${H}, ${H});`,
      `dense_bwd_x(${MW(l)}, ${cur}, ${other}, n, ${H}, ${H}, ${H}, ${H});`,
      `relu_bwd(${hid[l - 1]}, ${other}, ${other}, n * ${H});`,
    );
    [cur, other] = [other, cur];
  }
  backLines.push(
    `if (params) { dense_bwd_w(inp, ${cur}, ${gW(0)}, ${gB(0)}, n, ${S}, ${H}, ${S}, ${H}); ${id}_gmask(G); }`,
    `if (gin != 0) dense_bwd_x(${MW(0)}, ${cur}, gin, n, ${S}, ${H}, ${H}, ${S});`,
  );
  ctx.helper(`function ${id}_back(P: usize, G: usize, ws: usize, inp: usize, gout: usize, gin: usize, n: i32, params: bool): void {
  ${backLines.join("\n  ")}
}`);
  const fill = (src: string) => C === 0 ? "" : `for (let r = 0; r < n; r++) {
    copy(at(${inbuf}, r * ${S}), at(${src}, r * ${D}), ${D});
    if (cx != 0) copy(at(${inbuf}, r * ${S} + ${D}), at(cx, r * ${C}), ${C});
    else zero(at(${inbuf}, r * ${S} + ${D}), ${C});
  }`;
  return {
    prep: `${id}_prep(P, ws);`,
    S,
    inbuf,
    out,
    clear: hid.map((h) => `zero(${h}, n * ${H});`).join(" "),
    run: (inp, k) => `${id}_run(P, ws, ${inp}, n, ${k});`,
    back: (inp, gout, gin, params) => `${id}_back(P, G, ws, ${inp}, ${gout}, ${gin}, n, ${params});`,
    fill,
    project: maskLoops(W, W),
    sequential: (dst, body, written) => `${id}_prep(P, ws);
  zero(${dst}, n * ${D});
  ${hid.map((h) => `zero(${h}, n * ${H});`).join(" ")}
  ${fill(dst)}
  for (let k = 0; k < ${D}; k++) {
    ${id}_run(P, ws, ${C > 0 ? inbuf : dst}, n, k);
    for (let r = 0; r < n; r++) {
      const q = r * ${D} + k;
${body}${C > 0 ? `\n      stf(${inbuf}, r * ${S} + k, ${written});` : ""}
    }
  }`,
  };
}

/**
 * Kernels of maf and iaf, which share one elementwise transform
 * `normalize: z_i = (u_i − μ_i)·exp(−α_i)` (log-det −Σα) and its inverse
 * `denormalize: u_i = z_i·exp(α_i) + μ_i`, with μ, α from MADE:
 *  - maf forward: normalize, MADE on the input x: one parallel pass.
 *  - maf inverse: denormalize, MADE on the output x being built: D passes.
 *  - iaf forward: normalize, MADE on the output z being built: D passes.
 *  - iaf inverse: denormalize, MADE on the input z: one parallel pass.
 * The sequential passes compute only feature k's outputs on pass k; feature k
 * depends on the first k features alone, which are final by then. Hidden
 * units never see the last feature, so after the last pass the saved
 * activations are those at the final values, as bwd needs.
 */
export function emitAutoregressive(ctx: EmitCtx, layer: "maf" | "iaf"): LayerCode | null {
  if (str(ctx.opts, "transform") === "spline") return emitSplineAutoregressive(ctx, layer);
  if (str(ctx.opts, "transform") !== "affine") return null;
  const D = ctx.inShape[0];
  const m = made(ctx, 2);
  const { out, S } = m;
  const ctxIn = m.inbuf !== "";
  const mu = (r: string, i: string) => `ldf(${out}, ${r} * ${2 * D} + 2 * ${i})`;
  const al = (r: string, i: string) => `ldf(${out}, ${r} * ${2 * D} + 2 * ${i} + 1)`;

  // Parallel passes: MADE on src, dst elementwise.
  const parallel = (src: string, dst: string, normalize: boolean): string => `${m.prep}
  ${m.fill(src)}
  ${m.run(ctxIn ? m.inbuf : src, "-1")}
  for (let r = 0; r < n; r++) {
    let s: F = 0;
    for (let i = 0; i < ${D}; i++) {
      const a = ${al("r", "i")};
      const q = r * ${D} + i;
      stf(${dst}, q, ${normalize ? `(ldf(${src}, q) - ${mu("r", "i")}) * exp_(-a)` : `ldf(${src}, q) * exp_(a) + ${mu("r", "i")}`});
      s += a;
    }
    addf(ld, r, ${normalize ? "-s" : "s"});
  }`;
  // Sequential passes: MADE on dst as it is built, one feature per pass.
  const sequential = (src: string, dst: string, normalize: boolean): string => m.sequential(dst, `      const a = ${al("r", "k")};
      const v = ${normalize ? `(ldf(${src}, q) - ${mu("r", "k")}) * exp_(-a)` : `ldf(${src}, q) * exp_(a) + ${mu("r", "k")}`};
      stf(${dst}, q, v);
      addf(ld, r, ${normalize ? "-a" : "a"});`, "v");

  const gout = ctx.slot("gout", 2 * D);
  const gin = ctx.slot("gin", S);
  // ∂z_i/∂μ_i = −e^{−α_i}, ∂z_i/∂α_i = −z_i, ∂ld/∂α_i = −1: gout from the adjoint v of z.
  const setGout = (v: string, e: string, z: string) => `for (let r = 0; r < n; r++) for (let i = 0; i < ${D}; i++) {
      const q = r * ${D} + i;
      const g = ldf(${v}, q);
      stf(${gout}, 2 * q, -g * ldf(${e}, q));
      stf(${gout}, 2 * q + 1, -g * ldf(${z}, q) - gld);
    }`;
  const e = ctx.slot("e", D);
  const expNeg = `for (let r = 0; r < n; r++) for (let i = 0; i < ${D}; i++) stf(${e}, r * ${D} + i, exp_(-${al("r", "i")}));`;
  // The inverse of both is denormalize, x_i = z_i·e^{α_i} + μ_i with log-det +Σα, right after
  // which MADE's saved activations and outputs are those of the final values. Its partials:
  // ∂x_i/∂μ_i = 1, ∂x_i/∂α_i = z_i·e^{α_i}, ∂ld/∂α_i = 1, ∂x_i/∂z_i = e^{α_i}.
  const expPos = `for (let r = 0; r < n; r++) for (let i = 0; i < ${D}; i++) stf(${e}, r * ${D} + i, exp_(${al("r", "i")}));`;
  const setGoutInv = (w: string, z: string) => `for (let r = 0; r < n; r++) for (let i = 0; i < ${D}; i++) {
      const q = r * ${D} + i;
      const g = ldf(${w}, q);
      stf(${gout}, 2 * q, g);
      stf(${gout}, 2 * q + 1, g * ldf(${z}, q) * ldf(${e}, q) + gld);
    }`;

  if (layer === "maf") {
    const inp = ctxIn ? m.inbuf : "x";
    const bwd = `${expNeg}
  ${setGout("gy", e, "y")}
  ${m.back(inp, gout, gin, true)}
  for (let r = 0; r < n; r++) for (let i = 0; i < ${D}; i++) {
    const q = r * ${D} + i;
    stf(gx, q, ldf(gy, q) * ldf(${e}, q) + ldf(${gin}, r * ${S} + i));
  }`;
    // The inverse x = h(y, x) is lower-triangular in x, as iaf's forward is in z: the
    // adjoint w of x solves w = gx + (∂h/∂x)ᵀ w + gld·∇_x ld by D − 1 MADE sweeps from
    // w = gx (exact, the same nilpotency argument as iaf's bwd below); then
    // gy = w·e^{α} and one last sweep accumulates gθ.
    const w = ctx.slot("v", D);
    const bwdInv = `${expPos}
  copy(${w}, gx, n * ${D});
  for (let it = 0; it < ${D - 1}; it++) {
    ${setGoutInv(w, "y")}
    ${m.back(inp, gout, gin, false)}
    for (let r = 0; r < n; r++) for (let i = 0; i < ${D}; i++) stf(${w}, r * ${D} + i, ldf(gx, r * ${D} + i) + ldf(${gin}, r * ${S} + i));
  }
  ${setGoutInv(w, "y")}
  ${m.back(inp, gout, "0", true)}
  for (let k = 0; k < n * ${D}; k++) stf(gy, k, ldf(${w}, k) * ldf(${e}, k));`;
    return { fwd: parallel("x", "y", true), inv: sequential("y", "x", false), bwd, bwdInv, project: m.project };
  }

  // iaf: z = h(x, z) with h lower-triangular in z. The adjoint v solves
  // v = gz + (∂h/∂z)ᵀ v + gld·∇_z ld; (∂h/∂z)ᵀ is nilpotent (strictly upper), so
  // D − 1 sweeps of MADE vector–Jacobian products from v = gz are exact. Then
  // gx = (∂h/∂x)ᵀ v = v·e^{−α} and gθ = (∂h/∂θ)ᵀ v + gld·∇_θ ld in one last sweep.
  const inp = ctxIn ? m.inbuf : "y";
  const v = ctx.slot("v", D);
  const bwd = `${expNeg}
  copy(${v}, gy, n * ${D});
  for (let it = 0; it < ${D - 1}; it++) {
    ${setGout(v, e, "y")}
    ${m.back(inp, gout, gin, false)}
    for (let r = 0; r < n; r++) for (let i = 0; i < ${D}; i++) stf(${v}, r * ${D} + i, ldf(gy, r * ${D} + i) + ldf(${gin}, r * ${S} + i));
  }
  ${setGout(v, e, "y")}
  ${m.back(inp, gout, "0", true)}
  for (let k = 0; k < n * ${D}; k++) stf(gx, k, ldf(${v}, k) * ldf(${e}, k));`;
  // iaf's inverse is the parallel direction (sampling, reverse-KL training): MADE ran once
  // on y, so its backward is a single MADE backward with gout from gx.
  const bwdInv = `${expPos}
  ${setGoutInv("gx", "y")}
  ${m.back(inp, gout, gin, true)}
  for (let r = 0; r < n; r++) for (let i = 0; i < ${D}; i++) {
    const q = r * ${D} + i;
    stf(gy, q, ldf(gx, q) * ldf(${e}, q) + ldf(${gin}, r * ${S} + i));
  }`;
  return { fwd: sequential("x", "y", true), inv: parallel("y", "x", false), bwd, bwdInv, project: m.project };
}

/**
 * The spline variant (Durkan et al. 2019): feature i's 3K − 1 spline parameters θ_i are
 * MADE outputs i·(3K − 1) … (i + 1)·(3K − 1) − 1 (rqs layout, stride 1), so θ_i depends on
 * the first i features only. maf: y_i = S(x_i; θ_i(x)) forward in one pass, x_i = S⁻¹(y_i;
 * θ_i(x)) in D passes; iaf: z_i = S(x_i; θ_i(z)) forward in D passes, x_i = S⁻¹(z_i; θ_i(z))
 * in one. Both forwards have log-det Σ log S'(x_i; θ_i), the inverses its negation.
 */
function emitSplineAutoregressive(ctx: EmitCtx, layer: "maf" | "iaf"): LayerCode {
  const D = ctx.inShape[0];
  const K = num(ctx.opts, "bins"), NP = 3 * K - 1;
  const tail = ctx.lit(num(ctx.opts, "tail"));
  const m = made(ctx, NP);
  const { out, S } = m;
  const ctxIn = m.inbuf !== "";
  const prm = (q: string) => `at(${out}, (${q}) * ${NP})`;
  const gout = ctx.slot("gout", NP * D);
  const gp = (q: string) => `at(${gout}, (${q}) * ${NP})`;
  const gin = ctx.slot("gin", S);
  // log dx/dy of each element, saved by the inverse for the backward of the inverse (1/S').
  const ldx = ctx.slot("invlogd", D);
  const spl = (src: string, dst: string, q: string, inverse: boolean) => inverse
    ? `rqs_inv(ldf(${src}, ${q}), ${prm(q)}, 1, ${K}, ${tail}, at(${dst}, ${q}))`
    : `rqs_fwd(ldf(${src}, ${q}), ${prm(q)}, 1, ${K}, ${tail}, at(${dst}, ${q}))`;
  const keep = (inverse: boolean, l: string, q: string) => (inverse ? `stf(${ldx}, ${q}, ${l});` : "");

  const parallel = (src: string, dst: string, inverse: boolean): string => `${m.prep}
  ${m.fill(src)}
  ${m.run(ctxIn ? m.inbuf : src, "-1")}
  for (let r = 0; r < n; r++) {
    let s: F = 0;
    for (let i = 0; i < ${D}; i++) {
      const q = r * ${D} + i;
      const l = ${spl(src, dst, "q", inverse)}; ${keep(inverse, "l", "q")}
      s += l;
    }
    addf(ld, r, s);
  }`;
  const sequential = (src: string, dst: string, inverse: boolean): string => m.sequential(dst, `      const l = ${spl(src, dst, "q", inverse)}; ${keep(inverse, "l", "q")}
      addf(ld, r, l);`, `ldf(${dst}, q)`);
  // One elementwise backward of the forward spline at x with adjoint v of its output and gld:
  // `dst` ← S'·v + gld·ℓ_x, gout ← S_θ·v + gld·ℓ_θ (ℓ = log S').
  const sweep = (v: string, dst: string) => `for (let q = 0; q < n * ${D}; q++) stf(${dst}, q, rqs_bwd(ldf(x, q), ${prm("q")}, 1, ${K}, ${tail}, ldf(${v}, q), gld, ${gp("q")}));`;
  const addGin = (dst: string) => `for (let r = 0; r < n; r++) for (let i = 0; i < ${D}; i++) addf(${dst}, r * ${D} + i, ldf(${gin}, r * ${S} + i));`;

  if (layer === "maf") {
    const inp = ctxIn ? m.inbuf : "x";
    const bwd = `${sweep("gy", "gx")}
  ${m.back(inp, gout, gin, true)}
  ${addGin("gx")}`;
    // Inverse x = f⁻¹(y) of the forward f(x)_i = S(x_i; θ_i(x)), ld = −ℓ(x). With J the
    // (lower-triangular) Jacobian of f, a = gy solves Jᵀa + gld·∇ℓ = gx, i.e. the forward's
    // bwd at (a, gld) returns gx: a_i ← a_i + (gx_i − bwd_x(a)_i)/S'_i, D sweeps from 0 are
    // exact (each fixes one more feature, from the last). Then gθ = −(forward bwd at (a, gld))_θ.
    const a = ctx.slot("v", D), res = ctx.slot("res", D);
    const bwdInv = `zero(${a}, n * ${D});
  for (let it = 0; it < ${D}; it++) {
    ${sweep(a, res)}
    ${m.back(inp, gout, gin, false)}
    ${addGin(res)}
    for (let q = 0; q < n * ${D}; q++) addf(${a}, q, (ldf(gx, q) - ldf(${res}, q)) * exp_(ldf(${ldx}, q)));
  }
  for (let q = 0; q < n * ${D}; q++) { const g = ldf(${a}, q); stf(gy, q, g); rqs_bwd(ldf(x, q), ${prm("q")}, 1, ${K}, ${tail}, -g, -gld, ${gp("q")}); }
  ${m.back(inp, gout, "0", true)}`;
    return { fwd: parallel("x", "y", false), inv: sequential("y", "x", true), bwd, bwdInv, project: m.project };
  }

  // iaf forward z = h(x, z), h_i = S(x_i; θ_i(z)): the adjoint v of z solves
  // v = gz + θ_zᵀ(S_θ·v + gld·ℓ_θ), nilpotent as in the affine case, so D − 1 sweeps from
  // v = gz are exact; the last sweep leaves gx = S'·v + gld·ℓ_x and accumulates gθ.
  const inp = ctxIn ? m.inbuf : "y";
  const v = ctx.slot("v", D);
  const bwd = `copy(${v}, gy, n * ${D});
  for (let it = 0; it < ${D - 1}; it++) {
    ${sweep(v, "gx")}
    ${m.back(inp, gout, gin, false)}
    copy(${v}, gy, n * ${D});
    ${addGin(v)}
  }
  ${sweep(v, "gx")}
  ${m.back(inp, gout, "0", true)}`;
  // iaf's inverse is parallel: x_i = S⁻¹(z_i; θ_i(z)), ld = −ℓ. Per element (as coupling's):
  // a = (g − gld·ℓ_x)/S', gθ = −(a·S_θ + gld·ℓ_θ); then gz = a + MADE's backward of gθ.
  const bwdInv = `for (let q = 0; q < n * ${D}; q++) {
    const xv = ldf(x, q);
    const lx = rqs_bwd(xv, ${prm("q")}, 1, ${K}, ${tail}, ${ctx.lit(0)}, ${ctx.lit(1)}, ${gp("q")});
    const a = (ldf(gx, q) - gld * lx) * exp_(ldf(${ldx}, q));
    stf(gy, q, a);
    rqs_bwd(xv, ${prm("q")}, 1, ${K}, ${tail}, -a, -gld, ${gp("q")});
  }
  ${m.back(inp, gout, gin, true)}
  ${addGin("gy")}`;
  return { fwd: sequential("x", "y", false), inv: parallel("y", "x", true), bwd, bwdInv, project: m.project };
}
