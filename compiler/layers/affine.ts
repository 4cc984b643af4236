/**
 * @fileoverview `affine`: an elementwise learned affine map
 * `y = x · exp(logs) + bias` with one scale and shift per feature of the
 * event (both [D] or [C, H, W]); log-det `Σ logs`. Starts as the identity.
 * The diagonal special case of an affine flow (Papamakarios et al. 2021,
 * "Normalizing flows for probabilistic modeling and inference", §3.1).
 */
import type { EmitCtx, LayerCode, LayerKind } from "./types.ts";
import { analyticBoth, elementwise, numel, perElement } from "./util.ts";

export const affine: LayerKind = {
  name: "affine",
  summary: "elementwise learned scale and shift",
  paper: "Papamakarios et al. 2021 (elementwise affine flow)",
  options: {},
  accepts: "any",
  shape: (input) => input,
  params: (input) => [
    { name: "bias", shape: [...input], init: { kind: "zeros" } },
    { name: "logs", shape: [...input], init: { kind: "zeros" } },
  ],
  direction: analyticBoth,
  flops: (input) => perElement(input, 3),
  features: () => elementwise,
  emit: emitAffine,
  testCases: [
    { input: [1], text: "affine" },
    { input: [5], text: "affine; affine" },
    { input: [3], text: "affine" },
    { input: [2, 3, 3], text: "affine" },
    { input: [3, 2, 5], text: "affine" },
  ],
};

/** Byte address of row `r` of an array with `width` F per row. */
const rowOf = (ctx: EmitCtx, p: string, r: string, width: number): string => `(${p} + ((<usize>${r} * ${width}) << ${ctx.shift}))`;

/**
 * Kernels. Each call first fills a slot with the per-element scale (and, for
 * the inverse, the offset), so a row is one SIMD multiply-add and exp runs
 * once per element per chunk rather than once per element per row.
 */
function emitAffine(ctx: EmitCtx): LayerCode {
  const D = numel(ctx.inShape);
  const b = ctx.p("bias"), s = ctx.p("logs"), gb = ctx.g("bias"), gs = ctx.g("logs");
  const A = ctx.slot("scale", 0, 2 * D);
  const Cc = `(${A} + ${D * ctx.sz})`;
  const row = (p: string) => rowOf(ctx, p, "r", D);
  const fwd = `let sl: f64 = 0;
  for (let j = 0; j < ${D}; j++) { const l = ldf(${s}, j); stf(${A}, j, exp_(l)); sl += <f64>l; }
  const ldv = <F>sl;
  for (let r = 0; r < n; r++) { ew_mul_add(${row("x")}, ${A}, ${b}, ${row("y")}, ${D}); addf(ld, r, ldv); }`;
  // x = (y − bias)·exp(−logs) = y·a + c with a = exp(−logs), c = −bias·a.
  const inv = `let sl: f64 = 0;
  for (let j = 0; j < ${D}; j++) { const l = ldf(${s}, j); const a = exp_(-l); stf(${A}, j, a); stf(${Cc}, j, -ldf(${b}, j) * a); sl += <f64>l; }
  const ldv = <F>sl;
  for (let r = 0; r < n; r++) { ew_mul_add(${row("y")}, ${A}, ${Cc}, ${row("x")}, ${D}); addf(ld, r, -ldv); }`;
  // ∂y/∂x = a, ∂y/∂bias = 1, ∂y/∂logs = x·a (= gx·x / gy), ∂ld/∂logs = 1 per row.
  const bwd = `for (let j = 0; j < ${D}; j++) stf(${A}, j, exp_(ldf(${s}, j)));
  for (let r = 0; r < n; r++) {
    ew_mul(${row("gy")}, ${A}, ${row("gx")}, ${D});
    axpy(${gb}, ${row("gy")}, ${D}, 1.0);
    ew_acc_mul(${gs}, ${row("gx")}, ${row("x")}, ${D});
  }
  ew_add_const(${gs}, ${D}, gld * <F>n);`;
  // Backward of the inverse x = (y − bias)·a, a = exp(−logs): ∂x/∂y = a, ∂x/∂bias = −a
  // (G_bias −= gy with gy = gx·a), ∂x/∂logs = −x, ∂ld/∂logs = −1 per row. Σ_r gx·x
  // collects in the slot's second half and is subtracted once.
  const bwdInv = `for (let j = 0; j < ${D}; j++) stf(${A}, j, exp_(-ldf(${s}, j)));
  zero(${Cc}, ${D});
  for (let r = 0; r < n; r++) {
    ew_mul(${row("gx")}, ${A}, ${row("gy")}, ${D});
    axpy(${gb}, ${row("gy")}, ${D}, -1.0);
    ew_acc_mul(${Cc}, ${row("gx")}, ${row("x")}, ${D});
  }
  axpy(${gs}, ${Cc}, ${D}, -1.0);
  ew_add_const(${gs}, ${D}, -gld * <F>n);`;
  return { fwd, inv, bwd, bwdInv };
}
