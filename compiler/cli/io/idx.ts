/**
 * @fileoverview IDX files, the format of the MNIST distribution
 * (LeCun et al.): two zero bytes, an element-type byte, the number of
 * dimensions, each dimension as a big-endian u32, then big-endian data.
 * Gzipped files (`train-images-idx3-ubyte.gz`) are decompressed on the fly.
 * Values are returned as stored (0–255 for ubyte images), not rescaled.
 */
import { gunzipSync } from "node:zlib";
import { FLOW6, fmtShape, inputError, type InputErrorDetails } from "../../../runtime-wasm/host/errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import { readInputFile } from "./read.ts";

export interface IdxArray {
  data: Float64Array;
  shape: number[];
  /** "ubyte", "byte", "short", "int", "float" or "double". */
  dtype: string;
}

const TYPES: Record<number, { name: string; size: number; read: (v: DataView, o: number) => number }> = {
  0x08: { name: "ubyte", size: 1, read: (v, o) => v.getUint8(o) },
  0x09: { name: "byte", size: 1, read: (v, o) => v.getInt8(o) },
  0x0b: { name: "short", size: 2, read: (v, o) => v.getInt16(o, false) },
  0x0c: { name: "int", size: 4, read: (v, o) => v.getInt32(o, false) },
  0x0d: { name: "float", size: 4, read: (v, o) => v.getFloat32(o, false) },
  0x0e: { name: "double", size: 8, read: (v, o) => v.getFloat64(o, false) },
};

/** Gzipped data may expand at most this far: a few kilobytes of zeros can claim gigabytes. */
export const MAX_DECOMPRESSED_BYTES = 2 ** 30;

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parse IDX bytes (already decompressed or gzipped); `file` labels errors. */
export function decodeIdx(raw: Uint8Array, file: string, opts: { maxDecompressed?: number } = {}): IdxArray {
  const at: InputErrorDetails = { file };
  let bytes = raw;
  if (isGzip(raw)) {
    const limit = opts.maxDecompressed ?? MAX_DECOMPRESSED_BYTES;
    try {
      const buf = gunzipSync(raw, { maxOutputLength: limit });
      bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const reason = err.code === "ERR_BUFFER_TOO_LARGE"
        ? `it expands to more than ${limit} bytes, the limit for a data file (decompress it yourself if it really is that large)`
        : err.message;
      throw inputError(FLOW6.gzip, { reason }, at);
    }
  }
  if (bytes.length < 4) throw inputError(FLOW6.truncated, { what: "the IDX magic number", expected: 4, got: bytes.length }, at);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const got = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw inputError(FLOW6.idxMagic, { got }, at);
  }
  const type = TYPES[bytes[2]];
  if (!type) throw inputError(FLOW6.idxType, { type: bytes[2].toString(16).padStart(2, "0").toUpperCase() }, at);
  const ndim = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataStart = 4 + 4 * ndim;
  if (bytes.length < dataStart) {
    throw inputError(FLOW6.truncated, { what: `the ${ndim} IDX dimensions`, expected: 4 * ndim, got: bytes.length - 4 }, at);
  }
  const shape: number[] = [];
  for (let d = 0; d < ndim; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = count * type.size;
  const got = bytes.length - dataStart;
  if (got < expected) {
    throw inputError(FLOW6.truncated, { what: `an IDX array of shape ${fmtShape(shape)} (${type.name})`, expected, got }, at);
  }
  if (got > expected) throw inputError(FLOW6.sizeMismatch, { shape: fmtShape(shape), dtype: type.name, expected, got }, at);
  const data = new Float64Array(count);
  if (type.size === 1 && type.name === "ubyte") {
    data.set(bytes.subarray(dataStart, dataStart + count));
  } else {
    for (let k = 0, o = dataStart; k < count; k++, o += type.size) data[k] = type.read(view, o);
  }
  return { data, shape, dtype: type.name };
}

/** Read an IDX file (`.gz` or plain). */
export function readIdx(file: string): IdxArray {
  return decodeIdx(readInputFile(file), file);
}

/** Write unsigned bytes as an IDX file (type 0x08), atomically. */
export function writeIdx(file: string, data: Uint8Array, shape: number[]): void {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.length > 255 || shape.some((d) => !Number.isSafeInteger(d) || d < 0 || d > 0xffffffff) || count !== data.length) {
    throw inputError(FLOW6.badArgument, { what: `the IDX shape ${fmtShape(shape)}`, expected: `${data.length} elements`, got: count });
  }
  const out = new Uint8Array(4 + 4 * shape.length + count);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = shape.length;
  shape.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  out.set(data, 4 + 4 * shape.length);
  writeFileAtomic(file, out);
}
