/**
 * @fileoverview Prints diagnostics for people, esbuild-style: a location and
 * message line, a code frame with the span underlined, then the hint.
 *
 *   glow.flow:5:3: error FLOW301: squeeze needs an even height and width, ...
 *     5 | squeeze
 *       | ^~~~~~~
 *     hint: use a [1, 8, 8] input or drop the squeeze
 */
import type { Diagnostic, Severity } from "./types.ts";
import type { Span } from "../syntax/ast.ts";

export interface FormatOptions {
  /** Use ANSI colours (for a terminal). Off by default. */
  color?: boolean;
}

const TAB_WIDTH = 4;

const ansi = {
  bold: (s: string) => `\x1b[1m${s}\x1b[22m`,
  red: (s: string) => `\x1b[31m${s}\x1b[39m`,
  yellow: (s: string) => `\x1b[33m${s}\x1b[39m`,
  cyan: (s: string) => `\x1b[36m${s}\x1b[39m`,
};

function paint(severity: Severity, text: string, color: boolean): string {
  if (!color) return text;
  if (severity === "error") return ansi.red(text);
  if (severity === "warning") return ansi.yellow(text);
  return ansi.cyan(text);
}

/** One diagnostic: the location line, a code frame when `source` and a span are given, and the hint. */
export function formatDiagnostic(d: Diagnostic, source?: string, opts: FormatOptions = {}): string {
  const color = opts.color ?? false;
  const where = [d.filename, d.span?.line, d.span?.column].filter((part) => part !== undefined).join(":");
  const head = `${paint(d.severity, d.severity, color)} ${d.code}: ${d.message}`;
  const first = where ? `${where}: ${head}` : head;
  const out = [color ? ansi.bold(first) : first];
  if (d.span && source !== undefined) out.push(...codeFrame(d.span, source, d.severity, color));
  if (d.hint) out.push(`  hint: ${d.hint.split("\n").join("\n        ")}`);
  return out.join("\n");
}

/**
 * Every diagnostic, separated by blank lines, then a summary such as
 * `2 errors, 1 warning`. `source` is the text the diagnostics' spans refer to.
 * An empty list prints nothing.
 */
export function formatDiagnostics(list: readonly Diagnostic[], source?: string, opts: FormatOptions = {}): string {
  if (list.length === 0) return "";
  const blocks = list.map((d) => formatDiagnostic(d, source, opts));
  return `${blocks.join("\n\n")}\n\n${summarize(list)}`;
}

/** `2 errors, 1 warning`; kinds with no diagnostics are left out. */
export function summarize(list: readonly Diagnostic[]): string {
  const kinds: [Severity, string][] = [["error", "error"], ["warning", "warning"], ["info", "note"]];
  return kinds
    .map(([severity, noun]) => {
      const n = list.filter((d) => d.severity === severity).length;
      return n === 0 ? "" : `${n} ${noun}${n === 1 ? "" : "s"}`;
    })
    .filter(Boolean)
    .join(", ");
}

/**
 * The span's first line, with `^` under its first character and `~` under
 * the rest of it on that line. Tabs are expanded so the marker lines up.
 */
function codeFrame(span: Span, source: string, severity: Severity, color: boolean): string[] {
  const lineStart = startOfLine(source, span.offset);
  const lineEnd = endOfLine(source, lineStart);
  if (span.offset > lineEnd) return [];
  const text = source.slice(lineStart, lineEnd);
  const from = span.offset - lineStart;
  const to = Math.min(from + Math.max(span.length, 1), text.length);

  const { shown } = display(text);
  const before = display(text.slice(0, from)).width;
  const width = Math.max(1, display(text.slice(0, to)).width - before);
  const marker = `${" ".repeat(before)}^${"~".repeat(width - 1)}`;

  const num = String(span.line);
  const gutter = " ".repeat(num.length);
  return [`  ${num} | ${shown}`, `  ${gutter} | ${paint(severity, marker, color)}`];
}

function startOfLine(source: string, offset: number): number {
  let i = Math.min(Math.max(0, offset), source.length);
  while (i > 0 && source[i - 1] !== "\n" && source[i - 1] !== "\r") i--;
  return i;
}

function endOfLine(source: string, lineStart: number): number {
  let i = lineStart;
  while (i < source.length && source[i] !== "\n" && source[i] !== "\r") i++;
  return i;
}

/** The line as a terminal shows it (tabs expanded to the next stop, control characters made visible) and its width in cells. */
function display(text: string): { shown: string; width: number } {
  let shown = "";
  let width = 0;
  for (const ch of text) {
    if (ch === "\t") {
      const pad = TAB_WIDTH - (width % TAB_WIDTH);
      shown += " ".repeat(pad);
      width += pad;
    } else {
      shown += /\p{Cc}/u.test(ch) ? "\uFFFD" : ch;
      width += 1;
    }
  }
  return { shown, width };
}
