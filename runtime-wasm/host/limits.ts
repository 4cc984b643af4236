/**
 * @fileoverview Size limits of the host, checked before anything is
 * allocated: the arrays a call returns (a `sample(1e10)` would otherwise ask
 * the JavaScript engine for 80 GB, or trap deep inside it) and the module's
 * linear memory (wasm32 stops at 4 GiB; a runtime may allow less). Each
 * refusal says the limit and how to stay under it or raise it.
 */
import { FlowcInputError, inputError } from "./errors.ts";

/** Default cap on one returned array; `flow.maxResultBytes` raises or lowers it per flow. */
export const DEFAULT_MAX_RESULT_BYTES = 2 ** 31;

/** wasm32 linear memory: 65,536 pages of 64 KiB. */
export const WASM32_MAX_BYTES = 2 ** 32;

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/**
 * Throws FLOW665 when a result of `count` values of `bytesPer` bytes (rows of
 * `width` values) would exceed `limit` bytes, naming the rows that fit.
 */
export function checkResultSize(count: number, bytesPer: number, width: number, limit: number): void {
  const bytes = count * bytesPer;
  if (Number.isFinite(bytes) && bytes <= limit) return;
  const rows = Math.max(1, Math.floor(limit / (bytesPer * Math.max(1, width))));
  throw new FlowcInputError(
    "FLOW665",
    `the result would hold ${count} values (${mib(bytes)}), more than the limit of ${mib(limit)} for one array: ` +
      `ask for at most ${rows} rows per call (e.g. sample in batches with different seeds), or raise the limit with flow.maxResultBytes = <bytes>`,
  );
}

/** FLOW653 for a memory of `need` bytes that could not grow from `have` bytes. */
export function memoryLimitError(need: number, have: number, chunk: number): FlowcInputError {
  const limit = need > WASM32_MAX_BYTES ? `the 4 GiB of wasm32` : `what this runtime allows (the memory could not grow beyond ${mib(have)})`;
  return inputError("FLOW653", {
    need: mib(need),
    limit,
    fix: `recompile it with a smaller chunk (\`flowc compile --chunk N\`; now ${chunk} rows per chunk, and the workspace grows with it), or run it where the WebAssembly memory limit is higher`,
  });
}
