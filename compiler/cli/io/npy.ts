/**
 * @fileoverview NumPy `.npy` files (format versions 1.0, 2.0 and 3.0):
 * a magic string, a version, a little-endian header length, a Python dict
 * literal `{'descr': '<f4', 'fortran_order': False, 'shape': (N, 2), }`,
 * then the raw array. Numeric dtypes of either byte order are read into a
 * Float64Array; only C order is accepted, since reinterpreting a Fortran
 * array as rows would silently transpose it.
 */
import { FLOW6, fmtShape, inputError, type InputErrorDetails } from "../../../runtime-wasm/host/errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import { readInputFile } from "./read.ts";

export interface NpyArray {
  data: Float64Array;
  shape: number[];
  /** The descr as written in the file, e.g. "<f4" or "|u1". */
  dtype: string;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** kind+size → bytes per element and a reader. */
type Reader = (v: DataView, off: number, le: boolean) => number;
const KINDS: Record<string, { size: number; read: Reader }> = {
  b1: { size: 1, read: (v, o) => (v.getUint8(o) !== 0 ? 1 : 0) },
  i1: { size: 1, read: (v, o) => v.getInt8(o) },
  u1: { size: 1, read: (v, o) => v.getUint8(o) },
  i2: { size: 2, read: (v, o, le) => v.getInt16(o, le) },
  u2: { size: 2, read: (v, o, le) => v.getUint16(o, le) },
  i4: { size: 4, read: (v, o, le) => v.getInt32(o, le) },
  u4: { size: 4, read: (v, o, le) => v.getUint32(o, le) },
  // 64-bit integers lose precision above 2^53, as they would in any float array.
  i8: { size: 8, read: (v, o, le) => Number(v.getBigInt64(o, le)) },
  u8: { size: 8, read: (v, o, le) => Number(v.getBigUint64(o, le)) },
  f2: { size: 2, read: (v, o, le) => halfToNumber(v.getUint16(o, le)) },
  f4: { size: 4, read: (v, o, le) => v.getFloat32(o, le) },
  f8: { size: 8, read: (v, o, le) => v.getFloat64(o, le) },
};
const SUPPORTED = "<f2 <f4 <f8 |i1 |u1 |b1 <i2 <u2 <i4 <u4 <i8 <u8 (or big-endian '>')";

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------- header literal

type PyValue = string | number | boolean | null | PyValue[] | { tuple: PyValue[] } | Map<string, PyValue>;

/** A tiny parser for the Python literals numpy writes in the header. Throws a string on error. */
function parsePyLiteral(src: string): PyValue {
  let i = 0;
  const ws = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const fail = (what: string): never => {
    throw `${what} at character ${i + 1} of the header`;
  };
  // numpy writes a flat dict of a string, a bool and a tuple of ints; deep nesting is hostile.
  let depth = 0;
  const value = (): PyValue => {
    ws();
    const ch = src[i];
    if ((ch === "{" || ch === "(" || ch === "[") && depth >= 16) fail("nesting deeper than 16 levels");
    if (ch === "'" || ch === '"') {
      const end = src.indexOf(ch, i + 1);
      if (end < 0) fail("unterminated string");
      const s = src.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    if (ch === "{") {
      i++;
      depth++;
      const m = new Map<string, PyValue>();
      for (;;) {
        ws();
        if (src[i] === "}") { i++; depth--; return m; }
        const k = value();
        if (typeof k !== "string") fail("dict keys must be strings");
        ws();
        if (src[i] !== ":") fail("expected ':'");
        i++;
        m.set(k as string, value());
        ws();
        if (src[i] === ",") i++;
        else if (src[i] !== "}") fail("expected ',' or '}'");
      }
    }
    if (ch === "(" || ch === "[") {
      const close = ch === "(" ? ")" : "]";
      i++;
      depth++;
      const items: PyValue[] = [];
      for (;;) {
        ws();
        if (src[i] === close) { i++; depth--; break; }
        items.push(value());
        ws();
        if (src[i] === ",") i++;
        else if (src[i] !== close) fail(`expected ',' or '${close}'`);
      }
      return ch === "(" ? { tuple: items } : items;
    }
    const m = /^(True|False|None|[+-]?\d+L?)/.exec(src.slice(i));
    if (!m) fail(i >= src.length ? "unexpected end" : `unexpected '${src[i]}'`);
    i += m![0].length;
    if (m![0] === "True") return true;
    if (m![0] === "False") return false;
    if (m![0] === "None") return null;
    return Number(m![0].replace("L", ""));
  };
  const v = value();
  ws();
  if (i < src.length) fail("unexpected text after the dict");
  return v;
}

// ---------------------------------------------------------------- read

/** Parse `.npy` bytes; `file` labels errors. */
export function decodeNpy(bytes: Uint8Array, file: string): NpyArray {
  const at: InputErrorDetails = { file };
  if (bytes.length < 6 || MAGIC.some((b, k) => bytes[k] !== b)) {
    if (bytes.length < 6 && MAGIC.slice(0, bytes.length).every((b, k) => bytes[k] === b) && bytes.length > 0) {
      throw inputError(FLOW6.truncated, { what: "the .npy preamble", expected: 10, got: bytes.length }, at);
    }
    const got = Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join(" ") || "nothing (empty file)";
    throw inputError(FLOW6.npyMagic, { got }, at);
  }
  if (bytes.length < 8) throw inputError(FLOW6.truncated, { what: "the .npy preamble", expected: 10, got: bytes.length }, at);
  const major = bytes[6];
  const minor = bytes[7];
  if (![1, 2, 3].includes(major) || minor !== 0) throw inputError(FLOW6.npyVersion, { version: `${major}.${minor}` }, at);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) {
    throw inputError(FLOW6.truncated, { what: "the .npy preamble", expected: 8 + lenBytes, got: bytes.length }, at);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = 8 + lenBytes;
  if (headerStart + headerLen > bytes.length) {
    throw inputError(FLOW6.truncated, { what: "the .npy header", expected: headerLen, got: bytes.length - headerStart }, at);
  }
  const headerBytes = bytes.subarray(headerStart, headerStart + headerLen);
  let headerText: string;
  try {
    headerText = new TextDecoder(major === 3 ? "utf-8" : "latin1", { fatal: true }).decode(headerBytes);
  } catch {
    throw inputError(FLOW6.npyHeader, { reason: "the header is not valid text" }, at);
  }

  let dict: PyValue;
  try {
    dict = parsePyLiteral(headerText);
  } catch (e) {
    throw inputError(FLOW6.npyHeader, { reason: typeof e === "string" ? e : String(e) }, at);
  }
  if (!(dict instanceof Map)) throw inputError(FLOW6.npyHeader, { reason: "the header is not a dict" }, at);
  for (const key of ["descr", "fortran_order", "shape"]) {
    if (!dict.has(key)) throw inputError(FLOW6.npyHeader, { reason: `the key '${key}' is missing` }, at);
  }
  const descr = dict.get("descr");
  if (typeof descr !== "string") {
    throw inputError(FLOW6.unsupportedDtype, { dtype: "a structured dtype", supported: SUPPORTED }, at);
  }
  const fortran = dict.get("fortran_order");
  if (typeof fortran !== "boolean") throw inputError(FLOW6.npyHeader, { reason: "'fortran_order' must be True or False" }, at);
  const shapeVal = dict.get("shape");
  const shapeItems = shapeVal && typeof shapeVal === "object" && "tuple" in shapeVal ? shapeVal.tuple : null;
  if (!shapeItems || shapeItems.some((d) => typeof d !== "number" || !Number.isSafeInteger(d) || d < 0)) {
    throw inputError(FLOW6.npyHeader, { reason: "'shape' must be a tuple of non-negative integers" }, at);
  }
  const shape = shapeItems as number[];

  const order = descr[0];
  const kind = KINDS[descr.slice(1)];
  if (!kind || !["<", ">", "|", "="].includes(order) || (order === "|" && kind.size !== 1)) {
    throw inputError(FLOW6.unsupportedDtype, { dtype: descr, supported: SUPPORTED }, at);
  }
  if (fortran) throw inputError(FLOW6.fortranOrder, {}, at);

  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLen;
  const expected = count * kind.size;
  const got = bytes.length - dataStart;
  if (got < expected) {
    throw inputError(FLOW6.truncated, { what: `an array of shape ${fmtShape(shape)} and dtype ${descr}`, expected, got }, at);
  }
  if (got > expected) {
    throw inputError(FLOW6.sizeMismatch, { shape: fmtShape(shape), dtype: descr, expected, got }, at);
  }
  const le = order !== ">";
  const data = new Float64Array(count);
  if (descr.slice(1) === "f8" && le && LITTLE_ENDIAN_HOST) {
    // Fast path for the common case; the copy keeps the view aligned.
    data.set(new Float64Array(Uint8Array.prototype.slice.call(bytes, dataStart, dataStart + expected).buffer));
  } else {
    for (let k = 0, off = dataStart; k < count; k++, off += kind.size) data[k] = kind.read(view, off, le);
  }
  return { data, shape, dtype: descr };
}

/** Read a `.npy` file into a Float64Array (C order). */
export function readNpy(file: string): NpyArray {
  return decodeNpy(readInputFile(file), file);
}

// ---------------------------------------------------------------- write

/** Encode an array as `.npy` (format 1.0 unless the header needs 2.0), little-endian <f4 or <f8. */
export function encodeNpy(data: Float32Array | Float64Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0) || count !== data.length) {
    throw inputError(FLOW6.badArgument, { what: `the .npy shape ${fmtShape(shape)}`, expected: `${data.length} elements`, got: count });
  }
  const f64 = data instanceof Float64Array;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${f64 ? "<f8" : "<f4"}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad with spaces and a final newline so the data start at a multiple of 64 bytes, as numpy does.
  const padded = (pre: number) => Math.ceil((pre + dict.length + 1) / 64) * 64 - pre;
  const v1 = padded(10) <= 0xffff;
  const pre = v1 ? 10 : 12;
  const headerLen = padded(pre);
  const header = dict.padEnd(headerLen - 1, " ") + "\n";
  const itemSize = f64 ? 8 : 4;
  const out = new Uint8Array(pre + headerLen + data.length * itemSize);
  out.set(MAGIC, 0);
  out[6] = v1 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (v1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  for (let k = 0; k < header.length; k++) out[pre + k] = header.charCodeAt(k);
  const start = pre + headerLen;
  for (let k = 0; k < data.length; k++) {
    if (f64) view.setFloat64(start + 8 * k, data[k], true);
    else view.setFloat32(start + 4 * k, data[k], true);
  }
  return out;
}

/** Write an array as `.npy`, atomically. */
export function writeNpy(file: string, data: Float32Array | Float64Array, shape: number[]): void {
  writeFileAtomic(file, encodeNpy(data, shape));
}
