/**
 * @fileoverview Parses an uploaded CSV into 2-D training rows, in the page,
 * with the same rules as `flowc train --data FILE.csv` (cells separated by
 * commas, or by whitespace when a file has no commas; an optional header row
 * with no numeric cell; blank and `#` lines skipped). Bad input throws a
 * FlowcInputError naming `file:line:column` (1-based; the column counts
 * cells).
 */
import { FLOW6, inputError } from "../runtime-wasm/host/errors.ts";

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

function unquote(cell: string): string {
  const c = cell.trim();
  if (c.length >= 2 && ((c[0] === '"' && c[c.length - 1] === '"') || (c[0] === "'" && c[c.length - 1] === "'"))) return c.slice(1, -1).trim();
  return c;
}

/** Rows × 2 values, row-major. `file` names the upload in errors. */
export function parseCsv2d(text: string, file: string): Float64Array {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r\n|\n|\r/);
  let sep: "comma" | "space" | undefined;
  let headerSeen = false;
  const values: number[] = [];
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line === "" || line.startsWith("#")) continue;
    const row = li + 1;
    sep ??= line.includes(",") ? "comma" : "space";
    const cells = (sep === "comma" ? line.split(",") : line.split(/\s+/)).map(unquote);
    if (values.length === 0 && !headerSeen && cells.every((c) => !NUMBER.test(c) && !NON_FINITE.test(c))) {
      headerSeen = true;
      if (cells.length !== 2) throw inputError(FLOW6.columnCount, { got: cells.length, expected: 2, what: "a 2-D flow" }, { file, row });
      continue;
    }
    if (cells.length !== 2) throw inputError(FLOW6.columnCount, { got: cells.length, expected: 2, what: "a 2-D flow" }, { file, row });
    for (let c = 0; c < 2; c++) {
      const cell = cells[c];
      const where = { file, row, column: c + 1 };
      if (NON_FINITE.test(cell)) throw inputError(FLOW6.nonFinite, { value: cell }, where);
      if (!NUMBER.test(cell)) throw inputError(FLOW6.notANumber, { value: cell.length > 40 ? cell.slice(0, 40) + "…" : cell }, where);
      const v = Number(cell);
      if (!Number.isFinite(v)) throw inputError(FLOW6.nonFinite, { value: cell }, where);
      values.push(v);
    }
  }
  if (values.length === 0) throw inputError(FLOW6.emptyData, {}, { file });
  return Float64Array.from(values);
}
