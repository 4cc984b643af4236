/**
 * @fileoverview `squeeze`: RealNVP's space-to-depth reshape (Dinh et al.
 * 2016, §3.6; Glow): [C, H, W] → [4C, H/2, W/2], each 2×2 block of a channel
 * becoming 4 channels; output channel `c·4 + 2·dy + dx` at (i, j) holds input
 * channel c at (2i + dy, 2j + dx). log-det 0. H and W must be even.
 *
 * Kernels: one generated gather loop per direction. The backward pass is
 * the inverse permutation applied to gy, the same loop as the inverse.
 */
import type { EmitCtx, LayerCode, LayerKind } from "./types.ts";
import { analyticBoth, numel, showShape } from "./util.ts";

export const squeeze: LayerKind = {
  name: "squeeze",
  summary: "space-to-depth 2×2: [C, H, W] → [4C, H/2, W/2]",
  paper: "Dinh et al. 2016, RealNVP",
  options: {},
  accepts: "image",
  shape(input, _opts, ctx) {
    const [c, h, w] = input;
    if (h % 2 !== 0 || w % 2 !== 0) {
      ctx.error("FLOW301", { shape: showShape(input) });
      return null;
    }
    return [4 * c, h / 2, w / 2];
  },
  params: () => [],
  direction: analyticBoth,
  flops: (input) => ({ forward: numel(input), inverse: numel(input) }),
  features(input) {
    const [c, h, w] = input;
    const h2 = h / 2;
    const w2 = w / 2;
    const map = new Array<number>(c * h * w);
    for (let k = 0; k < c; k++)
      for (let dy = 0; dy < 2; dy++)
        for (let dx = 0; dx < 2; dx++)
          for (let i = 0; i < h2; i++)
            for (let j = 0; j < w2; j++) map[((k * 4 + 2 * dy + dx) * h2 + i) * w2 + j] = (k * h + 2 * i + dy) * w + 2 * j + dx;
    return { map, coupled: "none" };
  },
  emit: emitSqueeze,
  testCases: [
    { input: [1, 2, 4], text: "squeeze" },
    { input: [3, 4, 2], text: "squeeze" },
    { input: [2, 4, 8], text: "squeeze; squeeze" },
  ],
};

function emitSqueeze(ctx: EmitCtx): LayerCode {
  const [C, H, W] = ctx.inShape;
  const H2 = H / 2, W2 = W / 2, D = C * H * W;
  // toDepth: dst[(c·4 + 2dy + dx, i, j)] = src[(c, 2i + dy, 2j + dx)]; otherwise the reverse.
  const mover = (toDepth: boolean) => {
    const name = ctx.uid(toDepth ? "squeeze" : "unsqueeze");
    ctx.helper(`function ${name}(src: usize, dst: usize, n: i32): void {
  for (let r = 0; r < n; r++) {
    const s = at(src, r * ${D}), d = at(dst, r * ${D});
    for (let c = 0; c < ${C}; c++) for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) {
      const deep = (c * 4 + 2 * dy + dx) * ${H2 * W2};
      for (let i = 0; i < ${H2}; i++) {
        const flat = (c * ${H} + 2 * i + dy) * ${W} + dx;
        for (let j = 0; j < ${W2}; j++) ${toDepth ? `stf(d, deep + i * ${W2} + j, ldf(s, flat + 2 * j));` : `stf(d, flat + 2 * j, ldf(s, deep + i * ${W2} + j));`}
      }
    }
  }
}`);
    return name;
  };
  const down = mover(true), up = mover(false);
  return { fwd: `${down}(x, y, n);`, inv: `${up}(y, x, n);`, bwd: `${up}(gy, gx, n);` };
}
