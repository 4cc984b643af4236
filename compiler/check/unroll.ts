/**
 * @fileoverview The file's structure and `repeat` unrolling: `input` first
 * and once, at most one `context`, `base` at most once and last, the
 * keywords that cannot sit inside `repeat`, repeat counts ≥ 1, and a cap on
 * the unrolled size. Produces the layer statements in unrolled order; every
 * copy refers to the same AST statement, so per-statement checks run once.
 */
import type { Span, Stmt } from "../syntax/ast.ts";
import type { FlowFile } from "../syntax/ast.ts";
import { Reporter } from "./report.ts";

export type InputStmt = Extract<Stmt, { kind: "input" }>;
export type ContextStmt = Extract<Stmt, { kind: "context" }>;
export type BaseStmt = Extract<Stmt, { kind: "base" }>;
export type LayerStmt = Extract<Stmt, { kind: "layer" }>;
export type RepeatStmt = Extract<Stmt, { kind: "repeat" }>;

/** More unrolled layers than this is almost certainly a typo, and would make every later pass slow. */
export const MAX_LAYERS = 100_000;

export interface Structure {
  input?: InputStmt;
  context?: ContextStmt;
  base?: BaseStmt;
  /** Every layer statement once, in source order (for per-statement checks). */
  statements: LayerStmt[];
  /** Layer statements in unrolled order; null when the flow is too large to unroll. */
  unrolled: LayerStmt[] | null;
}

function describe(s: Stmt): string {
  switch (s.kind) {
    case "layer":
      return `the layer \`${s.name}\``;
    case "repeat":
      return "a `repeat` block";
    default:
      return `\`${s.kind}\``;
  }
}

const keywordSpan = (s: Stmt): Span => ("keywordSpan" in s ? s.keywordSpan : s.span);

export function structure(file: FlowFile, r: Reporter): Structure {
  const out: Structure = { statements: [], unrolled: null };
  const stmts = file.stmts;

  stmts.forEach((s, i) => {
    if (s.kind === "input") {
      if (out.input) r.add("FLOW222", { line: out.input.span.line }, s.keywordSpan);
      else {
        out.input = s;
        if (i !== 0) r.add("FLOW221", { shape: r.text(s.shape.span) }, s.keywordSpan);
      }
    } else if (s.kind === "context") {
      if (out.context) r.add("FLOW223", { line: out.context.span.line }, s.keywordSpan);
      else out.context = s;
    } else if (s.kind === "base") {
      if (out.base) r.add("FLOW225", { line: out.base.span.line }, s.keywordSpan);
      else out.base = s;
    }
  });
  if (!out.input) r.add("FLOW220", {}, stmts[0] ? keywordSpan(stmts[0]) : file.span);

  if (out.base) {
    const at = stmts.indexOf(out.base);
    const after = stmts.slice(at + 1).find((s) => s.kind !== "base");
    if (after) r.add("FLOW224", { what: describe(after), line: after.span.line }, out.base.keywordSpan);
  }

  const collect = (list: Stmt[], nested: boolean) => {
    for (const s of list) {
      if (s.kind === "layer") out.statements.push(s);
      else if (s.kind === "repeat") {
        if (s.count < 1) r.add("FLOW227", { count: s.count }, s.countSpan);
        collect(s.body, true);
      } else if (nested) r.add("FLOW226", { keyword: s.kind }, s.keywordSpan);
    }
  };
  collect(stmts, false);

  // Count before unrolling so that `repeat 1000000000 { … }` costs nothing.
  let tooLarge = false;
  const sizes = new Map<Stmt, number>();
  const count = (list: Stmt[]): number => {
    let total = 0;
    for (const s of list) {
      if (s.kind === "layer") total += 1;
      else if (s.kind === "repeat") {
        const body = count(s.body);
        const n = body === 0 || !(s.count > 0) ? 0 : s.count * body;
        sizes.set(s, n);
        if (n > MAX_LAYERS && !tooLarge) {
          tooLarge = true;
          r.add("FLOW228", { count: n.toLocaleString("en-US"), limit: MAX_LAYERS.toLocaleString("en-US") }, s.keywordSpan);
        }
        total += n;
      }
      if (total > MAX_LAYERS && !tooLarge) {
        tooLarge = true;
        r.add("FLOW228", { count: `more than ${MAX_LAYERS.toLocaleString("en-US")}`, limit: MAX_LAYERS.toLocaleString("en-US") }, keywordSpan(s));
      }
    }
    return total;
  };
  count(stmts);
  if (tooLarge) return out;

  const unrolled: LayerStmt[] = [];
  const unroll = (list: Stmt[]) => {
    for (const s of list) {
      if (s.kind === "layer") unrolled.push(s);
      else if (s.kind === "repeat" && sizes.get(s)) for (let k = 0; k < s.count; k++) unroll(s.body);
    }
  };
  unroll(stmts);
  out.unrolled = unrolled;
  return out;
}
