/**
 * @fileoverview The message catalogue: every diagnostic code flowc can emit,
 * gathered from one file per code range. Codes are stable: never renumber,
 * only add. `diag()` is the only way to build a Diagnostic from a code.
 */
import type { Diagnostic, MessageDef } from "./types.ts";
import type { Span } from "../syntax/ast.ts";
import { syntaxMessages } from "./messages/syntax.ts";
import { nameMessages } from "./messages/names.ts";
import { shapeMessages } from "./messages/shapes.ts";
import { directionMessages } from "./messages/direction.ts";
import { codegenMessages } from "./messages/codegen.ts";
import { runtimeMessages } from "./messages/runtime.ts";

export const catalogue: Record<string, MessageDef> = {
  ...syntaxMessages,
  ...nameMessages,
  ...shapeMessages,
  ...directionMessages,
  ...codegenMessages,
  ...runtimeMessages,
};

/** Fill `{name}` placeholders; unknown placeholders are left visible so a mistake shows. */
export function format(template: string, args: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in args ? String(args[k]) : m));
}

/** Build a diagnostic from its catalogue code. */
export function diag(
  code: string,
  args: Record<string, unknown> = {},
  span?: Span,
  extra: { filename?: string; hint?: string } = {},
): Diagnostic {
  const def = catalogue[code];
  if (!def) {
    // An unknown code is a compiler bug; report it as data rather than throwing.
    return { code: "FLOW500", severity: "error", message: `internal: unknown diagnostic code ${code}`, span, filename: extra.filename };
  }
  const hint = extra.hint ?? (def.hint ? format(def.hint, args) : undefined);
  return { code, severity: def.severity, message: format(def.message, args), span, filename: extra.filename, hint };
}
