/**
 * @fileoverview `--data` for the CLI: a toy density name or a data file
 * (.csv, .npy, IDX with or without .gz), returned as row-major rows of the
 * flow's event size. Shapes, sizes and finiteness are checked here so that a
 * bad file fails before training starts, with a message naming the file and
 * the position.
 *
 * `loadDataWithContext` also takes the context of a conditional flow
 * (`context [k]`) from the same source: chosen columns of a table, or the
 * class label of a built-in source (`label`).
 */
import { isBuiltinImageSet, loadImageSet } from "./builtin.ts";
import * as fs from "node:fs";
import { FLOW6, fmtShape, inputError } from "../../../runtime-wasm/host/errors.ts";
import { isToyName, sampleToy, sampleToyLabelled, toyClasses, toyNames } from "../../../runtime-wasm/host/toys.ts";
import { readCsv } from "./csv.ts";
import { decodeIdx } from "./idx.ts";
import { decodeNpy } from "./npy.ts";
import { readInputFile } from "./read.ts";

/** Rows drawn from a toy density when `n` is not given. */
export const DEFAULT_TOY_SAMPLES = 100_000;

export interface LoadDataOptions {
  /** Seeds toy densities; files ignore it. */
  seed: number;
  /** Rows to draw from a toy density (default DEFAULT_TOY_SAMPLES). A file always gives all its rows. */
  n?: number;
  /** Toy densities draw "test" rows from a stream independent of the "train" rows (the default)
   *  for the same seed, so a validation set never repeats training points. Files ignore it. */
  split?: "train" | "test";
  /** The flow's event shape, e.g. [2] or [1, 28, 28]. */
  eventShape: number[];
}

export type DataFormat = "csv" | "npy" | "idx";

/** The format a path names, by extension, or undefined when the extension says nothing. */
export function formatFromName(source: string): DataFormat | undefined {
  const name = source.toLowerCase().replace(/\.gz$/, "");
  if (/\.(csv|tsv|txt)$/.test(name)) return "csv";
  if (name.endsWith(".npy")) return "npy";
  if (/(idx\d*[-_.]?u?byte|\.idx\d*|[-_.]ubyte)$/.test(name)) return "idx";
  return undefined;
}

/** Guess from the first bytes of an existing file with an unhelpful name. */
function sniff(bytes: Uint8Array): DataFormat {
  if (bytes.length >= 6 && bytes[0] === 0x93 && String.fromCharCode(...bytes.subarray(1, 6)) === "NUMPY") return "npy";
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return "idx";
  if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0) return "idx";
  return "csv";
}

function squeeze(shape: readonly number[]): number[] {
  return shape.filter((d) => d !== 1);
}

/** Load rows for a flow whose events have shape `eventShape`. */
export function loadData(source: string, opts: LoadDataOptions): Float64Array {
  const eventSize = opts.eventShape.reduce((a, b) => a * b, 1);
  const what = `the flow's event ${fmtShape(opts.eventShape)}`;
  if (opts.n !== undefined && (!Number.isSafeInteger(opts.n) || opts.n < 0)) {
    throw inputError(FLOW6.badArgument, { what: "the number of rows", expected: "a non-negative integer", got: opts.n });
  }

  if (isBuiltinImageSet(source)) {
    const set = loadImageSet(source, opts.split === "test" ? "test" : "train");
    if (set.shape.join() !== opts.eventShape.join()) {
      throw inputError(FLOW6.recordShape, { got: fmtShape(set.shape), expected: fmtShape(opts.eventShape), size: eventSize }, { file: source });
    }
    return set.data;
  }

  if (isToyName(source)) {
    if (eventSize !== 2) throw inputError(FLOW6.columnCount, { got: 2, expected: eventSize, what: `${what} (toy densities are 2-D)` });
    return sampleToy(source, opts.n ?? DEFAULT_TOY_SAMPLES, opts.seed, opts.split === "test" ? "test" : "");
  }

  let format = formatFromName(source);
  if (format === undefined) {
    if (!fs.existsSync(source)) throw inputError(FLOW6.unknownSource, { source, toys: toyNames.join(", ") });
    format = sniff(readInputFile(source));
  }

  let data: Float64Array;
  if (format === "csv") {
    data = readCsv(source, { expectCols: eventSize, what }).data;
  } else {
    const bytes = readInputFile(source);
    const arr = format === "npy" ? decodeNpy(bytes, source) : decodeIdx(bytes, source);
    if (arr.shape.length === 0) {
      throw inputError(FLOW6.recordShape, { got: "a single scalar", expected: fmtShape(opts.eventShape), size: eventSize }, { file: source });
    }
    const record = arr.shape.slice(1);
    const recordSize = record.reduce((a, b) => a * b, 1);
    // A vector event takes any record flattened in C order; an image event takes a flat record
    // or the same dims up to unit dims ([N, 28, 28] fits [1, 28, 28]: dropping them never
    // reorders the data, while [N, 32, 32, 3] for [3, 32, 32] would scramble the channels).
    const fits = recordSize === eventSize &&
      (opts.eventShape.length === 1 || record.length === 1 || squeeze(record).join() === squeeze(opts.eventShape).join());
    if (!fits) {
      throw inputError(FLOW6.recordShape, { got: fmtShape(record), expected: fmtShape(opts.eventShape), size: eventSize }, { file: source });
    }
    data = arr.data;
    if (arr.shape[0] === 0) throw inputError(FLOW6.emptyData, {}, { file: source });
    for (let k = 0; k < data.length; k++) {
      if (!Number.isFinite(data[k])) {
        const row = Math.floor(k / eventSize) + 1;
        const column = (k % eventSize) + 1;
        throw inputError(FLOW6.nonFinite, { value: String(data[k]) }, { file: source, row, column, index: k });
      }
    }
  }

  return data;
}

export interface LoadContextOptions extends LoadDataOptions {
  /** The `--context-cols` text: which columns hold the context (see `parseColumns`). */
  contextCols: string;
  /** The flow's context size k (`context [k]`), > 0. */
  contextSize: number;
}

/** The column that holds the class of a built-in source's rows. */
export const LABEL_COLUMN = "label";

/**
 * Column indices named by `spec`: comma-separated items, each a 0-based index
 * (negative counts from the end, as in numpy), a half-open range `a:b` (either
 * end may be left out), or a header name. The result keeps the order given.
 */
export function parseColumns(spec: string, cols: number, header: string[] | undefined, file: string): number[] {
  const bad = (item: string, why: string) => inputError(FLOW6.badArgument, { what: `--context-cols item '${item}'`, expected: why, got: `a file with ${cols} columns${header ? ` (${header.join(", ")})` : ""}` }, { file });
  const index = (t: string, item: string): number => {
    const v = Number(t);
    if (!Number.isInteger(v) || v < -cols || v >= cols) throw bad(item, `a column index in [${-cols}, ${cols - 1}]`);
    return v < 0 ? cols + v : v;
  };
  const out: number[] = [];
  for (const raw of spec.split(",")) {
    const item = raw.trim();
    if (item === "") throw bad(raw, "a column index, a range a:b or a header name");
    if (header?.includes(item)) out.push(header.indexOf(item));
    else if (/^[+-]?\d+$/.test(item)) out.push(index(item, item));
    else if (/^([+-]?\d+)?:([+-]?\d+)?$/.test(item)) {
      const [a, b] = item.split(":");
      const lo = a === "" ? 0 : index(a, item);
      const hi = b === "" ? cols : b === String(cols) ? cols : index(b, item);
      if (hi <= lo) throw bad(item, "a non-empty range");
      for (let c = lo; c < hi; c++) out.push(c);
    } else {
      throw bad(item, header ? "a header name, a column index or a range a:b" : "a column index or a range a:b (the file has no header row, so names cannot be used)");
    }
  }
  const seen = new Set<number>();
  for (const c of out) {
    if (seen.has(c)) throw inputError(FLOW6.badArgument, { what: "--context-cols", expected: "each column at most once", got: `column ${c}${header ? ` (${header[c]})` : ""} twice` }, { file });
    seen.add(c);
  }
  return out;
}

/**
 * Turns picked context values (`width` per row) into the flow's context of k per
 * row: k columns are taken as they are; one column of class labels 0 … k − 1
 * for a context of k > 1 becomes a one-hot vector.
 */
export function contextFromColumns(values: ArrayLike<number>, width: number, k: number, where: { file?: string; what: string }): Float64Array {
  const rows = values.length / width;
  if (width === k) return Float64Array.from(values);
  if (width !== 1) {
    throw inputError(FLOW6.columnCount, { got: width, what: `the spec's context [${k}]`, expected: `${k} (or one column of class labels 0…${k - 1}, read one-hot)` }, where.file ? { file: where.file } : {});
  }
  const out = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const v = values[r];
    if (!Number.isInteger(v) || v < 0 || v >= k) {
      throw inputError(FLOW6.badArgument, { what: `${where.what}, row ${r + 1},`, expected: `a class label, an integer in [0, ${k - 1}], for the spec's context [${k}]`, got: v }, where.file ? { file: where.file } : {});
    }
    out[r * k + v] = 1;
  }
  return out;
}

/**
 * Rows and their context for a conditional flow. Built-in sources with classes
 * (the labelled toys, digits, mnist) take `--context-cols label`; a table (.csv,
 * or a 2-D .npy) takes the named columns as the context and the remaining
 * columns, in order, as the data.
 */
export function loadDataWithContext(source: string, opts: LoadContextOptions): { data: Float64Array; context: Float64Array } {
  const k = opts.contextSize;
  const eventSize = opts.eventShape.reduce((a, b) => a * b, 1);
  const spec = opts.contextCols.trim();

  const builtin = isBuiltinImageSet(source) || isToyName(source);
  if (builtin && spec !== LABEL_COLUMN) {
    throw inputError(FLOW6.badArgument, { what: `--context-cols for the built-in source '${source}'`, expected: `'${LABEL_COLUMN}' (its class)`, got: `'${opts.contextCols}'` });
  }
  if (isBuiltinImageSet(source)) {
    const data = loadData(source, opts);
    const labels = loadImageSet(source, opts.split === "test" ? "test" : "train").labels;
    return { data, context: contextFromColumns(labels, 1, k, { what: `the ${source} label` }) };
  }
  if (isToyName(source)) {
    if (toyClasses[source] === undefined) {
      const labelled = toyNames.filter((t) => toyClasses[t] !== undefined).join(", ");
      throw inputError(FLOW6.badArgument, { what: "--context-cols label", expected: `a toy with classes (${labelled})`, got: `'${source}', which has none` });
    }
    if (eventSize !== 2) throw inputError(FLOW6.columnCount, { got: 2, expected: eventSize, what: `the flow's event ${fmtShape(opts.eventShape)} (toy densities are 2-D)` });
    const { data, labels } = sampleToyLabelled(source, opts.n ?? DEFAULT_TOY_SAMPLES, opts.seed, opts.split === "test" ? "test" : "");
    return { data, context: contextFromColumns(labels, 1, k, { what: `the ${source} label` }) };
  }

  let format = formatFromName(source);
  if (format === undefined) {
    if (!fs.existsSync(source)) throw inputError(FLOW6.unknownSource, { source, toys: toyNames.join(", ") });
    format = sniff(readInputFile(source));
  }
  let table: Float64Array, cols: number, header: string[] | undefined;
  if (format === "csv") {
    const csv = readCsv(source);
    table = csv.data; cols = csv.cols; header = csv.header;
  } else {
    const bytes = readInputFile(source);
    const arr = format === "npy" ? decodeNpy(bytes, source) : decodeIdx(bytes, source);
    if (arr.shape.length !== 2) {
      throw inputError(FLOW6.recordShape, { got: fmtShape(arr.shape.slice(1)), expected: "a table [N, columns] when --context-cols picks columns", size: eventSize }, { file: source });
    }
    if (arr.shape[0] === 0) throw inputError(FLOW6.emptyData, {}, { file: source });
    table = arr.data; cols = arr.shape[1];
    for (let i = 0; i < table.length; i++) {
      if (!Number.isFinite(table[i])) throw inputError(FLOW6.nonFinite, { value: String(table[i]) }, { file: source, row: Math.floor(i / cols) + 1, column: (i % cols) + 1, index: i });
    }
  }
  const ctxCols = parseColumns(spec, cols, header, source);
  const picked = new Set(ctxCols);
  const dataCols = Array.from({ length: cols }, (_, c) => c).filter((c) => !picked.has(c));
  if (dataCols.length !== eventSize) {
    throw inputError(FLOW6.columnCount, { got: `${dataCols.length} (${cols} columns less ${ctxCols.length} for the context)`, expected: eventSize, what: `the flow's event ${fmtShape(opts.eventShape)}` }, { file: source });
  }
  const rows = table.length / cols;
  const data = new Float64Array(rows * eventSize);
  const raw = new Float64Array(rows * ctxCols.length);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < eventSize; j++) data[r * eventSize + j] = table[r * cols + dataCols[j]];
    for (let j = 0; j < ctxCols.length; j++) raw[r * ctxCols.length + j] = table[r * cols + ctxCols[j]];
  }
  const name = ctxCols.length === 1 ? `column ${ctxCols[0]}${header ? ` (${header[ctxCols[0]]})` : ""}` : "the context columns";
  return { data, context: contextFromColumns(raw, ctxCols.length, k, { file: source, what: name }) };
}
