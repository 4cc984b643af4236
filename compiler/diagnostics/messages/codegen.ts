/**
 * @fileoverview FLOW5xx messages: code generation and the AssemblyScript compiler.
 * Codes are stable: add, never renumber.
 */
import type { MessageDef } from "../types.ts";

export const codegenMessages: Record<string, MessageDef> = {
  FLOW500: { severity: "error", message: "internal compiler error: {detail}", hint: "this is a bug in flowc; please report it with the spec" },
  FLOW501: { severity: "error", message: "layer '{layer}' has no kernels yet, so this flow cannot be compiled", hint: "`flowc check` still works; remove the layer to compile" },
  FLOW502: { severity: "error", message: "the AssemblyScript compiler rejected the generated code: {detail}", hint: "this is a bug in flowc; please report it with the spec" },
  FLOW503: { severity: "error", message: "the flow needs {bytes} bytes of workspace per thread, more than the {limit}-byte limit", hint: "lower the chunk size (--chunk) or the conditioner width" },
  FLOW504: { severity: "error", message: "--recompute needs every layer in closed form both ways, but the {direction} of '{layer}' is {how}", hint: "train this flow without --recompute, or replace the layer with one whose inverse is analytic" },
};
