/**
 * @fileoverview `radial`: the radial flow of Rezende & Mohamed 2015, defined
 * in the generative direction: the layer's inverse (latent → data) is
 * `x = z + β h(α, r)(z − x0)`, r = ‖z − x0‖, h = 1/(α + r), with α = softplus(α̂)
 * and β = −α + softplus(β̂), which keeps the map invertible (their appendix
 * A); log|det| `(D − 1) log(1 + βh) + log(1 + βh + β h′ r)`. The data →
 * latent direction has no closed form here, so `logProb` of arbitrary data is
 * unavailable. Parameters: `x0` [D], `alpha` [1] (α̂), `beta` [1] (β̂).
 */
import type { DirectionInfo, EmitCtx, LayerCode, LayerKind } from "./types.ts";
import { mixing } from "./util.ts";

export const radial: LayerKind = {
  name: "radial",
  summary: "radial flow (generative direction only)",
  paper: "Rezende & Mohamed 2015",
  options: {},
  accepts: "vector",
  shape: (input) => input,
  params: (input) => [
    { name: "x0", shape: [input[0]], init: { kind: "normal", std: 0.01 } },
    { name: "alpha", shape: [1], init: { kind: "zeros" } },
    { name: "beta", shape: [1], init: { kind: "zeros" } },
  ],
  direction: (): DirectionInfo => ({
    forward: { kind: "none", cost: "parallel" },
    inverse: { kind: "analytic", cost: "parallel" },
    note: "defined latent → data; no closed-form inverse for scoring data",
  }),
  flops: (input) => ({ forward: 0, inverse: 6 * input[0] + 12 }),
  features: (input) => mixing(input),
  emit: emitRadial,
  testCases: [
    { input: [2], text: "radial" },
    { input: [3], text: "radial; radial" },
    { input: [5], text: "radial" },
    { input: [3], text: "planar; radial; planar" },
  ],
};

/**
 * Kernels, for the inverse direction only (forward and its backward trap: the
 * checker marks forward `none`, so the host never calls them).
 *
 * Per row, d = y − x0, r = ‖d‖, h = 1/(α + r): x = y + βh·d. With h′ = −h²,
 * 1 + βh + βh′r = 1 + αβh², so log|det| = (D − 1)·log1p(βh) + log1p(αβh²);
 * both terms are ≥ 0 inside the log because β > −α. `inv` saves r per row.
 */
function emitRadial(ctx: EmitCtx): LayerCode {
  const D = ctx.inShape[0];
  const x0 = ctx.p("x0"), pa = ctx.p("alpha"), pb = ctx.p("beta");
  const gx0 = ctx.g("x0"), ga = ctx.g("alpha"), gb = ctx.g("beta");
  const R = ctx.slot("r", 1);
  const one = ctx.lit(1), dm1 = ctx.lit(D - 1);
  const prelude = `const al: F = softplus_(ldf(${pa}, 0));
  const be: F = softplus_(ldf(${pb}, 0)) - al;`;
  const inv = `${prelude}
  for (let r = 0; r < n; r++) {
    const o = r * ${D};
    let r2: F = 0;
    for (let j = 0; j < ${D}; j++) { const d = ldf(y, o + j) - ldf(${x0}, j); r2 += d * d; }
    const rr = sqrt_(r2);
    stf(${R}, r, rr);
    const h = ${one} / (al + rr);
    const bh = be * h;
    for (let j = 0; j < ${D}; j++) { const yj = ldf(y, o + j); stf(x, o + j, yj + bh * (yj - ldf(${x0}, j))); }
    addf(ld, r, ${dm1} * log1p_(bh) + log1p_(al * bh * h));
  }`;
  // Per row, with dg = dᵀgx, e1 = 1 + βh, e2 = 1 + αβh²:
  //   ∂ld/∂r = −h²·((D−1)β/e1 + 2αβh/e2), and ∂r/∂y = d/r, ∂h/∂r = −h²,
  //   gy = e1·gx + q·d with q = (−βh²·dg + gld·∂ld/∂r)/r; x0 gets −(gy − gx);
  //   ∂L/∂β = h·dg + gld·((D−1)h/e1 + αh²/e2),
  //   ∂L/∂α = −βh²·dg + gld·(−(D−1)βh²/e1 + βh²(1 − 2αh)/e2)  (β held fixed),
  // then α = softplus(α̂), β = softplus(β̂) − α give ∂α̂ = σ(α̂)(∂α − ∂β), ∂β̂ = σ(β̂)∂β.
  // The floor on r only matters at y = x0, where d = 0 and the q·d term vanishes.
  const bwdInv = `${prelude}
  let sa: F = 0, sb: F = 0;
  for (let r = 0; r < n; r++) {
    const o = r * ${D};
    const rr = ldf(${R}, r);
    const h = ${one} / (al + rr);
    const h2 = h * h;
    const e1 = ${one} + be * h;
    const e2 = ${one} + al * be * h2;
    let dg: F = 0;
    for (let j = 0; j < ${D}; j++) dg += (ldf(y, o + j) - ldf(${x0}, j)) * ldf(gx, o + j);
    const ldr = -h2 * (${dm1} * be / e1 + ${ctx.lit(2)} * al * be * h / e2);
    const q = (-be * h2 * dg + gld * ldr) / max_(rr, ${ctx.lit(1e-30)});
    for (let j = 0; j < ${D}; j++) {
      const d = ldf(y, o + j) - ldf(${x0}, j);
      const g = ldf(gx, o + j);
      const extra = be * h * g + q * d;
      stf(gy, o + j, g + extra);
      addf(${gx0}, j, -extra);
    }
    sb += h * dg + gld * (${dm1} * h / e1 + al * h2 / e2);
    sa += -be * h2 * dg + gld * (-${dm1} * be * h2 / e1 + be * h2 * (${one} - ${ctx.lit(2)} * al * h) / e2);
  }
  addf(${ga}, 0, sigmoid_(ldf(${pa}, 0)) * (sa - sb));
  addf(${gb}, 0, sigmoid_(ldf(${pb}, 0)) * sb);`;
  return { fwd: "  unreachable();", inv, bwd: "  unreachable();", bwdInv };
}
