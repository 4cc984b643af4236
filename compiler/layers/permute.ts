/**
 * @fileoverview `permute reverse` | `permute random seed=N`: a fixed
 * permutation of the features of a vector or the channels of an image, as
 * used between coupling layers in RealNVP (Dinh et al. 2016) and Glow
 * (Kingma & Dhariwal 2018, "reverse" and "shuffle"). `y[j] = x[perm[j]]`;
 * log-det 0. The permutation is a buffer `perm` [n] (float indices).
 *
 * `random seed=N` is the Fisher–Yates shuffle driven by mulberry32(N), see
 * `randomPermutation`; anything that rebuilds the permutation from its init
 * spec must use the same procedure.
 */
import type { EmitCtx, LayerCode, LayerKind, Shape } from "./types.ts";
// The host builds `permute random seed=N` with the same generator, so both sides agree.
import { mulberry32 } from "../../runtime-wasm/host/init.ts";
import { analyticBoth, featureDim, isImage, num, numel, spatial, str, without } from "./util.ts";


/** The permutation of `permute random seed=N` over n items: start from the identity,
 *  then for i = n−1 down to 1 swap i with floor(rand()·(i+1)). */
export function randomPermutation(n: number, seed: number): number[] {
  const perm = Array.from({ length: n }, (_, i) => i);
  const rand = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm;
}

/** perm[j] = the input index that output j takes. */
export function permutationOf(n: number, order: string, seed: number): number[] {
  return order === "random" ? randomPermutation(n, seed) : Array.from({ length: n }, (_, i) => n - 1 - i);
}

export const permute: LayerKind = {
  name: "permute",
  summary: "fixed permutation of features (vectors) or channels (images)",
  paper: "Dinh et al. 2016, RealNVP; Kingma & Dhariwal 2018, Glow",
  variants: [{ name: "order", values: ["reverse", "random"], default: "reverse", doc: "reverse the order, or a random permutation fixed by `seed`" }],
  options: {
    seed: { type: "int", default: 0, min: 0, max: 4294967295, doc: "seed of the random permutation (with `random`)" },
  },
  accepts: "any",
  validate(opts, ctx) {
    if (opts.order !== "random" && ctx.written?.("seed")) {
      ctx.warn("FLOW214", { option: "seed", reason: "with `permute reverse`", fix: "remove it, or write `permute random seed=N`" }, ctx.spanOf("seed"));
    }
  },
  resolve: (opts) => (opts.order === "random" ? opts : without(opts, ["seed"])),
  shape: (input) => input,
  params(input: Shape, opts) {
    const n = featureDim(input);
    const order = str(opts, "order");
    return [{
      name: "perm",
      shape: [n],
      init: order === "random" ? { kind: "permutation", n, seed: num(opts, "seed") } : { kind: "permutation", n, reverse: true },
      trainable: false,
    }];
  },
  direction: analyticBoth,
  flops: (input) => ({ forward: numel(input), inverse: numel(input) }),
  features(input, opts) {
    const n = featureDim(input);
    const perm = permutationOf(n, str(opts, "order"), (opts.seed as number | undefined) ?? 0);
    if (!isImage(input)) return { map: perm, coupled: "none" };
    const hw = spatial(input);
    const map = new Array<number>(n * hw);
    for (let c = 0; c < n; c++) for (let p = 0; p < hw; p++) map[c * hw + p] = perm[c] * hw + p;
    return { map, coupled: "none" };
  },
  emit: emitPermute,
  testCases: [
    { input: [1], text: "permute" },
    { input: [7], text: "affine; permute random seed=3; affine" },
    { input: [3], text: "permute reverse" },
    { input: [6], text: "permute random seed=7" },
    { input: [2, 4, 4], text: "permute reverse" },
    { input: [5, 2, 3], text: "permute random seed=11" },
  ],
};

/**
 * Kernels. The permutation is fixed by the spec, so it is baked into the
 * module as two constant index tables (`permutationOf`, the same procedure
 * that fills the `perm` buffer): forward gathers y[j] = x[perm[j]], the
 * inverse and the gradient gather through the inverse table. On an image
 * each index names a whole channel, moved as one H·W block.
 */
function emitPermute(ctx: EmitCtx): LayerCode {
  const C = featureDim(ctx.inShape), HW = spatial(ctx.inShape), D = C * HW;
  const perm = permutationOf(C, str(ctx.opts, "order"), (ctx.opts.seed as number | undefined) ?? 0);
  const inverse = new Array<number>(C);
  perm.forEach((src, j) => { inverse[src] = j; });
  const fwdT = ctx.uid("perm"), invT = ctx.uid("perm_inv");
  ctx.helper(`const ${fwdT}: usize = memory.data<i32>([${perm.join(", ")}]);`);
  ctx.helper(`const ${invT}: usize = memory.data<i32>([${inverse.join(", ")}]);`);
  const gather = (src: string, dst: string, table: string) => HW === 1
    ? `for (let r = 0; r < n; r++) {
    const o = r * ${D};
    for (let j = 0; j < ${D}; j++) stf(${dst}, o + j, ldf(${src}, o + load<i32>(${table} + (<usize>j << 2))));
  }`
    : `for (let r = 0; r < n; r++) {
    const o = r * ${D};
    for (let c = 0; c < ${C}; c++) copy(at(${dst}, o + c * ${HW}), at(${src}, o + load<i32>(${table} + (<usize>c << 2)) * ${HW}), ${HW});
  }`;
  return {
    fwd: gather("x", "y", fwdT),
    inv: gather("y", "x", invT),
    bwd: gather("gy", "gx", invT),
    // x[perm[j]] = y[j], so ∂L/∂y[j] = ∂L/∂x[perm[j]]: the forward gather.
    bwdInv: gather("gx", "gy", fwdT),
  };
}
