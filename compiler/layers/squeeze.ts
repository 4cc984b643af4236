/**
 * @fileoverview `squeeze`: RealNVP's space-to-depth reshape (Dinh et al.
 * 2016, §3.6; Glow): [C, H, W] → [4C, H/2, W/2], each 2×2 block of a channel
 * becoming 4 channels; output channel `c·4 + 2·dy + dx` at (i, j) holds input
 * channel c at (2i + dy, 2j + dx). log-det 0. H and W must be even.
 */
import type { LayerKind } from "./types.ts";
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
};
