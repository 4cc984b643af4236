/**
 * @fileoverview Helpers the CLI commands share: compiling a spec file with
 * printed diagnostics, parsing numeric flags, loading data rows for a flow,
 * and turning any error into one readable line (never a stack trace for
 * user errors). The context helpers take a conditional flow's context from
 * `--context-cols` (train, eval) or `--context` / `--context-file` (sample)
 * and refuse a context the spec does not declare, or a missing one.
 */
import { readFileSync } from "node:fs";
import { compile } from "../codegen/compile.ts";
import { formatDiagnostics } from "../diagnostics/format.ts";
import type { Manifest } from "../../runtime-wasm/host/manifest.ts";
import type { Flow } from "../../runtime-wasm/host/flow.ts";
import { FlowcInputError, locationPrefix } from "../../runtime-wasm/host/errors.ts";
import { contextFromColumns, loadData, loadDataWithContext, LABEL_COLUMN } from "./io/data.ts";
import { readCsv } from "./io/csv.ts";
import { diskCache } from "./cache.ts";

/** A user-facing failure: print the message and exit 1. */
export class CliError extends Error {}

export function fail(message: string): never {
  throw new CliError(message);
}

export function describeError(e: unknown): string {
  if (e instanceof CliError) return e.message;
  if (e instanceof FlowcInputError) {
    const where = locationPrefix(e.details);
    return `error ${e.code}: ${where && !e.message.startsWith(where) ? where + ": " : ""}${e.message}`;
  }
  if (e instanceof Error && e.name === "NonFiniteError") return `error: ${e.message}`;
  // Anything else is a bug in flowc: keep the stack so it can be reported.
  return `internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
}

export function parseNumber(v: string, flag: string, min = -Infinity): number {
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || x < min) fail(`${flag} must be a number${min > -Infinity ? ` ≥ ${min}` : ""}, got '${v}'`);
  return x;
}

export function parseInteger(v: string, flag: string, min = 0): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) fail(`${flag} must be an integer ≥ ${min}, got '${v}'`);
  return x;
}

/** Read and compile a spec, printing warnings; errors end the command with exit code 1. */
export async function compileSpecFile(path: string, opts: { precision?: "f32" | "f64"; chunk?: number; relaxedSimd?: boolean; recompute?: boolean } = {}): Promise<{ wasm: Uint8Array; manifest: Manifest }> {
  let source: string;
  try {
    source = readFileSync(path, "utf8");
  } catch (e) {
    fail(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const res = await compile(source, { filename: path, precision: opts.precision, chunk: opts.chunk, cache: diskCache(), relaxedSimd: opts.relaxedSimd, recompute: opts.recompute });
  const errors = res.diagnostics.filter((d) => d.severity === "error");
  if (res.diagnostics.length) process.stderr.write(formatDiagnostics(res.diagnostics, source) + "\n");
  if (errors.length || !res.wasm || !res.manifest) fail(`${path}: compilation failed`);
  return { wasm: res.wasm, manifest: res.manifest };
}

/** Load rows for a flow from a file or a built-in source, checked against its event shape. */
export function loadRows(source: string, o: { seed: number; n: number; flow: Flow; split?: "train" | "test" }): Float64Array {
  return loadData(source, { seed: o.seed, n: o.n, eventShape: o.flow.eventShape, split: o.split });
}

/** Mean negative log-likelihood (nats) of rows under a flow, in chunks. */
export function meanNll(flow: Flow, rows: Float64Array, context?: Float64Array): number {
  const lp = flow.logProb(rows, context);
  let s = 0;
  for (let i = 0; i < lp.length; i++) s -= lp[i];
  return s / lp.length;
}

/** Data rows and, for a flow with `context [k]`, their context rows (k values each). */
export interface RowsWithContext {
  data: Float64Array;
  context: Float64Array | null;
}

/** The hint for a conditional flow trained or scored without a context. */
function needContext(flow: Flow, flag: string): string {
  const k = flow.contextSize;
  return `this flow is conditional (context [${k}]) and needs a context for every row: give ${flag} (columns of a table, e.g. ${flag} ${k === 1 ? "2" : `2:${2 + k}`}, or a one-column class label for k > 1; '${LABEL_COLUMN}' for a built-in source with classes)`;
}

/**
 * Load rows for a flow, with their context when the flow is conditional.
 * `contextCols` must be given exactly when the flow declares a context.
 */
export function loadRowsWithContext(source: string, o: { seed: number; n: number; flow: Flow; split?: "train" | "test"; contextCols?: string; flag?: string }): RowsWithContext {
  const flag = o.flag ?? "--context-cols";
  if (o.flow.contextSize === 0) {
    if (o.contextCols !== undefined) fail(`${flag} was given, but this flow takes no context (its spec declares no \`context [k]\`)`);
    return { data: loadRows(source, o), context: null };
  }
  if (o.contextCols === undefined) fail(needContext(o.flow, flag));
  return loadDataWithContext(source, { seed: o.seed, n: o.n, eventShape: o.flow.eventShape, split: o.split, contextCols: o.contextCols, contextSize: o.flow.contextSize });
}

/**
 * The context for sampling: `--context v1,v2,…` (one context for every sample)
 * or `--context-file FILE` (a CSV with one row per sample, or a single row for
 * all). Either holds k values per row, or one class label for k > 1 (one-hot).
 * Returns the context rows as given (`given`, for writing next to the samples),
 * the flow's context (`context`) and the number of rows (`rows`).
 */
export function samplingContext(flow: Flow, o: { context?: string; contextFile?: string }): { given: Float64Array; width: number; context: Float64Array; rows: number } | null {
  const k = flow.contextSize;
  if (o.context !== undefined && o.contextFile !== undefined) fail("give --context or --context-file, not both");
  if (k === 0) {
    if (o.context !== undefined || o.contextFile !== undefined) fail(`${o.context !== undefined ? "--context" : "--context-file"} was given, but this flow takes no context (its spec declares no \`context [k]\`)`);
    return null;
  }
  if (o.context === undefined && o.contextFile === undefined) {
    fail(`this flow is conditional (context [${k}]): give --context ${k === 1 ? "v" : `v1,…,v${k}`} for all samples${k > 1 ? " (or one class label 0…" + (k - 1) + ")" : ""}, or --context-file FILE with one row per sample`);
  }
  if (o.context !== undefined) {
    const cells = o.context.split(",").map((c) => c.trim());
    const values = cells.map((c) => Number(c));
    cells.forEach((c, i) => {
      if (c === "" || !Number.isFinite(values[i])) fail(`--context: value ${i + 1} '${c}' is not a finite number`);
    });
    if (values.length !== k && values.length !== 1) fail(`--context has ${values.length} values but the spec's context is [${k}]: give ${k === 1 ? "one value" : `${k} values or one class label`}`);
    const given = Float64Array.from(values);
    return { given, width: given.length, context: contextFromColumns(given, given.length, k, { what: "--context" }), rows: 1 };
  }
  const csv = readCsv(o.contextFile!);
  if (csv.cols !== k && csv.cols !== 1) fail(`${o.contextFile}: the context file has ${csv.cols} columns but the spec's context is [${k}]: give ${k} columns${k > 1 ? " or one column of class labels" : ""}`);
  return { given: csv.data, width: csv.cols, context: contextFromColumns(csv.data, csv.cols, k, { file: o.contextFile, what: "the context file" }), rows: csv.rows };
}
