/**
 * @fileoverview `conv1x1 lu` | `conv1x1 plain`: Glow's invertible 1×1
 * convolution (Kingma & Dhariwal 2018): the same C×C matrix W mixes the
 * channels of every pixel; log-det `HW · log|det W|`. `lu` stores W as
 * P L (U + diag(sign·exp(logs))) (params `P`, `L`, `U`, `sign`, `logs`, as in
 * `linear lu`); `plain` stores `weight` [C, C, 1, 1] (PyTorch conv layout)
 * and computes log|det W| and W⁻¹ in f64 on every call. Both start as a
 * random rotation.
 *
 * Kernels: each call turns the parameters into the C×C matrix (and, for the
 * inverse, W⁻¹), then runs the chunk through the 1×1 convolution kernels of
 * runtime-wasm/assembly/conv.ts, which vectorise over the pixels of a CHW
 * row. bwd forms ∂L/∂W = Σ gy xᵀ with the weight-gradient kernel; `lu` maps
 * it onto the factors (lu.ts, as `linear lu`), `plain` adds
 * ∂(HW·log|det W|)/∂W = HW·W⁻ᵀ.
 */
import type { EmitCtx, LayerCode, LayerKind } from "./types.ts";
import { analyticBoth, spatial } from "./util.ts";
import { luParams } from "./linear.ts";
import { convTmpSize } from "./nets/conv.ts";

export const conv1x1: LayerKind = {
  name: "conv1x1",
  summary: "invertible 1×1 convolution mixing channels",
  paper: "Kingma & Dhariwal 2018, Glow",
  variants: [{ name: "parametrization", values: ["lu", "plain"], default: "lu", doc: "`lu`: PLU-parameterised weight; `plain`: a full weight" }],
  options: {},
  accepts: "image",
  shape: (input) => input,
  params(input, opts) {
    const c = input[0];
    if (opts.parametrization === "plain") return [{ name: "weight", shape: [c, c, 1, 1], init: { kind: "rotation", n: c } }];
    return luParams(c);
  },
  direction: analyticBoth,
  flops(input) {
    const c = input[0];
    const per = 2 * c * c * spatial(input);
    return { forward: per, inverse: per };
  },
  features: (input) => ({ coupled: input[0] >= 2 ? "all" : "none" }),
  emit: emitConv1x1,
  // Odd channel counts, H ≠ W, planes whose size is and is not a multiple of 4
  // (the kernels' two paths), and C = 1. The first two also run in f32.
  testCases: [
    { input: [3, 2, 5], text: "conv1x1 lu" },
    { input: [5, 3, 2], text: "conv1x1 plain" },
    { input: [4, 4, 2], text: "conv1x1 lu; conv1x1 plain" },
    { input: [7, 1, 3], text: "conv1x1 plain" },
    { input: [6, 2, 4], text: "conv1x1 lu" },
    { input: [1, 3, 2], text: "conv1x1 lu; conv1x1 plain" },
  ],
};

function emitConv1x1(ctx: EmitCtx): LayerCode {
  const [C, H, W] = ctx.inShape;
  const HW = H * W, D = C * HW;
  const tmp = ctx.slot("tmp", 0, ctx.precision === "f32" ? convTmpSize(C, C, H, W, 1) : 0);
  /** y = M x per pixel for the chunk's rows (M [C, C], forward orientation). */
  const apply = (M: string, src: string, dst: string) => `conv_fwd(${M}, 0, ${src}, ${dst}, n, ${C}, ${C}, ${H}, ${W}, 1, ${D}, ${D}, ${tmp});`;
  /** dst = Mᵀ src per pixel. */
  const applyT = (M: string, src: string, dst: string) => `conv_bwd_x(${M}, ${src}, ${dst}, n, ${C}, ${C}, ${H}, ${W}, 1, ${D}, ${D}, ${tmp});`;
  const addLd = (v: string) => `for (let r = 0; r < n; r++) addf(ld, r, ${v});`;

  if (ctx.opts.parametrization === "plain") {
    const Wt = ctx.p("weight"), gWt = ctx.g("weight");
    const work = ctx.slot("lu64", 0, 2 * C * C + 4 * C + 4);
    const Wi = ctx.slot("Winv", 0, C * C);
    return {
      fwd: `const l = <F>(plu64_factor(${Wt}, ${C}, ${work}) * ${HW}.0);
  ${apply(Wt, "x", "y")}
  ${addLd("l")}`,
      inv: `const l = <F>(plu64_factor(${Wt}, ${C}, ${work}) * ${HW}.0);
  plu64_inverse(${C}, ${work}, ${Wi}, false);
  ${apply(Wi, "y", "x")}
  ${addLd("-l")}`,
      bwd: `${applyT(Wt, "gy", "gx")}
  conv_bwd_w(x, gy, ${gWt}, 0, n, ${C}, ${C}, ${H}, ${W}, 1, ${D}, ${D}, ${tmp});
  plu64_factor(${Wt}, ${C}, ${work});
  plu64_inverse(${C}, ${work}, ${Wi}, true);
  const s = <F>n * gld * <F>${HW};
  for (let k = 0; k < ${C * C}; k++) addf(${gWt}, k, s * ldf(${Wi}, k));`,
    };
  }

  const P = ctx.p("P"), L = ctx.p("L"), U = ctx.p("U"), sign = ctx.p("sign"), logs = ctx.p("logs");
  const gL = ctx.g("L"), gU = ctx.g("U"), glogs = ctx.g("logs");
  // fwd leaves W and its factors here for bwd; inv has its own slots.
  const perm = ctx.slot("perm", 0, C), diag = ctx.slot("diag", 0, C); // perm: C i32
  const Wm = ctx.slot("W", 0, C * C), Af = ctx.slot("Af", 0, C * C), Bf = ctx.slot("Bf", 0, C * C);
  const T1 = ctx.slot("T1", 0, C * C), T2 = ctx.slot("T2", 0, C * C);
  const iperm = ctx.slot("iperm", 0, C), idiag = ctx.slot("idiag", 0, C), Wit = ctx.slot("Winvt", 0, C * C);
  return {
    fwd: `const sl = lu_prep(${P}, ${sign}, ${logs}, ${perm}, ${diag}, ${C});
  lu_compose(${L}, ${U}, ${diag}, ${perm}, ${Af}, ${Bf}, ${T2}, ${Wm}, ${C});
  ${apply(Wm, "x", "y")}
  ${addLd(`sl * <F>${HW}`)}`,
    // W⁻ᵀ = P (I + L)⁻ᵀ (U + diag)⁻ᵀ: the two solves run on the rows of P; then x = (W⁻ᵀ)ᵀ y.
    inv: `const sl = lu_prep(${P}, ${sign}, ${logs}, ${iperm}, ${idiag}, ${C});
  zero(${Wit}, ${C * C});
  for (let i = 0; i < ${C}; i++) stf(${Wit}, i * ${C} + load<i32>(${iperm} + (<usize>i << 2)), <F>1);
  solve_lower_unit(${L}, ${Wit}, ${C}, ${C}, ${C});
  solve_upper(${U}, ${idiag}, ${Wit}, ${C}, ${C}, ${C});
  ${applyT(Wit, "y", "x")}
  ${addLd(`-sl * <F>${HW}`)}`,
    bwd: `zero(${T1}, ${C * C});
  conv_bwd_w(x, gy, ${T1}, 0, n, ${C}, ${C}, ${H}, ${W}, 1, ${D}, ${D}, ${tmp});
  ${applyT(Wm, "gy", "gx")}
  lu_factor_grads(${T1}, ${diag}, ${perm}, ${Af}, ${Bf}, ${T2}, ${T1}, ${gL}, ${gU}, ${glogs}, ${C});
  const nl = <F>n * gld * <F>${HW};
  for (let i = 0; i < ${C}; i++) addf(${glogs}, i, nl);`,
  };
}
