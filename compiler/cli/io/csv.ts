/**
 * @fileoverview Numeric CSV files: one row per sample, one column per
 * feature. Cells are separated by commas or, when a file has no commas, by
 * runs of whitespace (numpy.savetxt's default). An optional header row is
 * recognised by having no numeric cell; blank lines and `#` comment lines
 * are skipped. Errors point at `file:line:column` (1-based; the column
 * counts cells, not characters).
 */
import { FLOW6, inputError } from "../../../runtime-wasm/host/errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import { readInputFile } from "./read.ts";

export interface CsvData {
  /** Row-major rows × cols. */
  data: Float64Array;
  rows: number;
  cols: number;
  /** The header's cells, when the file has one. */
  header?: string[];
}

export interface ReadCsvOptions {
  /** Required number of columns; a mismatch is FLOW604. */
  expectCols?: number;
  /** What needs `expectCols`, for the message, e.g. "the flow's event [2]". */
  what?: string;
}

// Decimal numbers as numpy and pandas print them; hex, "1_000" and empty cells are rejected.
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

function unquote(cell: string): string {
  const c = cell.trim();
  if (c.length >= 2 && ((c[0] === '"' && c[c.length - 1] === '"') || (c[0] === "'" && c[c.length - 1] === "'"))) {
    return c.slice(1, -1).trim();
  }
  return c;
}

/** Read a numeric CSV file. */
export function readCsv(file: string, opts: ReadCsvOptions = {}): CsvData {
  let text = new TextDecoder("utf-8").decode(readInputFile(file));
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r\n|\n|\r/);

  let sep: "comma" | "space" | undefined;
  let header: string[] | undefined;
  let headerLine = 0;
  let cols = -1;
  let rows = 0;
  let data = new Float64Array(1024);
  let len = 0;

  for (let li = 0; li < lines.length; li++) {
    const line = lines[li].trim();
    if (line === "" || line.startsWith("#")) continue;
    const row = li + 1;
    if (sep === undefined) sep = line.includes(",") ? "comma" : "space";
    const cells = sep === "comma" ? line.split(",").map(unquote) : line.split(/\s+/).map(unquote);

    if (rows === 0 && header === undefined && cells.every((c) => !NUMBER.test(c) && !NON_FINITE.test(c))) {
      header = cells;
      headerLine = row;
      continue;
    }

    if (cols < 0) {
      cols = cells.length;
      if (header !== undefined && header.length !== cols) {
        throw inputError(FLOW6.raggedRow, { got: cols, expected: `${header.length} (the header on line ${headerLine})` }, { file, row });
      }
      if (opts.expectCols !== undefined && cols !== opts.expectCols) {
        throw inputError(FLOW6.columnCount, { got: cols, expected: opts.expectCols, what: opts.what ?? "the caller" }, { file });
      }
    } else if (cells.length !== cols) {
      throw inputError(FLOW6.raggedRow, { got: cells.length, expected: cols }, { file, row });
    }

    if (len + cols > data.length) {
      const grown = new Float64Array(Math.max(data.length * 2, len + cols));
      grown.set(data);
      data = grown;
    }
    for (let c = 0; c < cols; c++) {
      const cell = cells[c];
      const where = { file, row, column: c + 1 };
      if (NON_FINITE.test(cell)) throw inputError(FLOW6.nonFinite, { value: cell }, where);
      if (!NUMBER.test(cell)) throw inputError(FLOW6.notANumber, { value: cell.length > 40 ? cell.slice(0, 40) + "…" : cell }, where);
      const v = Number(cell);
      if (!Number.isFinite(v)) throw inputError(FLOW6.nonFinite, { value: cell }, where); // e.g. 1e999
      data[len++] = v;
    }
    rows++;
  }

  if (rows === 0) throw inputError(FLOW6.emptyData, {}, { file });
  return { data: data.slice(0, len), rows, cols, ...(header ? { header } : {}) };
}

/** Write rows × cols values (row-major) as CSV, atomically. Values keep full precision. */
export function writeCsv(file: string, data: ArrayLike<number>, cols: number, header?: string[]): void {
  if (!Number.isSafeInteger(cols) || cols <= 0 || data.length % cols !== 0) {
    throw inputError(FLOW6.badArgument, { what: "the CSV column count", expected: `a positive divisor of ${data.length}`, got: cols });
  }
  if (header !== undefined && header.length !== cols) {
    throw inputError(FLOW6.badArgument, { what: "the CSV header", expected: `${cols} names`, got: header.length });
  }
  const out: string[] = [];
  if (header) out.push(header.join(","));
  const row = new Array<string>(cols);
  for (let r = 0; r < data.length / cols; r++) {
    for (let c = 0; c < cols; c++) row[c] = String(data[r * cols + c]);
    out.push(row.join(","));
  }
  writeFileAtomic(file, out.join("\n") + "\n");
}
