/**
 * @fileoverview Diagnostics as data: every problem the compiler or the host
 * finds is a value with a stable code, a severity, a span and a message.
 * Nothing here throws; callers collect diagnostics and decide.
 */
import type { Span } from "../syntax/ast.ts";

export type Severity = "error" | "warning" | "info";

export interface Diagnostic {
  /** Stable code, e.g. "FLOW301". Ranges: 1xx syntax, 2xx names/options, 3xx shapes,
   *  4xx invertibility/direction, 5xx code generation, 6xx runtime input. */
  code: string;
  severity: Severity;
  message: string;
  filename?: string;
  /** Where in the source; absent for whole-file or runtime diagnostics. */
  span?: Span;
  /** How to fix it, printed under the code frame. */
  hint?: string;
}

/** One catalogue entry. `message` is a template with `{name}` placeholders. */
export interface MessageDef {
  severity: Severity;
  message: string;
  /** Default hint template, optional. */
  hint?: string;
}
