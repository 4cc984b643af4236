/**
 * @fileoverview The checker's diagnostic sink: collects diagnostics as data
 * with the file name attached, and drops exact duplicates (the same message at
 * the same place), which unrolled `repeat` copies would otherwise produce.
 */
import type { Diagnostic } from "../diagnostics/types.ts";
import type { Span } from "../syntax/ast.ts";
import { diag } from "../diagnostics/catalogue.ts";

export class Reporter {
  readonly list: Diagnostic[] = [];
  private readonly seen = new Set<string>();

  constructor(readonly filename: string, readonly source: string) {}

  /** Report a catalogue code; its severity comes from the catalogue. */
  add(code: string, args: Record<string, unknown> = {}, span?: Span, hint?: string): void {
    const d = diag(code, args, span, { filename: this.filename, hint });
    const key = `${d.code}|${span?.offset ?? -1}|${span?.length ?? -1}|${d.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(d);
  }

  get errorCount(): number {
    return this.list.filter((d) => d.severity === "error").length;
  }

  /** The source text under a span. */
  text(span: Span): string {
    return this.source.slice(span.offset, span.offset + span.length);
  }
}
