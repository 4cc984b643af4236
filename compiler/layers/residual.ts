/**
 * @fileoverview `residual hidden= lipschitz= terms= iterations=`: an
 * invertible residual block (i-ResNet, Behrmann et al. 2019). Forward (data →
 * latent) is explicit, `y = x + g(x)`, where g is a 3-layer dense net
 * D → hidden → hidden → D (ELU) whose weights are spectrally normalised,
 * W ← W / max(1, σ(W)/lipschitz), so Lip(g) ≤ lipschitz³ < 1.
 *
 * σ(W) is the exact largest singular value, recomputed from W on every call
 * (`ires_specnorm` in runtime-wasm/assembly/iresnet.ts: repeated squaring of
 * the normalised Gram matrix, then a Rayleigh quotient), never carried over
 * between calls, so the layer is a deterministic function of its parameters
 * and its gradient (through ∂σ/∂W = u·vᵀ) is exact.
 *
 * The log-det is exact too: the D×D Jacobian J_g = W2·diag(elu'(a1))·W1·
 * diag(elu'(a0))·W0 is formed per row and log|det(I + J_g)| read off its LU
 * factorisation, so there is no series truncation error. Its gradient uses
 * ∂log|det A|/∂A = A⁻ᵀ chained through J_g, which brings in elu''. The
 * `terms` option names the power-series fallback (Σ_{k≤terms} (−1)^{k+1}
 * tr(J_g^k)/k, truncation error ≤ D·L^{terms+1}/((terms+1)(1−L)) for
 * L = Lip(g)) for sizes where per-row LU would be too costly; the kernels do
 * not use it at present.
 *
 * The inverse is the fixed point x = y − g(x) from x = y, stopped when a
 * step moves no coordinate by more than tol·(1 + max|y|) (tol 1e-13 in f64,
 * 2e-6 in f32); the error after k steps is ≤ Lip(g)^k/(1 − Lip(g))·|g(y)|.
 * A row that has not converged after `iterations` steps comes out as NaN
 * (data and log-det), never as a silently wrong answer, so the host's
 * non-finite checks report it.
 *
 * Parameters: `net.0.weight` [hidden, D], `net.1.weight` [hidden, hidden],
 * `net.2.weight` [D, hidden] with biases (the last layer zero-initialised, so
 * the block starts as the identity), and per layer the power-iteration
 * vector of the spectral norm `net.<i>.weight_u` [out] (a buffer, as PyTorch's
 * spectral_norm; kept for weight-file compatibility, the kernels do not read it).
 */
import type { DirectionInfo, LayerKind, ParamDecl } from "./types.ts";
import { denseFlops, denseParams, mixing, num } from "./util.ts";

export const residual: LayerKind = {
  name: "residual",
  summary: "invertible residual block (i-ResNet); inverse by fixed-point iteration",
  paper: "Behrmann et al. 2019, i-ResNet",
  options: {
    hidden: { type: "int", default: 64, min: 1, max: 65536, doc: "width of g's hidden layers" },
    lipschitz: { type: "float", default: 0.9, min: 0, max: 1, exclusiveMin: true, exclusiveMax: true, doc: "Lipschitz bound of g; must be < 1 for invertibility" },
    terms: { type: "int", default: 5, min: 1, max: 100, doc: "power-series terms of the log-det estimate" },
    iterations: { type: "int", default: 100, min: 1, max: 10000, doc: "fixed-point iterations of the inverse" },
  },
  accepts: "vector",
  shape: (input) => input,
  params(input, opts) {
    const d = input[0];
    const h = num(opts, "hidden");
    const layers: [number, number, boolean][] = [[d, h, false], [h, h, false], [h, d, true]];
    const ps: ParamDecl[] = [];
    layers.forEach(([i, o, zero], k) => {
      ps.push(...denseParams(`net.${k}`, i, o, zero));
      ps.push({ name: `net.${k}.weight_u`, shape: [o], init: { kind: "normal", std: 1 }, trainable: false, note: "spectral-norm power iteration state" });
    });
    return ps;
  },
  direction: (_input, opts): DirectionInfo => ({
    forward: { kind: "analytic", cost: "parallel" },
    inverse: { kind: "iterative", cost: "sequential", passes: num(opts, "iterations") },
    note: "exact log-det by per-row LU of I + J_g",
  }),
  flops(input, opts) {
    const d = input[0];
    const h = num(opts, "hidden");
    const g = denseFlops(d, h) + denseFlops(h, h) + denseFlops(h, d) + 2 * h;
    // Per row: the D×D Jacobian (D·hidden² + D²·hidden multiply-adds) and its LU.
    const logdet = 2 * (d * h * h + d * d * h) + (2 * d * d * d) / 3;
    return { forward: g + d + logdet, inverse: num(opts, "iterations") * (g + d) + logdet };
  },
  features: (input) => mixing(input),
  testCases: [
    { input: [2], text: "residual hidden=4 lipschitz=0.5" },
    { input: [3], text: "residual hidden=5 lipschitz=0.9 iterations=400" },
    { input: [4], text: "residual hidden=8 lipschitz=0.7 iterations=200" },
    { input: [3], text: "residual hidden=6 lipschitz=0.6; residual hidden=4 lipschitz=0.8 iterations=300" },
  ],
  emit(ctx) {
    const D = ctx.inShape[0];
    const H = num(ctx.opts, "hidden");
    // The exact spectral norm squares an hidden×hidden Gram matrix (O(hidden³) per call,
    // 24·hidden² bytes of workspace); beyond this width that stops being reasonable.
    if (H > 1024) return null;
    const c = ctx.lit(num(ctx.opts, "lipschitz"));
    const iters = num(ctx.opts, "iterations");
    // Step tolerance of the fixed point, relative to the row's scale: far below the
    // suite's 1e-9 in f64, above rounding noise in f32.
    const tol = ctx.lit(ctx.precision === "f64" ? 1e-13 : 2e-6);
    const shapes: [number, number][] = [[H, D], [H, H], [D, H]];
    const W = shapes.map((_, k) => ctx.p(`net.${k}.weight`));
    const b = shapes.map((_, k) => ctx.p(`net.${k}.bias`));
    const GW = shapes.map((_, k) => ctx.g(`net.${k}.weight`));
    const Gbias = shapes.map((_, k) => ctx.g(`net.${k}.bias`));
    const sizes = shapes.map(([o, i]) => o * i);
    const metaSizes = shapes.map(([o, i]) => 2 + o + i);
    const offs = (xs: number[]) => xs.map((_, k) => xs.slice(0, k).reduce((a, v) => a + v, 0));
    const wOff = offs(sizes), mOff = offs(metaSizes);
    const we = ctx.slot("weff", 0, sizes[0] + sizes[1] + sizes[2]);
    const meta = ctx.slot("meta", 0, metaSizes[0] + metaSizes[1] + metaSizes[2]);
    const snBytes = Math.max(...shapes.map(([o, i]) => (3 * Math.min(o, i) ** 2 + 2 * Math.max(o, i)) * 8));
    const work = ctx.slot("snwork", 0, Math.ceil(snBytes / ctx.sz) + 2);
    const ldsc = ctx.slot("ldsc", 0, 4 * H * D + 3 * D * D + D);
    const We = wOff.map((o) => `(${we} + ${o * ctx.sz})`);
    const Me = mOff.map((o) => `(${meta} + ${o * ctx.sz})`);
    const gbar = ctx.slot("gbar", 0, sizes[0] + sizes[1] + sizes[2]);
    const Gb = wOff.map((o) => `(${gbar} + ${o * ctx.sz})`);
    const a0 = ctx.slot("a0", H), h0 = ctx.slot("h0", H), a1 = ctx.slot("a1", H), h1 = ctx.slot("h1", H);
    const rowsc = ctx.slot("row", 0, 3 * H + 2 * D);
    const ra0 = rowsc, ra1 = `(${rowsc} + ${H * ctx.sz})`, rh = `(${rowsc} + ${2 * H * ctx.sz})`;
    const rg = `(${rowsc} + ${3 * H * ctx.sz})`, rx = `(${rowsc} + ${(3 * H + D) * ctx.sz})`;
    // Spectral normalisation is recomputed from W on every call (deterministic, exact σ).
    const norm = shapes.map(([o, i], k) => `ires_specnorm(${W[k]}, ${o}, ${i}, ${c}, ${We[k]}, ${Me[k]}, ${work});`).join("\n  ");
    const fwd = `${norm}
  dense_fwd(${We[0]}, ${b[0]}, x, ${a0}, n, ${D}, ${H}, ${D}, ${H});
  elu_fwd(${a0}, ${h0}, n * ${H});
  dense_fwd(${We[1]}, ${b[1]}, ${h0}, ${a1}, n, ${H}, ${H}, ${H}, ${H});
  elu_fwd(${a1}, ${h1}, n * ${H});
  dense_fwd(${We[2]}, ${b[2]}, ${h1}, y, n, ${H}, ${D}, ${H}, ${D});
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < ${D}; j++) addf(y, r * ${D} + j, ldf(x, r * ${D} + j));
    addf(ld, r, ires_logdet(${We[0]}, ${We[1]}, ${We[2]}, at(${a0}, r * ${H}), at(${a1}, r * ${H}), ${D}, ${H}, ${ldsc}));
  }`;
    // Fixed point x = y − g(x) from x = y; a row that has not converged becomes NaN.
    const inv = `${norm}
  for (let r = 0; r < n; r++) {
    const yr = at(y, r * ${D}), xr = at(x, r * ${D});
    let sc: F = 1;
    for (let j = 0; j < ${D}; j++) { const v = abs<F>(ldf(yr, j)); stf(xr, j, ldf(yr, j)); if (<F>1 + v > sc) sc = <F>1 + v; }
    let ok = false;
    for (let it = 0; it < ${iters}; it++) {
      ires_g_row(${We[0]}, ${b[0]}, ${We[1]}, ${b[1]}, ${We[2]}, ${b[2]}, xr, ${rg}, ${ra0}, ${ra1}, ${rh}, ${D}, ${H});
      let step: F = 0;
      for (let j = 0; j < ${D}; j++) {
        const v = ldf(yr, j) - ldf(${rg}, j);
        const d = abs<F>(v - ldf(xr, j));
        if (d > step) step = d;
        stf(xr, j, v);
      }
      if (step <= ${tol} * sc) { ok = true; break; }
    }
    if (!ok) {
      for (let j = 0; j < ${D}; j++) stf(xr, j, <F>NaN);
      stf(ld, r, <F>NaN);
      continue;
    }
    ires_g_row(${We[0]}, ${b[0]}, ${We[1]}, ${b[1]}, ${We[2]}, ${b[2]}, xr, ${rg}, ${ra0}, ${ra1}, ${rh}, ${D}, ${H});
    addf(ld, r, -ires_logdet(${We[0]}, ${We[1]}, ${We[2]}, ${ra0}, ${ra1}, ${D}, ${H}, ${ldsc}));
  }`;
    // Gradients first go to the normalised weights (gbar), then through σ(W) once per chunk;
    // the log-det's share of ∂L/∂a0, ∂L/∂a1 (gl0, gl1) is added to the ordinary back-propagation,
    // and h1, spent once W2's gradient is taken, holds ∂L/∂a0.
    const gl0 = ctx.slot("gl0", H), gl1 = ctx.slot("gl1", H), t1 = ctx.slot("t1", H);
    const bwd = `zero(${gbar}, ${sizes[0] + sizes[1] + sizes[2]});
  for (let r = 0; r < n; r++)
    ires_logdet_bwd(${We[0]}, ${We[1]}, ${We[2]}, at(${a0}, r * ${H}), at(${a1}, r * ${H}), gld, ${D}, ${H}, ${ldsc}, ${Gb[0]}, ${Gb[1]}, ${Gb[2]}, at(${gl0}, r * ${H}), at(${gl1}, r * ${H}));
  dense_bwd_w(${h1}, gy, ${Gb[2]}, ${Gbias[2]}, n, ${H}, ${D}, ${H}, ${D});
  dense_bwd_x(${We[2]}, gy, ${t1}, n, ${H}, ${D}, ${D}, ${H});
  for (let k = 0; k < n * ${H}; k++) stf(${t1}, k, ldf(${t1}, k) * elu_ds(ldf(${a1}, k)) + ldf(${gl1}, k));
  dense_bwd_w(${h0}, ${t1}, ${Gb[1]}, ${Gbias[1]}, n, ${H}, ${H}, ${H}, ${H});
  dense_bwd_x(${We[1]}, ${t1}, ${h1}, n, ${H}, ${H}, ${H}, ${H});
  for (let k = 0; k < n * ${H}; k++) stf(${h1}, k, ldf(${h1}, k) * elu_ds(ldf(${a0}, k)) + ldf(${gl0}, k));
  dense_bwd_w(x, ${h1}, ${Gb[0]}, ${Gbias[0]}, n, ${D}, ${H}, ${D}, ${H});
  dense_bwd_x(${We[0]}, ${h1}, gx, n, ${D}, ${H}, ${H}, ${D});
  for (let k = 0; k < n * ${D}; k++) addf(gx, k, ldf(gy, k));
  ${shapes.map(([o, i], k) => `ires_specnorm_bwd(${W[k]}, ${Gb[k]}, ${Me[k]}, ${GW[k]}, ${o}, ${i});`).join("\n  ")}`;
    return { fwd, inv, bwd };
  },
};
