/**
 * @fileoverview flowc's public compiler API (DESIGN §7): `check()` parses and
 * checks a spec, `compile()` turns it into a self-describing wasm module;
 * the diagnostic formatters print the results for people.
 */
export { check } from "./check/api.ts";
export type { CheckOptions, CheckResult } from "./check/api.ts";
export type { FlowSummary, SummaryRow, SummarySide } from "./check/summary.ts";
export { formatDiagnostic, formatDiagnostics } from "./diagnostics/format.ts";
export type { Diagnostic, Severity } from "./diagnostics/types.ts";
export type { IRFlow, IRLayer, IRParam, LatentPart, Capabilities } from "./ir/types.ts";
export type { Shape, Opts, DirectionInfo, DirectionSide, InitSpec } from "./layers/types.ts";

// ---- compile() is exported below this line.
export { compile, compileIR } from "./codegen/compile.ts";
export type { CompileOptions, CompileResult } from "./codegen/compile.ts";
export type { Manifest } from "../runtime-wasm/host/manifest.ts";
