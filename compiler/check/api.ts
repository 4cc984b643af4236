/**
 * @fileoverview `check()`: the public entry point of the front half of the
 * compiler. Parses and checks a spec and returns diagnostics, the verified IR
 * and a summary. It never throws: an unexpected failure becomes a FLOW500
 * diagnostic.
 */
import type { Diagnostic } from "../diagnostics/types.ts";
import type { IRFlow } from "../ir/types.ts";
import { diag } from "../diagnostics/catalogue.ts";
import { parse } from "../syntax/index.ts";
import { checkFile } from "./index.ts";
import { buildSummary, type FlowSummary } from "./summary.ts";

export interface CheckOptions {
  /** Shown in diagnostics; default `<input>`. */
  filename?: string;
}

export interface CheckResult {
  /** True when there is no error (warnings and notes allowed). */
  ok: boolean;
  /** Every diagnostic, in source order. */
  diagnostics: Diagnostic[];
  ir: IRFlow | null;
  summary: FlowSummary | null;
}

/**
 * With syntax errors the AST is partial (broken statements are left out), so
 * only diagnostics about the statements themselves are kept: a missing
 * `input` or a shape error there may just be a consequence of the syntax error.
 */
const LOCAL_CODES = new Set([
  "FLOW201", "FLOW202", "FLOW203", "FLOW204", "FLOW205", "FLOW206", "FLOW207", "FLOW208", "FLOW209",
  "FLOW210", "FLOW211", "FLOW212", "FLOW213", "FLOW214", "FLOW215", "FLOW216", "FLOW217", "FLOW227",
  "FLOW309", "FLOW310", "FLOW311", "FLOW313", "FLOW401", "FLOW402",
]);

function sortBySource(list: Diagnostic[]): Diagnostic[] {
  return list
    .map((d, i) => ({ d, i }))
    .sort((a, b) => (a.d.span?.offset ?? -1) - (b.d.span?.offset ?? -1) || a.i - b.i)
    .map((x) => x.d);
}

export function check(source: string, opts: CheckOptions = {}): CheckResult {
  const filename = opts.filename ?? "<input>";
  try {
    const parsed = parse(source, filename);
    if (!parsed.file) return { ok: false, diagnostics: parsed.diagnostics, ir: null, summary: null };
    const syntaxBroken = parsed.diagnostics.some((d) => d.severity === "error");
    const checked = checkFile(parsed.file);
    const own = syntaxBroken ? checked.diagnostics.filter((d) => LOCAL_CODES.has(d.code)) : checked.diagnostics;
    const diagnostics = sortBySource([...parsed.diagnostics, ...own]);
    const ok = !diagnostics.some((d) => d.severity === "error");
    const ir = ok ? checked.ir : null;
    return { ok: ok && ir !== null, diagnostics, ir, summary: ir ? buildSummary(ir) : null };
  } catch (e) {
    const detail = e instanceof Error ? `${e.message}${e.stack ? `\n${e.stack}` : ""}` : String(e);
    return { ok: false, diagnostics: [diag("FLOW500", { detail }, undefined, { filename })], ir: null, summary: null };
  }
}
