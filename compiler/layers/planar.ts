/**
 * @fileoverview `planar`: the planar flow of Rezende & Mohamed 2015
 * ("Variational inference with normalizing flows"), defined in the generative
 * direction: the layer's inverse (latent → data) is
 * `x = z + û · tanh(wᵀz + b)` with log|det| `log|1 + ûᵀψ(z)|`,
 * ψ(z) = (1 − tanh²(wᵀz + b)) w, and û = u + (m(wᵀu) − wᵀu) w/‖w‖²,
 * m(a) = −1 + softplus(a), which keeps the map invertible (their appendix A).
 * The data → latent direction has no closed form, so `logProb` of arbitrary
 * data is unavailable; `sampleAndLogProb` and reverse-KL training work.
 * Parameters: `u` [D], `w` [D], `b` [1].
 */
import type { DirectionInfo, EmitCtx, LayerCode, LayerKind } from "./types.ts";
import { mixing } from "./util.ts";

export const planar: LayerKind = {
  name: "planar",
  summary: "planar flow (generative direction only)",
  paper: "Rezende & Mohamed 2015",
  options: {},
  accepts: "vector",
  shape: (input) => input,
  // u and w start at the scale 1/√D (as Pyro's Planar does), not near zero: the layer
  // cannot start as the identity anyway (at wᵀu ≈ 0, wᵀû = m(0) = −0.31, a squeeze
  // across the hyperplane), and with tiny w that squeeze spans the whole space, so a
  // stack of 32 starts nearly collapsed and reverse KL takes thousands of steps to
  // undo it (measured on U1: KL 4.5 vs 0.70 after 3,000 steps).
  params: (input) => [
    { name: "u", shape: [input[0]], init: { kind: "uniform", bound: 1 / Math.sqrt(input[0]) } },
    { name: "w", shape: [input[0]], init: { kind: "uniform", bound: 1 / Math.sqrt(input[0]) } },
    { name: "b", shape: [1], init: { kind: "zeros" } },
  ],
  direction: (): DirectionInfo => ({
    forward: { kind: "none", cost: "parallel" },
    inverse: { kind: "analytic", cost: "parallel" },
    note: "defined latent → data; no closed-form inverse for scoring data",
  }),
  // Inverse: two dot products, an axpy, the tanh and the log-det term.
  flops: (input) => ({ forward: 0, inverse: 6 * input[0] + 10 }),
  features: (input) => mixing(input),
  emit: emitPlanar,
  testCases: [
    { input: [2], text: "planar" },
    { input: [3], text: "planar; planar" },
    { input: [5], text: "planar" },
    { input: [2], text: "planar; planar; planar" },
  ],
};

/**
 * Kernels, for the inverse direction only (forward and its backward trap: the
 * checker marks forward `none`, so the host never calls them).
 *
 * Per row, a = wᵀy + b and t = tanh(a); x = y + û·t and, since wᵀû = m(wᵀu)
 * by construction, log|det ∂x/∂y| = log(1 + (1 − t²)·m) with m > −1 and
 * 1 − t² ∈ (0, 1], so the determinant is positive without an abs.
 * `inv` saves t per row; `bwdInv` reuses that slot for ∂L/∂a.
 */
function emitPlanar(ctx: EmitCtx): LayerCode {
  const D = ctx.inShape[0];
  const u = ctx.p("u"), w = ctx.p("w"), b = ctx.p("b");
  const gu = ctx.g("u"), gw = ctx.g("w"), gb = ctx.g("b");
  const U = ctx.slot("uhat", 0, D);
  const GU = ctx.slot("guhat", 0, D);
  const T = ctx.slot("t", 1);
  const one = ctx.lit(1);
  // û = u + (m − wᵀu)·w/‖w‖²; the floor on ‖w‖² only matters for an all-zero w, where û = u.
  const prelude = `let wu: F = 0, ww: F = 0;
  for (let j = 0; j < ${D}; j++) { const wj = ldf(${w}, j); wu += wj * ldf(${u}, j); ww += wj * wj; }
  const m: F = softplus_(wu) - ${one};
  const wws: F = max_(ww, ${ctx.lit(1e-30)});
  const cc: F = (m - wu) / wws;
  for (let j = 0; j < ${D}; j++) stf(${U}, j, ldf(${u}, j) + cc * ldf(${w}, j));`;
  const inv = `${prelude}
  dense_fwd(${w}, ${b}, y, ${T}, n, ${D}, 1, ${D}, 1);
  for (let r = 0; r < n; r++) {
    const t = tanh_(ldf(${T}, r));
    stf(${T}, r, t);
    const o = r * ${D};
    for (let j = 0; j < ${D}; j++) stf(x, o + j, ldf(y, o + j) + t * ldf(${U}, j));
    addf(ld, r, log1p_((${one} - t * t) * m));
  }`;
  // ∂L/∂a = (ûᵀgx)·s + gld·∂ld/∂a with s = 1 − t², ∂ld/∂a = −2mts/(1 + sm); gy = gx + (∂L/∂a)·w.
  // ∂L/∂û = Σ t·gx and ∂L/∂m = Σ gld·s/(1 + sm) then flow back to u and w through
  // û = u + cc·w (cc = (m − wᵀu)/‖w‖², ∂m/∂(wᵀu) = σ(wᵀu)).
  const bwdInv = `${prelude}
  const sg: F = sigmoid_(wu);
  zero(${GU}, ${D});
  dense_bwd_w(${T}, gx, ${GU}, 0, n, 1, ${D}, 1, ${D});
  let gm: F = 0;
  for (let r = 0; r < n; r++) {
    const t = ldf(${T}, r);
    const s = ${one} - t * t;
    const den = ${one} + s * m;
    const o = r * ${D};
    let dg: F = 0;
    for (let j = 0; j < ${D}; j++) dg += ldf(gx, o + j) * ldf(${U}, j);
    const ga = dg * s - gld * ${ctx.lit(2)} * m * t * s / den;
    gm += gld * s / den;
    for (let j = 0; j < ${D}; j++) stf(gy, o + j, ldf(gx, o + j) + ga * ldf(${w}, j));
    stf(${T}, r, ga);
  }
  dense_bwd_w(y, ${T}, ${gw}, ${gb}, n, ${D}, 1, ${D}, 1);
  let gw_u: F = 0;
  for (let j = 0; j < ${D}; j++) gw_u += ldf(${GU}, j) * ldf(${w}, j);
  const kk: F = gw_u / wws;
  const q: F = kk * (sg - ${one}) + gm * sg;
  for (let j = 0; j < ${D}; j++) {
    const gj = ldf(${GU}, j), wj = ldf(${w}, j);
    addf(${gu}, j, gj + q * wj);
    addf(${gw}, j, cc * gj + q * ldf(${u}, j) - ${ctx.lit(2)} * kk * cc * wj);
  }`;
  return { fwd: "  unreachable();", inv, bwd: "  unreachable();", bwdInv };
}
