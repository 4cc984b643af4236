/**
 * @fileoverview Structural checks of a module's manifest beyond its format
 * tag: every field the host computes addresses or sizes from must be a
 * sensible integer and agree with the others (shapes chain, the latent tiles
 * the event, every activation buffer fits in the workspace, parameters tile
 * the flat buffer). A manifest edited or corrupted after compilation then
 * fails at load with FLOW651 naming the field, instead of steering the host
 * into out-of-range views or the kernels into a trap.
 */
import { FlowcInputError } from "./errors.ts";
import type { Manifest } from "./manifest.ts";

/** Wasm32 memory is at most 4 GiB; any size beyond it cannot be right. */
const MAX_BYTES = 2 ** 32;

const isCount = (v: unknown, min = 0): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= MAX_BYTES;

function shapeSize(v: unknown): number | null {
  if (!Array.isArray(v) || v.length === 0 || v.length > 8 || !v.every((d) => isCount(d, 1))) return null;
  const n = (v as number[]).reduce((a, b) => a * b, 1);
  return n <= MAX_BYTES ? n : null;
}

/** Throws FLOW651 ("the module's manifest is corrupt: …") on the first inconsistent field. */
export function checkManifestLayout(m: Manifest): void {
  const bad = (what: string): never => {
    throw new FlowcInputError("FLOW651", `the module's manifest is corrupt: ${what}`);
  };
  const sz = m.precision === "f32" ? 4 : 8;
  if (!isCount(m.chunk, 1)) bad(`field 'chunk' must be a positive integer, got ${JSON.stringify(m.chunk)}`);
  const event = shapeSize(m.inputShape);
  if (event === null) bad(`field 'inputShape' must be a list of 1 to 8 positive integers, got ${JSON.stringify(m.inputShape)}`);
  if (event !== m.eventSize) bad(`'inputShape' ${JSON.stringify(m.inputShape)} has ${event} values but 'eventSize' is ${m.eventSize}`);
  if (m.latentSize !== m.eventSize) bad(`'latentSize' ${m.latentSize} differs from 'eventSize' ${m.eventSize}`);
  if (m.trainableCount > m.paramCount) bad(`'trainableCount' ${m.trainableCount} exceeds 'paramCount' ${m.paramCount}`);
  if (m.chunk * Math.max(m.eventSize, m.contextSize, 1) * sz > MAX_BYTES) bad(`'chunk' ${m.chunk} rows of ${m.eventSize} values exceed a 4 GiB memory`);

  const ws = m.workspace as unknown as Record<string, unknown> | undefined;
  if (!ws || typeof ws !== "object") bad("field 'workspace' is missing");
  for (const k of ["z", "gz"]) {
    const v = ws![k];
    if (!isCount(v) || v + m.chunk * m.latentSize * sz > m.workspaceBytes) bad(`'workspace.${k}' ${JSON.stringify(v)} does not leave room for a chunk of latents in the ${m.workspaceBytes}-byte workspace`);
  }

  let prev: number[] = m.inputShape;
  m.layers.forEach((l, i) => {
    if (!l || typeof l !== "object") bad(`layers[${i}] is not an object`);
    if (l.index !== i) bad(`layers[${i}].index is ${JSON.stringify(l.index)}`);
    if (typeof l.kind !== "string" || typeof l.text !== "string") bad(`layers[${i}] has no kind or text`);
    const inSize = shapeSize(l.inShape), outSize = shapeSize(l.outShape);
    if (inSize === null || outSize === null) bad(`layers[${i}] has an invalid inShape or outShape`);
    if (JSON.stringify(l.inShape) !== JSON.stringify(prev)) bad(`layers[${i}].inShape ${JSON.stringify(l.inShape)} does not follow the previous output ${JSON.stringify(prev)}`);
    prev = l.outShape;
    if (!isCount(l.act) || l.act % sz !== 0 || l.act + m.chunk * outSize! * sz > m.workspaceBytes) {
      bad(`layers[${i}].act ${JSON.stringify(l.act)} does not leave room for a chunk of outputs in the ${m.workspaceBytes}-byte workspace`);
    }
    const d = l.direction as unknown as Record<string, { kind?: unknown } | undefined> | undefined;
    for (const side of ["forward", "inverse"]) {
      if (!d || !d[side] || !["analytic", "iterative", "none"].includes(d[side]!.kind as string)) bad(`layers[${i}].direction.${side}`);
    }
  });

  if (!Array.isArray(m.latentLayout)) bad("field 'latentLayout' is missing");
  let at = 0;
  for (const [k, part] of m.latentLayout.entries()) {
    if (!part || part.offset !== at || !isCount(part.size, 1) || shapeSize(part.shape) !== part.size) bad(`latentLayout[${k}] does not continue the latent at ${at}`);
    at += part.size;
  }
  if (at !== m.latentSize) bad(`'latentLayout' covers ${at} of ${m.latentSize} latent values`);

  // Parameters tile [0, paramCount) in order: no gaps, no overlaps, shapes match sizes.
  let next = 0;
  for (const p of m.params) {
    const size = Array.isArray(p.shape) && p.shape.every((d) => isCount(d)) ? p.shape.reduce((a, b) => a * b, 1) : -1;
    if (p.offset !== next || size !== p.size) bad(`parameter ${JSON.stringify(p.name)} (offset ${p.offset}, size ${p.size}, shape ${JSON.stringify(p.shape)}) does not continue the buffer at ${next}`);
    if (!Number.isInteger(p.layer) || p.layer < -1 || p.layer >= m.layers.length) bad(`parameter ${JSON.stringify(p.name)} names layer ${JSON.stringify(p.layer)}`);
    next += p.size;
  }
  if (next !== m.paramCount) bad(`the parameters cover ${next} of 'paramCount' ${m.paramCount} values`);
  if (!m.base || typeof m.base !== "object" || typeof m.base.kind !== "string") bad("field 'base'");
  if (!m.capabilities || typeof m.capabilities !== "object") bad("field 'capabilities'");
  const dom = m.inputDomain;
  if (dom !== undefined && (!dom || typeof dom.lo !== "number" || typeof dom.hi !== "number" || typeof dom.describe !== "string")) bad("field 'inputDomain'");
}
