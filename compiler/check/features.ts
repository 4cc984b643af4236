/**
 * @fileoverview The untouched-feature analysis (DESIGN §4): follows every
 * input feature through the unrolled layers (permutations, squeezes and
 * splits move it; couplings, MADE and mixing layers may transform it as a
 * function of other features) and reports the features that no layer ever
 * transforms that way. Such a flow models them independently of the rest,
 * which is almost always an accident: e.g. `mask=alternate` with
 * `permute reverse` on [2], whose parity flip and swap cancel out.
 */
import type { Shape } from "../layers/types.ts";
import { isImage, numel } from "../layers/util.ts";
import type { LayerDraft } from "./shapes.ts";
import { Reporter } from "./report.ts";
import type { Span } from "../syntax/ast.ts";

/** Feature maps cost O(features × layers); beyond this the analysis is skipped. */
const BUDGET = 50_000_000;

/** Input features (flat indices) never transformed by a layer that depends on other features,
 *  or null when the flow is too large to analyse. */
export function untouchedFeatures(drafts: readonly LayerDraft[], input: Shape): number[] | null {
  const size = numel(input);
  if (size * Math.max(1, drafts.length) > BUDGET) return null;
  let origin: Int32Array = Int32Array.from({ length: size }, (_, i) => i);
  const touched = new Uint8Array(size);
  for (const d of drafts) {
    const ff = d.kind.features(d.inShape, d.opts, d.parity);
    if (ff.map) {
      const next = new Int32Array(ff.map.length);
      for (let j = 0; j < ff.map.length; j++) next[j] = origin[ff.map[j]];
      origin = next;
    }
    if (ff.coupled === "all") for (let j = 0; j < origin.length; j++) touched[origin[j]] = 1;
    else if (Array.isArray(ff.coupled)) for (let j = 0; j < origin.length; j++) if (ff.coupled[j]) touched[origin[j]] = 1;
  }
  const out: number[] = [];
  for (let i = 0; i < size; i++) if (!touched[i]) out.push(i);
  return out;
}

/** "feature 0", "features 0, 3 and 5", "features [0, 0, 1], … (392 of 784)". */
export function describeFeatures(list: readonly number[], input: Shape): string {
  const name = (i: number) => {
    if (!isImage(input)) return String(i);
    const [, h, w] = input;
    return `[${Math.floor(i / (h * w))}, ${Math.floor(i / w) % h}, ${i % w}]`;
  };
  if (list.length === 1) return `feature ${name(list[0])}`;
  const shown = list.slice(0, 6).map(name);
  if (list.length <= 6) return `features ${shown.slice(0, -1).join(", ")} and ${shown.at(-1)}`;
  return `features ${shown.join(", ")}, … (${list.length} of ${numel(input)})`;
}

/** Report FLOW407 at the input statement if some features are never coupled. */
export function checkFeatures(drafts: readonly LayerDraft[], input: Shape, at: Span, r: Reporter): void {
  if (numel(input) < 2) return;
  const untouched = untouchedFeatures(drafts, input);
  if (!untouched || untouched.length === 0) return;
  const one = untouched.length === 1;
  r.add("FLOW407", { features: describeFeatures(untouched, input), verb: one ? "is" : "are", pronoun: one ? "it" : "them" }, at);
}
