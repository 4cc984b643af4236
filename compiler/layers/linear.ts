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
  testCases: [
    { input: [2], text: "linear lu" },
    { input: [3], text: "linear lu" },
    { input: [5], text: "linear lu" },
    { input: [8], text: "linear lu" },
    { input: [13], text: "linear lu; linear lu" },
  ],
};

/**
 * Kernels. The factors are applied in turn, u = (U + diag)·x, v = (I + L)·u,
 * y = P·v + b, so no D³ rebuild of W is needed per call and bwd reads u from
 * fwd. P is a 0/1 permutation matrix; each call turns it into a row → column
 * index table (y_i = v_perm[i]) so applying it is a gather.
 */
function emitLinear(ctx: EmitCtx): LayerCode {
  const D = ctx.inShape[0];
  const P = ctx.p("P"), L = ctx.p("L"), U = ctx.p("U"), sign = ctx.p("sign"), logs = ctx.p("logs"), b = ctx.p("bias");
  const gL = ctx.g("L"), gU = ctx.g("U"), glogs = ctx.g("logs"), gb = ctx.g("bias");
  const perm = ctx.slot("perm", 0, D); // D i32 in a slot of D F
  const diag = ctx.slot("diag", 0, D);
  const u = ctx.slot("u", D); // (U + diag)·x per row, for bwd
  const v = ctx.slot("v", D);
  const prep = ctx.uid("lin_prep");
  // Returns Σ logs; fills the permutation table and the diagonal sign·exp(logs).
  ctx.helper(`function ${prep}(P: usize, ws: usize): F {
  let s: F = 0;
  for (let i = 0; i < ${D}; i++) {
    let j = 0;
    for (let k = 1; k < ${D}; k++) if (ldf(${P}, i * ${D} + k) > ldf(${P}, i * ${D} + j)) j = k;
    store<i32>(${perm} + (<usize>i << 2), j);
    const l = ldf(${logs}, i);
    stf(${diag}, i, ldf(${sign}, i) * exp_(l));
    s += l;
  }
  return s;
}`);
  const fwd = `const sl = ${prep}(P, ws);
  matvec_upper(${U}, ${diag}, x, ${u}, n, ${D}, ${D}, ${D});
  matvec_lower_unit(${L}, ${u}, ${v}, n, ${D}, ${D}, ${D});
  for (let r = 0; r < n; r++) {
    const o = r * ${D};
    for (let i = 0; i < ${D}; i++) stf(y, o + i, ldf(${v}, o + load<i32>(${perm} + (<usize>i << 2))) + ldf(${b}, i));
    addf(ld, r, sl);
  }`;
  // x = (U + diag)⁻¹ (I + L)⁻¹ Pᵀ (y − b), solved in place in x.
  const inv = `const sl = ${prep}(P, ws);
  for (let r = 0; r < n; r++) {
    const o = r * ${D};
    for (let i = 0; i < ${D}; i++) stf(x, o + load<i32>(${perm} + (<usize>i << 2)), ldf(y, o + i) - ldf(${b}, i));
    addf(ld, r, -sl);
  }
  solve_lower_unit(${L}, x, n, ${D}, ${D});
  solve_upper(${U}, ${diag}, x, n, ${D}, ${D});`;
  // gv = Pᵀ gy; gL += gv uᵀ (strict lower); gu = (I + L)ᵀ gv; gU += gu xᵀ (strict upper);
  // ∂/∂logs_i = Σ_r gu_i x_i · diag_i + n·gld; gx = (U + diag)ᵀ gu.
  const bwd = `for (let r = 0; r < n; r++) {
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
  const nl = <F>n * gld;
  for (let i = 0; i < ${D}; i++) {
    let s: F = 0;
    for (let r = 0; r < n; r++) s += ldf(${v}, r * ${D} + i) * ldf(x, r * ${D} + i);
    addf(${glogs}, i, s * ldf(${diag}, i) + nl);
  }
  matvec_upper_t(${U}, ${diag}, ${v}, gx, n, ${D}, ${D}, ${D});`;
  return { fwd, inv, bwd };
}
