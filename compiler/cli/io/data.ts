/**
 * @fileoverview `--data` for the CLI: a toy density name or a data file
 * (.csv, .npy, IDX with or without .gz), returned as row-major rows of the
 * flow's event size. Shapes, sizes and finiteness are checked here so that a
 * bad file fails before training starts, with a message naming the file and
 * the position.
 */
import { isBuiltinImageSet, loadImageSet } from "./builtin.ts";
import * as fs from "node:fs";
import { FLOW6, fmtShape, inputError } from "../../../runtime-wasm/host/errors.ts";
import { isToyName, sampleToy, toyNames } from "../../../runtime-wasm/host/toys.ts";
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
