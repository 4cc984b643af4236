/**
 * @fileoverview Helpers the CLI commands share: compiling a spec file with
 * printed diagnostics, parsing numeric flags, loading data rows for a flow,
 * and turning any error into one readable line (never a stack trace for
 * user errors).
 */
import { readFileSync } from "node:fs";
import { compile } from "../codegen/compile.ts";
import { formatDiagnostics } from "../diagnostics/format.ts";
import type { Manifest } from "../../runtime-wasm/host/manifest.ts";
import type { Flow } from "../../runtime-wasm/host/flow.ts";
import { FlowcInputError, locationPrefix } from "../../runtime-wasm/host/errors.ts";
import { loadData } from "./io/data.ts";
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
export async function compileSpecFile(path: string, opts: { precision?: "f32" | "f64"; chunk?: number } = {}): Promise<{ wasm: Uint8Array; manifest: Manifest }> {
  let source: string;
  try {
    source = readFileSync(path, "utf8");
  } catch (e) {
    fail(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const res = await compile(source, { filename: path, precision: opts.precision, chunk: opts.chunk, cache: diskCache() });
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
export function meanNll(flow: Flow, rows: Float64Array): number {
  const lp = flow.logProb(rows);
  let s = 0;
  for (let i = 0; i < lp.length; i++) s -= lp[i];
  return s / lp.length;
}
