/**
 * @fileoverview Shapes: validates the `input` and `context` shape literals,
 * then propagates the event shape through the unrolled layers, asking each
 * layer kind's rules (what it accepts, its output shape, its parameters,
 * direction and cost). Mask parities are assigned here: each coupling that
 * uses a flipping mask kind gets the next parity of that kind. A layer whose
 * shape cannot be known (an error, an unknown layer) stops propagation, so
 * later layers do not pile up errors that follow from the first.
 */
import type { ShapeLit, Span } from "../syntax/ast.ts";
import type { DirectionInfo, LayerKind, Opts, ParamDecl, Shape } from "../layers/types.ts";
import { describeInput, isImage, numel } from "../layers/util.ts";
import { plainCtx } from "./options.ts";
import type { LayerStmt } from "./unroll.ts";
import { Reporter } from "./report.ts";

export const MAX_ELEMENTS = 2 ** 31 - 1;

/** What the option pass learned about one layer statement. `kind` is null for unknown names. */
export interface StatementInfo {
  kind: LayerKind | null;
  opts: Opts;
  written: Map<string, Span>;
}

export interface LayerDraft {
  index: number;
  stmt: LayerStmt;
  kind: LayerKind;
  opts: Opts;
  text: string;
  inShape: Shape;
  outShape: Shape;
  parity: number;
  decls: ParamDecl[];
  direction: DirectionInfo;
  flops: { forward: number; inverse: number };
}

/** A copy per unrolled layer, so no two IR layers share option objects (structuredClone is slow here). */
function cloneOpts(o: Opts): Opts {
  const out: Opts = {};
  for (const [k, v] of Object.entries(o)) {
    if (Array.isArray(v)) out[k] = [...v];
    else if (typeof v === "object") out[k] = { kind: v.kind, opts: { ...v.opts } };
    else out[k] = v;
  }
  return out;
}

/** Validate an `input` shape literal; null after reporting. */
export function eventShape(lit: ShapeLit, what: string, r: Reporter): Shape | null {
  let ok = true;
  if (lit.dims.length !== 1 && lit.dims.length !== 3) {
    r.add("FLOW310", { what, count: lit.dims.length }, lit.span);
    ok = false;
  }
  return positiveDims(lit, what, r) && ok ? lit.dims.map((d) => d.value) : null;
}

/** Validate a `context [k]` literal; returns k, or null after reporting. */
export function contextShape(lit: ShapeLit, r: Reporter): number | null {
  let ok = true;
  if (lit.dims.length !== 1) {
    r.add("FLOW313", { shape: r.text(lit.span), size: numel(lit.dims.map((d) => d.value)) }, lit.span);
    ok = false;
  }
  return positiveDims(lit, "the context", r) && ok ? numel(lit.dims.map((d) => d.value)) : null;
}

function positiveDims(lit: ShapeLit, what: string, r: Reporter): boolean {
  let ok = true;
  lit.dims.forEach((d, i) => {
    if (!Number.isSafeInteger(d.value) || d.value < 1) {
      if (d.value >= 1) r.add("FLOW311", { what, count: d.text }, d.span);
      else r.add("FLOW309", { index: i + 1, what, value: d.text }, d.span);
      ok = false;
    }
  });
  if (!ok) return false;
  const n = numel(lit.dims.map((d) => d.value));
  if (n > MAX_ELEMENTS) {
    r.add("FLOW311", { what, count: n.toLocaleString("en-US") }, lit.span);
    return false;
  }
  return true;
}

/** The statement's text with whitespace collapsed, e.g. `coupling affine mask=half`. */
export function statementText(stmt: LayerStmt, r: Reporter): string {
  return r.text(stmt.span).replace(/\s+/g, " ").trim();
}

/**
 * Propagate `input` through the unrolled layers. Returns one draft per layer
 * whose shape is known; `complete` is true when every layer got one.
 */
export function propagate(
  unrolled: readonly LayerStmt[],
  info: Map<LayerStmt, StatementInfo>,
  input: Shape | null,
  contextSize: number,
  r: Reporter,
): { drafts: LayerDraft[]; complete: boolean; finalShape: Shape | null } {
  const drafts: LayerDraft[] = [];
  const parityCount = new Map<string, number>();
  let shape = input;
  let complete = input !== null;

  unrolled.forEach((stmt, index) => {
    const st = info.get(stmt);
    if (!st?.kind) {
      shape = null;
      complete = false;
      return;
    }
    const kind = st.kind;
    const written = (o: string) => st.written.has(o);
    const opts = kind.resolve ? kind.resolve(cloneOpts(st.opts), shape, written) : cloneOpts(st.opts);
    const mk = kind.maskKind?.(opts);
    let parity = 0;
    if (mk !== undefined) {
      const n = parityCount.get(mk) ?? 0;
      parity = n % 2;
      parityCount.set(mk, n + 1);
    }
    if (!shape) {
      complete = false;
      return;
    }
    const ctx = plainCtx(r, st.written, stmt.span, parity, contextSize);
    if (kind.accepts === "image" && !isImage(shape)) {
      r.add("FLOW302", { layer: kind.name, input: describeInput(shape) }, stmt.span);
      shape = null;
      complete = false;
      return;
    }
    if (kind.accepts === "vector" && isImage(shape)) {
      r.add("FLOW303", { layer: kind.name, input: describeInput(shape), size: numel(shape) }, stmt.span);
      shape = null;
      complete = false;
      return;
    }
    const out = kind.shape(shape, opts, ctx);
    if (!out) {
      shape = null;
      complete = false;
      return;
    }
    drafts.push({
      index,
      stmt,
      kind,
      opts,
      text: statementText(stmt, r),
      inShape: shape,
      outShape: out,
      parity,
      decls: kind.params(shape, opts, ctx),
      direction: kind.direction(shape, opts),
      flops: kind.flops(shape, opts),
    });
    shape = out;
  });
  return { drafts, complete, finalShape: complete ? shape : null };
}
