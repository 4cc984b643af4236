/**
 * @fileoverview `linear lu`: an invertible dense layer on vectors with Glow's
 * LU parameterisation (Kingma & Dhariwal 2018, §3.2): `y = W x + b`,
 * `W = P L (U + diag(sign · exp(logs)))` with P a fixed permutation, L unit
 * lower-triangular and U strictly upper-triangular (only those parts of the
 * stored [D, D] matrices are used). log-det `Σ logs`; the inverse is two
 * triangular solves. All parts start as the PLU decomposition of one random
 * rotation, so W starts orthogonal.
 */
import type { EmitCtx, LayerCode, LayerKind, ParamDecl } from "./types.ts";
import { analyticBoth, mixing } from "./util.ts";

/** Glow's LU parameter set over n features; shared with conv1x1. */
export function luParams(n: number): ParamDecl[] {
  const part = (p: "P" | "L" | "U" | "sign" | "logs") => ({ kind: "lu-rotation" as const, n, part: p, group: "w" });
  return [
    { name: "P", shape: [n, n], init: part("P"), trainable: false },
    { name: "L", shape: [n, n], init: part("L"), note: "strictly lower part used, unit diagonal" },
    { name: "U", shape: [n, n], init: part("U"), note: "strictly upper part used" },
    { name: "sign", shape: [n], init: part("sign"), trainable: false },
    { name: "logs", shape: [n], init: part("logs") },
  ];
}

export const linear: LayerKind = {
  name: "linear",
  summary: "invertible dense layer, LU-parameterised",
  paper: "Kingma & Dhariwal 2018, Glow (LU-decomposed weights)",
  variants: [{ name: "parametrization", values: ["lu"], default: "lu", doc: "`lu`: W = P L (U + diag(sign·exp(logs)))" }],
  options: {},
  accepts: "vector",
  shape: (input) => input,
  params(input) {
    const d = input[0];
    return [...luParams(d), { name: "bias", shape: [d], init: { kind: "zeros" } }];
  },
  direction: analyticBoth,
  // Forward is a mat-vec; the inverse is a forward and a backward substitution.
  flops: (input) => ({ forward: 2 * input[0] * input[0] + input[0], inverse: 2 * input[0] * input[0] + 2 * input[0] }),
  features: (input) => mixing(input),
  emit: emitLinear,
  // The suite runs 4 rows: [2] takes the whole-matrix kernels both ways, [3] and [5]
  // the whole-matrix forward with per-row solves, [8] and [13] the per-row kernels.
  testCases: [
    { input: [2], text: "linear lu" },
    { input: [3], text: "linear lu" },
    { input: [5], text: "linear lu" },
    { input: [8], text: "linear lu" },
    { input: [13], text: "linear lu; linear lu" },
  ],
};

/**
 * Kernels, two ways chosen per call by the chunk's row count n (the
 * crossovers measured at D = 64 and 128):
 *  - dense (n ≥ 3D/4): build W = P·(I + L)·(U + diag) into the workspace once
 *    per call (≈D³ in the blocked products of dense.ts) and run the rows
 *    through `dense_fwd`; bwd forms ∂L/∂W = Σ gy xᵀ and maps it onto the
 *    factors with two more D×D products.
 *  - per row (n small, where a D³ rebuild would dominate): apply the factors
 *    in turn, u = (U + diag)·x, v = (I + L)·u, y = P·v + b; bwd reads u.
 * P is a 0/1 permutation matrix; each call turns it into a row → column index
 * table (y_i = v_perm[i]), so applying it is a gather.
 */
function emitLinear(ctx: EmitCtx): LayerCode {
  const D = ctx.inShape[0];
  const P = ctx.p("P"), L = ctx.p("L"), U = ctx.p("U"), sign = ctx.p("sign"), logs = ctx.p("logs"), b = ctx.p("bias");
  const gL = ctx.g("L"), gU = ctx.g("U"), glogs = ctx.g("logs"), gb = ctx.g("bias");
  const perm = ctx.slot("perm", 0, D); // D i32 in a slot of D F
  const diag = ctx.slot("diag", 0, D);
  const u = ctx.slot("u", D);
  const v = ctx.slot("v", D);
  const W = ctx.slot("W", 0, D * D), Af = ctx.slot("Af", 0, D * D), Bf = ctx.slot("Bf", 0, D * D);
  const T1 = ctx.slot("T1", 0, D * D), T2 = ctx.slot("T2", 0, D * D);
  const dense = `n >= ${Math.ceil(0.75 * D)}`;
  const invDense = `n >= ${2 * D}`;
  const cb = ctx.slot("cb", 0, D);
  const fwd = `const sl = lu_prep(${P}, ${sign}, ${logs}, ${perm}, ${diag}, ${D});
  if (${dense}) {
    lu_compose(${L}, ${U}, ${diag}, ${perm}, ${Af}, ${Bf}, ${T1}, ${W}, ${D});
    dense_fwd(${W}, ${b}, x, y, n, ${D}, ${D}, ${D}, ${D});
  } else {
    matvec_upper(${U}, ${diag}, x, ${u}, n, ${D}, ${D}, ${D});
    matvec_lower_unit(${L}, ${u}, ${v}, n, ${D}, ${D}, ${D});
    for (let r = 0; r < n; r++) {
      const o = r * ${D};
      for (let i = 0; i < ${D}; i++) stf(y, o + i, ldf(${v}, o + load<i32>(${perm} + (<usize>i << 2))) + ldf(${b}, i));
    }
  }
  for (let r = 0; r < n; r++) addf(ld, r, sl);`;
  // x = (U + diag)⁻¹ (I + L)⁻¹ Pᵀ (y − b). With many rows, W⁻¹ is formed once
  // (the same solves on the D rows of Pᵀ, giving W⁻ᵀ) and the rows go through a
  // blocked product; otherwise each row is solved in place in x.
  const inv = `const sl = lu_prep(${P}, ${sign}, ${logs}, ${perm}, ${diag}, ${D});
  if (${invDense}) {
    zero(${Af}, ${D * D});
    for (let i = 0; i < ${D}; i++) stf(${Af}, i * ${D} + load<i32>(${perm} + (<usize>i << 2)), <F>1);
    solve_lower_unit(${L}, ${Af}, ${D}, ${D}, ${D});
    solve_upper(${U}, ${diag}, ${Af}, ${D}, ${D}, ${D});
    for (let i = 0; i < ${D}; i++) {
      let s: F = 0;
      for (let o = 0; o < ${D}; o++) s += ldf(${Af}, o * ${D} + i) * ldf(${b}, o);
      stf(${cb}, i, s);
    }
    dense_bwd_x(${Af}, y, x, n, ${D}, ${D}, ${D}, ${D});
    for (let r = 0; r < n; r++) for (let i = 0; i < ${D}; i++) addf(x, r * ${D} + i, -ldf(${cb}, i));
  } else {
    for (let r = 0; r < n; r++) {
      const o = r * ${D};
      for (let i = 0; i < ${D}; i++) stf(x, o + load<i32>(${perm} + (<usize>i << 2)), ldf(y, o + i) - ldf(${b}, i));
    }
    solve_lower_unit(${L}, x, n, ${D}, ${D});
    copy(${u}, x, n * ${D});
    solve_upper(${U}, ${diag}, x, n, ${D}, ${D});
  }
  for (let r = 0; r < n; r++) addf(ld, r, -sl);`;
  // Per row: gv = Pᵀ gy; gL += gv uᵀ (strict lower); gu = (I + L)ᵀ gv; gU += gu xᵀ
  // (strict upper); ∂/∂logs_i = Σ_r gu_i x_i · diag_i + n·gld; gx = (U + diag)ᵀ gu.
  const bwd = `if (${dense}) {
    zero(${T1}, ${D * D});
    dense_bwd_w(x, gy, ${T1}, ${gb}, n, ${D}, ${D}, ${D}, ${D});
    dense_bwd_x(${W}, gy, gx, n, ${D}, ${D}, ${D}, ${D});
    lu_factor_grads(${T1}, ${diag}, ${perm}, ${Af}, ${Bf}, ${T2}, ${T1}, ${gL}, ${gU}, ${glogs}, ${D});
  } else {
    for (let r = 0; r < n; r++) {
      const o = r * ${D};
      for (let i = 0; i < ${D}; i++) stf(${v}, o + load<i32>(${perm} + (<usize>i << 2)), ldf(gy, o + i));
    }
    for (let i = 0; i < ${D}; i++) {
      let s: F = 0;
      for (let r = 0; r < n; r++) s += ldf(gy, r * ${D} + i);
      addf(${gb}, i, s);
    }
    outer_lower_acc(${gL}, ${v}, ${u}, n, ${D}, ${D}, ${D});
    matvec_lower_unit_t(${L}, ${v}, ${v}, n, ${D}, ${D}, ${D});
    outer_upper_acc(${gU}, ${v}, x, n, ${D}, ${D}, ${D});
    for (let i = 0; i < ${D}; i++) {
      let s: F = 0;
      for (let r = 0; r < n; r++) s += ldf(${v}, r * ${D} + i) * ldf(x, r * ${D} + i);
      addf(${glogs}, i, s * ldf(${diag}, i));
    }
    matvec_upper_t(${U}, ${diag}, ${v}, gx, n, ${D}, ${D}, ${D});
  }
  const nl = <F>n * gld;
  for (let i = 0; i < ${D}; i++) addf(${glogs}, i, nl);`;
  // Backward of the inverse x = W⁻¹(y − b): gy = W⁻ᵀ gx, and since dx = −W⁻¹(dW·x + db),
  // ∂L/∂W = −Σ gy xᵀ and ∂L/∂b = −Σ gy, i.e. the forward's factor gradients at −gy. It
  // follows inv's choice (same n), reading what inv left in the slots:
  //  - dense: Af holds W⁻ᵀ, so gy is one blocked product; −Σ gy xᵀ goes through
  //    lu_factor_grads once Af and Bf are refilled with the factors.
  //  - per row: inv saved u = (U + diag)·x = (I + L)⁻¹Pᵀ(y − b). Solving from −gx gives
  //    the forward's adjoints directly: gu = −(U + diag)⁻ᵀ gx (for gU, glogs), then
  //    gv = (I + L)⁻ᵀ gu (for gL), and gy = −P·gv.
  const bwdInv = `if (${invDense}) {
    dense_fwd(${Af}, 0, gx, gy, n, ${D}, ${D}, ${D}, ${D});
    for (let i = 0; i < ${D}; i++) {
      let s: F = 0;
      for (let r = 0; r < n; r++) s += ldf(gy, r * ${D} + i);
      addf(${gb}, i, -s);
    }
    zero(${T1}, ${D * D});
    dense_bwd_w(x, gy, ${T1}, 0, n, ${D}, ${D}, ${D}, ${D});
    scale_inplace(${T1}, ${D * D}, -1.0);
    lu_factors(${L}, ${U}, ${diag}, ${Af}, ${Bf}, ${D});
    lu_factor_grads(${T1}, ${diag}, ${perm}, ${Af}, ${Bf}, ${T2}, ${T1}, ${gL}, ${gU}, ${glogs}, ${D});
  } else {
    for (let k = 0; k < n * ${D}; k++) stf(${v}, k, -ldf(gx, k));
    solve_upper_t(${U}, ${diag}, ${v}, n, ${D}, ${D});
    outer_upper_acc(${gU}, ${v}, x, n, ${D}, ${D}, ${D});
    for (let i = 0; i < ${D}; i++) {
      let s: F = 0;
      for (let r = 0; r < n; r++) s += ldf(${v}, r * ${D} + i) * ldf(x, r * ${D} + i);
      addf(${glogs}, i, s * ldf(${diag}, i));
    }
    solve_lower_unit_t(${L}, ${v}, n, ${D}, ${D});
    outer_lower_acc(${gL}, ${v}, ${u}, n, ${D}, ${D}, ${D});
    for (let r = 0; r < n; r++) {
      const o = r * ${D};
      for (let i = 0; i < ${D}; i++) stf(gy, o + i, -ldf(${v}, o + load<i32>(${perm} + (<usize>i << 2))));
    }
    for (let i = 0; i < ${D}; i++) {
      let s: F = 0;
      for (let r = 0; r < n; r++) s += ldf(gy, r * ${D} + i);
      addf(${gb}, i, -s);
    }
  }
  const nl = <F>n * gld;
  for (let i = 0; i < ${D}; i++) addf(${glogs}, i, -nl);`;
  return { fwd, inv, bwd, bwdInv };
}
