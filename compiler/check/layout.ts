/**
 * @fileoverview Parameter and latent layout. Parameters tile one flat buffer
 * (offsets in elements): every trainable parameter first, layers in order
 * and then the base, followed by the buffers (fixed permutations, LU signs,
 * spectral-norm state) in the same order, so the optimizer sees one
 * contiguous prefix. The latent row holds each factored-out part (a layer
 * whose output is smaller than its input) in order, then the final output.
 */
import type { IRParam, LatentPart } from "../ir/types.ts";
import type { ParamDecl, Shape } from "../layers/types.ts";
import { isImage, numel } from "../layers/util.ts";
import type { LayerDraft } from "./shapes.ts";

export interface ParamLayout {
  /** Per layer, in declaration order. */
  layers: IRParam[][];
  base: IRParam[];
  paramCount: number;
  trainableCount: number;
}

export function layoutParams(drafts: readonly LayerDraft[], baseDecls: readonly ParamDecl[]): ParamLayout {
  const owners: { prefix: string; decls: readonly ParamDecl[]; out: IRParam[] }[] = [
    ...drafts.map((d) => ({ prefix: `layers.${d.index}.`, decls: d.decls, out: [] as IRParam[] })),
    { prefix: "base.", decls: baseDecls, out: [] as IRParam[] },
  ];
  let offset = 0;
  let trainableCount = 0;
  for (const trainable of [true, false]) {
    for (const o of owners) {
      for (const p of o.decls) {
        if ((p.trainable ?? true) !== trainable) continue;
        const size = numel(p.shape);
        o.out.push({ name: o.prefix + p.name, local: p.name, shape: [...p.shape], size, offset, init: p.init, trainable });
        offset += size;
      }
    }
    if (trainable) trainableCount = offset;
  }
  // Keep each owner's params in declaration order, whatever their offsets.
  for (const o of owners) o.out.sort((a, b) => o.decls.findIndex((p) => p.name === a.local) - o.decls.findIndex((p) => p.name === b.local));
  return { layers: owners.slice(0, -1).map((o) => o.out), base: owners[owners.length - 1].out, paramCount: offset, trainableCount };
}

/** Where each part of the latent row comes from. */
export function latentLayout(drafts: readonly LayerDraft[], finalShape: Shape): LatentPart[] {
  const parts: LatentPart[] = [];
  let offset = 0;
  for (const d of drafts) {
    const gone = numel(d.inShape) - numel(d.outShape);
    if (gone <= 0) continue;
    // A factored-out image part keeps the spatial size when the channels were split.
    const sameGrid = isImage(d.inShape) && isImage(d.outShape) && d.inShape[1] === d.outShape[1] && d.inShape[2] === d.outShape[2];
    const shape = sameGrid ? [d.inShape[0] - d.outShape[0], d.inShape[1], d.inShape[2]] : [gone];
    parts.push({ layer: d.index, offset, size: gone, shape });
    offset += gone;
  }
  parts.push({ layer: -1, offset, size: numel(finalShape), shape: [...finalShape] });
  return parts;
}
