/**
 * @fileoverview The checker (DESIGN §3): from a parsed `.flow` file to the
 * verified IR, or to diagnostics. Passes, each reporting as data and going
 * on where it safely can so that one run shows independent problems:
 *   1. structure: input/context/base placement, repeat counts (unroll.ts);
 *   2. names and options, once per statement (options.ts);
 *   3. shapes and mask parities over the unrolled layers (shapes.ts);
 *   4. only for an error-free flow: untouched features (features.ts),
 *      direction notes and capabilities (capabilities.ts), parameter and
 *      latent layout (layout.ts), the hash, and the IR verifier.
 * The checker never switches over layer kinds: everything layer-specific is
 * asked of the registry in compiler/layers/.
 */
import type { FlowFile } from "../syntax/ast.ts";
import type { Diagnostic } from "../diagnostics/types.ts";
import type { IRFlow, IRLayer } from "../ir/types.ts";
import type { BaseKind, Opts } from "../layers/types.ts";
import { layers, nonInvertible } from "../layers/index.ts";
import { bases } from "../layers/bases/index.ts";
import { numel } from "../layers/util.ts";
import { flowHash } from "../ir/hash.ts";
import { verifyIR } from "../ir/verify.ts";
import { Reporter } from "./report.ts";
import { own, plainCtx, resolveArgs, suggestion } from "./options.ts";
import { structure, type BaseStmt, type LayerStmt } from "./unroll.ts";
import { contextShape, eventShape, MAX_ELEMENTS, propagate, type StatementInfo } from "./shapes.ts";
import { checkFeatures } from "./features.ts";
import { capabilitiesOf, directionNotes } from "./capabilities.ts";
import { latentLayout, layoutParams } from "./layout.ts";

export interface CheckFileResult {
  /** The verified IR; null when any error was reported. */
  ir: IRFlow | null;
  diagnostics: Diagnostic[];
}

/** Names and options of one layer statement. */
function resolveStatement(stmt: LayerStmt, contextSize: number, r: Reporter): StatementInfo {
  const kind = own(layers, stmt.name);
  if (!kind) {
    const bad = own(nonInvertible, stmt.name) ?? own(nonInvertible, stmt.name.toLowerCase());
    if (bad) r.add("FLOW401", { name: stmt.name, fix: bad.hint, reason: bad.reason }, stmt.nameSpan);
    else r.add("FLOW201", { name: stmt.name, suggestion: suggestion(stmt.name, Object.keys(layers)), known: Object.keys(layers).join(", ") }, stmt.nameSpan);
    return { kind: null, opts: {}, written: new Map() };
  }
  const { opts, written } = resolveArgs(kind.name, kind, stmt.args, stmt.span, r);
  kind.validate?.(opts, plainCtx(r, written, stmt.span, 0, contextSize));
  return { kind, opts, written };
}

/** The base distribution: the written one, or the default standard normal. */
function resolveBase(stmt: BaseStmt | undefined, r: Reporter): { kind: BaseKind | null; opts: Opts } {
  if (!stmt) return { kind: bases.normal, opts: resolveArgs("base normal", bases.normal, [], { offset: 0, length: 0, line: 1, column: 1 }, r).opts };
  const kind = own(bases, stmt.name);
  if (!kind) {
    r.add("FLOW216", { name: stmt.name, suggestion: suggestion(stmt.name, Object.keys(bases)), known: Object.keys(bases).join(", ") }, stmt.nameSpan);
    return { kind: null, opts: {} };
  }
  return { kind, opts: resolveArgs(`base ${kind.name}`, kind, stmt.args, stmt.span, r).opts };
}

export function checkFile(file: FlowFile): CheckFileResult {
  const r = new Reporter(file.filename, file.source);
  const st = structure(file, r);
  const input = st.input ? eventShape(st.input.shape, "the input", r) : null;
  const contextSize = st.context ? contextShape(st.context.shape, r) : 0;

  const info = new Map<LayerStmt, StatementInfo>();
  for (const stmt of st.statements) info.set(stmt, resolveStatement(stmt, contextSize ?? 0, r));
  const base = resolveBase(st.base, r);

  if (!st.unrolled) return { ir: null, diagnostics: r.list };
  const { drafts, complete, finalShape } = propagate(st.unrolled, info, input, contextSize ?? 0, r);
  if (!complete || !finalShape || !input || !st.input || contextSize === null || !base.kind || r.errorCount > 0) {
    // Every way to get here reports an error first; a rule that returns null silently is a bug.
    if (r.errorCount === 0) r.add("FLOW500", { detail: "a layer rule gave no output shape but reported no error" });
    return { ir: null, diagnostics: r.list };
  }

  checkFeatures(drafts, input, st.input.span, r);
  const capabilities = capabilitiesOf(drafts);
  directionNotes(drafts, capabilities, r);

  const layout = layoutParams(drafts, base.kind.params(finalShape, base.opts));
  if (layout.paramCount > MAX_ELEMENTS) {
    const biggest = drafts.reduce((a, b) => (b.decls.reduce((s, p) => s + numel(p.shape), 0) > a.decls.reduce((s, p) => s + numel(p.shape), 0) ? b : a));
    r.add("FLOW312", { count: layout.paramCount.toLocaleString("en-US") }, biggest.stmt.span);
    return { ir: null, diagnostics: r.list };
  }

  const irLayers: IRLayer[] = drafts.map((d, i) => ({
    index: d.index,
    kind: d.kind.name,
    opts: d.opts,
    text: d.text,
    span: d.stmt.span,
    inShape: d.inShape,
    outShape: d.outShape,
    parity: d.parity,
    params: layout.layers[i],
    direction: d.direction,
    flops: d.flops,
  }));
  const eventSize = numel(input);
  const draft: Omit<IRFlow, "hash"> = {
    filename: file.filename,
    source: file.source,
    inputShape: input,
    eventSize,
    contextSize,
    layers: irLayers,
    base: { kind: base.kind.name, opts: base.opts, params: layout.base, span: st.base?.span },
    finalShape,
    latentLayout: latentLayout(drafts, finalShape),
    latentSize: eventSize,
    paramCount: layout.paramCount,
    trainableCount: layout.trainableCount,
    capabilities,
  };
  const ir: IRFlow = { ...draft, hash: flowHash(draft) };
  const problems = verifyIR(ir);
  return { ir: problems.length ? null : ir, diagnostics: [...r.list, ...problems] };
}
