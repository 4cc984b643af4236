/**
 * @fileoverview `actnorm`: activation normalisation (Kingma & Dhariwal 2018,
 * Glow). `y = (x + bias) · exp(logs)` per channel of an image or per feature
 * of a vector; log-det `HW · Σ logs`. `bias` and `logs` are set from the first
 * batch (bias = −mean, logs = −log(std + ε)), so the output starts with zero
 * mean and unit variance per channel.
 */
import type { EmitCtx, LayerCode, LayerKind } from "./types.ts";
import { analyticBoth, elementwise, featureDim, perElement, spatial } from "./util.ts";

export const actnorm: LayerKind = {
  name: "actnorm",
  summary: "per-channel scale and shift, initialised from the first batch",
  paper: "Kingma & Dhariwal 2018, Glow",
  options: {},
  accepts: "any",
  // A constant channel in the init batch gets logs = −log(1e-6) ≈ 13.8; exp(10) is far beyond any real scale.
  anomaly: {
    saturated: {
      param: "logs",
      atLeast: 10,
      what: "log-scale",
      hint: "actnorm's scale is set from the first batch, and a channel that was constant there (zero variance) gets a scale of 1e6; initialise on more varied data, or drop the constant feature",
    },
  },
  shape: (input) => input,
  params(input) {
    const n = featureDim(input);
    return [
      { name: "bias", shape: [n], init: { kind: "zeros" }, note: "data-dependent init: −mean of the first batch" },
      { name: "logs", shape: [n], init: { kind: "zeros" }, note: "data-dependent init: −log(std + ε) of the first batch" },
    ];
  },
  direction: analyticBoth,
  flops: (input) => perElement(input, 3),
  features: () => elementwise,
  emit: emitActnorm,
  testCases: [
    { input: [1], text: "actnorm" },
    { input: [7], text: "actnorm; actnorm" },
    { input: [3], text: "actnorm" },
    { input: [2, 4, 4], text: "actnorm" },
    { input: [3, 3, 5], text: "actnorm" },
    { input: [5, 1, 1], text: "actnorm" },
  ],
};

/** Byte address of row `r` of an array with `width` F per row. */
const rowOf = (ctx: EmitCtx, p: string, r: string, width: number): string => `(${p} + ((<usize>${r} * ${width}) << ${ctx.shift}))`;

/**
 * Kernels. A slot holds a per-channel scale `a` and offset `c` so each row is
 * one SIMD multiply-add (`y = a·x + c`): a = exp(logs), c = bias·a forward;
 * a = exp(−logs), c = −bias inverse. Images apply the channel's scalar pair to
 * its H·W block; vectors apply the arrays to the whole row.
 */
function emitActnorm(ctx: EmitCtx): LayerCode {
  const C = featureDim(ctx.inShape), HW = spatial(ctx.inShape), D = C * HW;
  const b = ctx.p("bias"), s = ctx.p("logs"), gb = ctx.g("bias"), gs = ctx.g("logs");
  const A = ctx.slot("scale", 0, 2 * C);
  const Cc = `(${A} + ${C * ctx.sz})`;
  const xr = rowOf(ctx, "x", "r", D), yr = rowOf(ctx, "y", "r", D);
  const gyr = rowOf(ctx, "gy", "r", D), gxr = rowOf(ctx, "gx", "r", D);
  const blk = (p: string) => `(${p} + (<usize>(c * ${HW}) << ${ctx.shift}))`;
  // Fills the slot for one direction and returns H·W·Σ logs (in f64: it is a sum over channels).
  const prep = (dir: 1 | -1) => `let sl: f64 = 0;
  for (let c = 0; c < ${C}; c++) {
    const l = ldf(${s}, c);
    const e = exp_(${dir === 1 ? "l" : "-l"});
    stf(${A}, c, e);
    stf(${Cc}, c, ${dir === 1 ? `ldf(${b}, c) * e` : `-ldf(${b}, c)`});
    sl += <f64>l;
  }
  const ldv = <F>(sl * ${HW});`;
  const apply = (src: string, dst: string, sign: string) => HW === 1
    ? `for (let r = 0; r < n; r++) { ew_mul_add(${src}, ${A}, ${Cc}, ${dst}, ${D}); addf(ld, r, ${sign}ldv); }`
    : `for (let r = 0; r < n; r++) {
    const src = ${src}, dst = ${dst};
    for (let c = 0; c < ${C}; c++) ew_axpb(${blk("src")}, ${blk("dst")}, ${HW}, ldf(${A}, c), ldf(${Cc}, c));
    addf(ld, r, ${sign}ldv);
  }`;
  const fwd = `${prep(1)}
  ${apply(xr, yr, "")}`;
  // Inverse: x = y·exp(−logs) − bias.
  const inv = `${prep(-1)}
  ${apply(rowOf(ctx, "y", "r", D), rowOf(ctx, "x", "r", D), "-")}`;
  // ∂y/∂x = a, ∂y/∂bias = a, ∂y/∂logs = y, ∂ld/∂logs = H·W per row.
  const bwd = `for (let c = 0; c < ${C}; c++) stf(${A}, c, exp_(ldf(${s}, c)));
  ${HW === 1
    ? `for (let r = 0; r < n; r++) {
    ew_mul(${gyr}, ${A}, ${gxr}, ${D});
    axpy(${gb}, ${gxr}, ${D}, 1.0);
    ew_acc_mul(${gs}, ${gyr}, ${yr}, ${D});
  }`
    : `for (let r = 0; r < n; r++) {
    const g = ${gyr}, gxp = ${gxr}, yp = ${yr};
    for (let c = 0; c < ${C}; c++) {
      ew_axpb(${blk("g")}, ${blk("gxp")}, ${HW}, ldf(${A}, c), <F>0);
      addf(${gb}, c, <F>sum(${blk("gxp")}, ${HW}));
      addf(${gs}, c, <F>ew_dot(${blk("g")}, ${blk("yp")}, ${HW}));
    }
  }`}
  ew_add_const(${gs}, ${C}, gld * <F>(n * ${HW}));`;
  // Backward of the inverse x = y·a − bias, a = exp(−logs): ∂x/∂y = a, ∂x/∂bias = −1,
  // ∂x/∂logs = −y·a (so G_logs −= Σ gy·y with gy = gx·a), ∂ld/∂logs = −H·W per row.
  // The scalar pair is refilled rather than trusted from inv; the vector path sums
  // Σ_r gy·y into the slot's second half, then subtracts it once.
  const bwdInv = `for (let c = 0; c < ${C}; c++) stf(${A}, c, exp_(-ldf(${s}, c)));
  ${HW === 1
    ? `zero(${Cc}, ${C});
  for (let r = 0; r < n; r++) {
    ew_mul(${gxr}, ${A}, ${gyr}, ${D});
    axpy(${gb}, ${gxr}, ${D}, -1.0);
    ew_acc_mul(${Cc}, ${gyr}, ${yr}, ${D});
  }
  axpy(${gs}, ${Cc}, ${C}, -1.0);`
    : `for (let r = 0; r < n; r++) {
    const g = ${gyr}, gxp = ${gxr}, yp = ${yr};
    for (let c = 0; c < ${C}; c++) {
      ew_axpb(${blk("gxp")}, ${blk("g")}, ${HW}, ldf(${A}, c), <F>0);
      addf(${gb}, c, -<F>sum(${blk("gxp")}, ${HW}));
      addf(${gs}, c, -<F>ew_dot(${blk("g")}, ${blk("yp")}, ${HW}));
    }
  }`}
  ew_add_const(${gs}, ${C}, -gld * <F>(n * ${HW}));`;
  // Data-dependent init (Glow): per channel, mean and population std over rows × pixels,
  // two passes in f64; the 1e-6 keeps a constant channel finite (logs = −log 1e-6).
  const init = `if (n <= 0) return;
  const cnt = <f64>(n * ${HW});
  for (let c = 0; c < ${C}; c++) {
    let m: f64 = 0;
    for (let r = 0; r < n; r++) { const o = r * ${D} + c * ${HW}; for (let p = 0; p < ${HW}; p++) m += <f64>ldf(x, o + p); }
    m /= cnt;
    let v: f64 = 0;
    for (let r = 0; r < n; r++) { const o = r * ${D} + c * ${HW}; for (let p = 0; p < ${HW}; p++) { const d = <f64>ldf(x, o + p) - m; v += d * d; } }
    stf(${b}, c, <F>(-m));
    stf(${s}, c, <F>(-Math.log(Math.sqrt(v / cnt) + 1e-6)));
  }`;
  return { fwd, inv, bwd, bwdInv, init };
}
