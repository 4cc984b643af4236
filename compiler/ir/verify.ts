/**
 * @fileoverview `verifyIR`: checks the IR invariants listed in
 * ARCHITECTURE.md between passes. A violation is a compiler bug, reported as
 * FLOW500 (internal error) rather than thrown, naming the broken invariant.
 */
import type { Diagnostic } from "../diagnostics/types.ts";
import { diag } from "../diagnostics/catalogue.ts";
import type { IRFlow, IRParam } from "./types.ts";
import type { Shape } from "../layers/types.ts";

const MAX = 2 ** 31 - 1;
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const show = (s: readonly number[]) => `[${s.join(", ")}]`;
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export function verifyIR(ir: IRFlow): Diagnostic[] {
  const problems: string[] = [];
  const bad = (msg: string) => problems.push(msg);

  const shapeOk = (s: Shape, what: string) => {
    if (s.length !== 1 && s.length !== 3) bad(`${what} ${show(s)} has ${s.length} dims (want 1 or 3)`);
    if (!s.every((d) => Number.isSafeInteger(d) && d >= 1)) bad(`${what} ${show(s)} has a non-positive or non-integer dim`);
    else if (size(s) > MAX) bad(`${what} ${show(s)} has more than 2^31-1 elements`);
  };

  shapeOk(ir.inputShape, "input shape");
  if (ir.eventSize !== size(ir.inputShape)) bad(`eventSize ${ir.eventSize} != product of input shape ${show(ir.inputShape)}`);
  let prev = ir.inputShape;
  ir.layers.forEach((l, i) => {
    if (l.index !== i) bad(`layer at position ${i} has index ${l.index}`);
    if (!same(l.inShape, prev)) bad(`layer ${i} inShape ${show(l.inShape)} != previous output ${show(prev)}`);
    shapeOk(l.inShape, `layer ${i} inShape`);
    shapeOk(l.outShape, `layer ${i} outShape`);
    prev = l.outShape;
  });
  if (!same(ir.finalShape, prev)) bad(`finalShape ${show(ir.finalShape)} != last layer output ${show(prev)}`);

  // Parameters tile [0, paramCount): trainable ones first, names unique.
  const all: { p: IRParam; owner: string }[] = [
    ...ir.layers.flatMap((l) => l.params.map((p) => ({ p, owner: `layers.${l.index}.` }))),
    ...ir.base.params.map((p) => ({ p, owner: "base." })),
  ];
  const names = new Set<string>();
  for (const { p, owner } of all) {
    if (names.has(p.name)) bad(`parameter name ${p.name} is not unique`);
    names.add(p.name);
    if (p.name !== owner + p.local) bad(`parameter ${p.name} should be named ${owner}${p.local}`);
    if (p.size !== size(p.shape)) bad(`parameter ${p.name} size ${p.size} != product of ${show(p.shape)}`);
  }
  const sorted = [...all].sort((a, b) => a.p.offset - b.p.offset);
  let next = 0;
  for (const { p } of sorted) {
    if (p.offset !== next) bad(`parameter ${p.name} at offset ${p.offset}, expected ${next} (parameters must tile the buffer)`);
    if (p.trainable !== p.offset < ir.trainableCount) bad(`parameter ${p.name} (${p.trainable ? "trainable" : "buffer"}) lies on the wrong side of trainableCount ${ir.trainableCount}`);
    next = p.offset + p.size;
  }
  if (next !== ir.paramCount) bad(`parameters end at ${next}, but paramCount is ${ir.paramCount}`);
  if (ir.paramCount > MAX) bad(`paramCount ${ir.paramCount} exceeds 2^31-1`);

  // The latent layout tiles [0, latentSize) and flows preserve dimension.
  if (ir.latentSize !== ir.eventSize) bad(`latentSize ${ir.latentSize} != eventSize ${ir.eventSize}`);
  let off = 0;
  for (const part of ir.latentLayout) {
    if (part.offset !== off) bad(`latent part of layer ${part.layer} at offset ${part.offset}, expected ${off}`);
    if (part.size !== size(part.shape)) bad(`latent part of layer ${part.layer} size ${part.size} != product of ${show(part.shape)}`);
    off = part.offset + part.size;
  }
  if (off !== ir.latentSize) bad(`latent parts end at ${off}, but latentSize is ${ir.latentSize}`);

  // Capabilities follow from the layers' directions.
  const fwdOk = ir.layers.every((l) => l.direction.forward.kind !== "none");
  const invOk = ir.layers.every((l) => l.direction.inverse.kind !== "none");
  if (ir.capabilities.logProb !== fwdOk) bad(`capabilities.logProb is ${ir.capabilities.logProb}, but the forward directions say ${fwdOk}`);
  if (ir.capabilities.sample !== invOk) bad(`capabilities.sample is ${ir.capabilities.sample}, but the inverse directions say ${invOk}`);

  return problems.map((detail) => diag("FLOW500", { detail: `IR invariant violated: ${detail}` }, undefined, { filename: ir.filename }));
}
