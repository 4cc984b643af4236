/**
 * @fileoverview The flow summary behind `flowc inspect` and `check()`'s
 * `summary`: one row per unrolled layer (output shape, parameter count, the
 * kind and cost of each direction, FLOPs per sample), totals, and what the
 * flow can do.
 */
import type { Capabilities, IRFlow, LatentPart } from "../ir/types.ts";
import type { DirectionSide, Opts, Shape } from "../layers/types.ts";

export interface SummarySide extends DirectionSide {
  /** e.g. "analytic, parallel", "analytic, 8 sequential passes", "iterative, 100 passes", "unavailable". */
  text: string;
}

export interface SummaryRow {
  index: number;
  kind: string;
  /** The statement as written, e.g. `coupling affine mask=half net=mlp(hidden=64, depth=2)`. */
  text: string;
  inShape: Shape;
  outShape: Shape;
  /** Parameter elements, trainable and buffers. */
  params: number;
  trainable: number;
  forward: SummarySide;
  inverse: SummarySide;
  /** Approximate FLOPs per sample in each direction. */
  flops: { forward: number; inverse: number };
}

export interface FlowSummary {
  filename: string;
  hash: string;
  inputShape: Shape;
  contextSize: number;
  eventSize: number;
  finalShape: Shape;
  rows: SummaryRow[];
  base: { kind: string; opts: Opts; params: number };
  latentLayout: LatentPart[];
  totals: {
    layers: number;
    params: number;
    trainable: number;
    buffers: number;
    flops: { forward: number; inverse: number };
  };
  capabilities: Capabilities;
}

export function describeSide(s: DirectionSide): string {
  if (s.kind === "none") return "unavailable";
  if (s.kind === "iterative") return `iterative, ${s.passes ?? 1} passes`;
  if (s.cost === "sequential") return `${s.kind}, ${s.passes ?? 1} sequential passes`;
  return `${s.kind}, parallel`;
}

export function buildSummary(ir: IRFlow): FlowSummary {
  const side = (s: DirectionSide): SummarySide => ({ ...s, text: describeSide(s) });
  const rows: SummaryRow[] = ir.layers.map((l) => ({
    index: l.index,
    kind: l.kind,
    text: l.text,
    inShape: l.inShape,
    outShape: l.outShape,
    params: l.params.reduce((s, p) => s + p.size, 0),
    trainable: l.params.reduce((s, p) => s + (p.trainable ? p.size : 0), 0),
    forward: side(l.direction.forward),
    inverse: side(l.direction.inverse),
    flops: { ...l.flops },
  }));
  const sum = (f: (r: SummaryRow) => number) => rows.reduce((s, r) => s + f(r), 0);
  return {
    filename: ir.filename,
    hash: ir.hash,
    inputShape: ir.inputShape,
    contextSize: ir.contextSize,
    eventSize: ir.eventSize,
    finalShape: ir.finalShape,
    rows,
    base: { kind: ir.base.kind, opts: ir.base.opts, params: ir.base.params.reduce((s, p) => s + p.size, 0) },
    latentLayout: ir.latentLayout,
    totals: {
      layers: rows.length,
      params: ir.paramCount,
      trainable: ir.trainableCount,
      buffers: ir.paramCount - ir.trainableCount,
      flops: { forward: sum((r) => r.flops.forward), inverse: sum((r) => r.flops.inverse) },
    },
    capabilities: ir.capabilities,
  };
}
