/**
 * @fileoverview The safetensors weight format, read and written without any
 * dependency: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`
 * (offsets relative to the first byte after the header), then the raw
 * little-endian tensor data. The same files load in PyTorch via
 * `safetensors.torch.load_file`.
 *
 * Decoding treats the bytes as untrusted: every field is checked before it
 * is used, nothing is read outside the buffer, and each problem becomes a
 * FlowcInputError naming the tensor.
 */
import { FLOW6, FlowcInputError, fmtShape, inputError, type InputCode, type InputErrorDetails } from "./errors.ts";

export type SafetensorsDtype =
  | "F64" | "F32" | "F16" | "BF16" | "F8_E5M2" | "F8_E4M3"
  | "I64" | "I32" | "I16" | "I8"
  | "U64" | "U32" | "U16" | "U8" | "BOOL";

export type TensorData =
  | Float64Array | Float32Array
  | BigInt64Array | BigUint64Array
  | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

type TypedCtor = { new (buffer: ArrayBuffer): TensorData; BYTES_PER_ELEMENT: number; name: string };

/** Element size and the typed array each dtype decodes to. Half and 8-bit floats stay raw bits. */
const DTYPES: Record<SafetensorsDtype, { bytes: number; ctor: TypedCtor }> = {
  F64: { bytes: 8, ctor: Float64Array },
  F32: { bytes: 4, ctor: Float32Array },
  F16: { bytes: 2, ctor: Uint16Array },
  BF16: { bytes: 2, ctor: Uint16Array },
  F8_E5M2: { bytes: 1, ctor: Uint8Array },
  F8_E4M3: { bytes: 1, ctor: Uint8Array },
  I64: { bytes: 8, ctor: BigInt64Array },
  I32: { bytes: 4, ctor: Int32Array },
  I16: { bytes: 2, ctor: Int16Array },
  I8: { bytes: 1, ctor: Int8Array },
  U64: { bytes: 8, ctor: BigUint64Array },
  U32: { bytes: 4, ctor: Uint32Array },
  U16: { bytes: 2, ctor: Uint16Array },
  U8: { bytes: 1, ctor: Uint8Array },
  BOOL: { bytes: 1, ctor: Uint8Array },
};

export const SAFETENSORS_DTYPES = Object.keys(DTYPES) as SafetensorsDtype[];

export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

export interface DecodedTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

export interface DecodedSafetensors {
  /** In file order (ascending data offset). */
  tensors: Map<string, DecodedTensor>;
  metadata: Record<string, string>;
}

const METADATA_KEY = "__metadata__";

// Typed arrays use the platform's byte order; safetensors is little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A copy of `src` with every `size`-byte element reversed (big-endian hosts only). */
function swapped(src: Uint8Array, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i += size) {
    for (let k = 0; k < size; k++) out[i + k] = src[i + size - 1 - k];
  }
  return out;
}

function isDtype(s: string): s is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** Product of dims; may exceed 2^53 for hostile shapes, which callers treat as a mismatch. */
function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

/**
 * Serialise tensors in the order given, contiguously, after a JSON header
 * padded with spaces so that the data start at a multiple of 8 bytes.
 */
export function encodeSafetensors(tensors: SafetensorsTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const fail = (code: InputCode, args: Record<string, unknown>, tensor?: string): FlowcInputError =>
    inputError(code, args, tensor === undefined ? {} : { tensor });

  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") throw fail(FLOW6.stMetadata, { problem: `value of '${k}' must be a string, got ${describe(v)}` });
  }
  const seen = new Set<string>();
  const parts: string[] = [`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`];
  let offset = 0;
  for (const t of tensors) {
    const problem = (p: string) => fail(FLOW6.stEncode, { tensor: t.name, problem: p }, t.name);
    if (t.name === METADATA_KEY) throw problem(`the name ${METADATA_KEY} is reserved`);
    if (seen.has(t.name)) throw problem("the name appears twice");
    seen.add(t.name);
    if (!isDtype(t.dtype)) throw problem(`unknown dtype '${String(t.dtype)}' (known: ${SAFETENSORS_DTYPES.join(", ")})`);
    const spec = DTYPES[t.dtype];
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw problem(`shape ${JSON.stringify(t.shape)} must be a list of non-negative integers`);
    }
    if (!(t.data instanceof spec.ctor)) {
      throw problem(`dtype ${t.dtype} needs a ${spec.ctor.name}, got ${t.data?.constructor?.name ?? typeof t.data}`);
    }
    const count = elementCount(t.shape);
    if (t.data.length !== count) throw problem(`shape ${fmtShape(t.shape)} has ${count} elements but the data hold ${t.data.length}`);
    const end = offset + count * spec.bytes;
    parts.push(`${JSON.stringify(t.name)}:{"dtype":${JSON.stringify(t.dtype)},"shape":${JSON.stringify(t.shape)},"data_offsets":[${offset},${end}]}`);
    offset = end;
  }

  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen >>> 0, true);
  view.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);

  let pos = 8 + headerLen;
  for (const t of tensors) {
    const size = DTYPES[t.dtype].bytes;
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(LITTLE_ENDIAN || size === 1 ? raw : swapped(raw, size), pos);
    pos += raw.length;
  }
  return out;
}

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parse and validate a safetensors file. `file` only labels error messages.
 * Tensor data are copied out into fresh, aligned typed arrays.
 */
export function decodeSafetensors(bytes: Uint8Array, opts: { file?: string } = {}): DecodedSafetensors {
  const where: InputErrorDetails = opts.file === undefined ? {} : { file: opts.file };
  const fail = (code: InputCode, args: Record<string, unknown>, tensor?: string): FlowcInputError =>
    inputError(code, args, tensor === undefined ? where : { ...where, tensor });

  if (bytes.length < 8) throw fail(FLOW6.stTooShort, { size: bytes.length });
  const lenView = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const headerLen = lenView.getUint32(0, true) + lenView.getUint32(4, true) * 2 ** 32;
  const available = bytes.length - 8;
  if (headerLen > available) throw fail(FLOW6.stHeaderLength, { length: headerLen, available });

  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
    header = JSON.parse(text);
  } catch (e) {
    const reason = e instanceof SyntaxError ? e.message : "the bytes are not valid UTF-8";
    throw fail(FLOW6.stHeaderJson, { reason });
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw fail(FLOW6.stHeaderType, { got: describe(header) });
  }

  const dataStart = 8 + headerLen;
  const dataSize = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];

  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        throw fail(FLOW6.stMetadata, { problem: `must be an object of strings, got ${describe(raw)}` });
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") throw fail(FLOW6.stMetadata, { problem: `value of '${k}' must be a string, got ${describe(v)}` });
        metadata[k] = v;
      }
      continue;
    }
    const bad = (problem: string) => fail(FLOW6.stField, { tensor: name, problem }, name);
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw bad(`the entry must be an object {dtype, shape, data_offsets}, got ${describe(raw)}`);
    }
    const rec = raw as Record<string, unknown>;
    for (const field of ["dtype", "shape", "data_offsets"]) {
      if (!(field in rec)) throw bad(`field '${field}' is missing`);
    }

    const dtype = rec.dtype;
    if (typeof dtype !== "string") throw bad(`field 'dtype' must be a string, got ${describe(dtype)}`);
    if (!isDtype(dtype)) throw fail(FLOW6.stDtype, { tensor: name, dtype, known: SAFETENSORS_DTYPES.join(", ") }, name);

    const shape = rec.shape;
    if (!Array.isArray(shape)) throw bad(`field 'shape' must be an array, got ${describe(shape)}`);
    for (const d of shape) {
      if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
        throw fail(FLOW6.stShape, { tensor: name, shape: JSON.stringify(shape), dim: JSON.stringify(d) }, name);
      }
    }

    const offs = rec.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2) {
      throw bad(`field 'data_offsets' must be an array [begin, end], got ${describe(offs)}`);
    }
    const [begin, end] = offs as unknown[];
    for (const v of [begin, end]) {
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
        throw bad(`field 'data_offsets' must hold non-negative integers, got ${JSON.stringify(offs)}`);
      }
    }
    const b = begin as number;
    const e = end as number;
    if (b > e) throw bad(`data_offsets [${b}, ${e}] end before they begin`);
    if (e > dataSize) throw fail(FLOW6.stOffsetRange, { tensor: name, begin: b, end: e, size: dataSize }, name);

    const elemBytes = DTYPES[dtype].bytes;
    const expected = elementCount(shape as number[]) * elemBytes;
    if (expected !== e - b) {
      throw fail(FLOW6.stSize, { tensor: name, begin: b, end: e, got: e - b, shape: fmtShape(shape as number[]), dtype, expected }, name);
    }
    entries.push({ name, dtype, shape: (shape as number[]).slice(), begin: b, end: e });
  }

  entries.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let prev: Entry | undefined;
  for (const cur of entries) {
    if (cur.end === cur.begin) continue; // an empty tensor occupies no bytes
    if (prev && cur.begin < prev.end) {
      throw fail(FLOW6.stOverlap, {
        tensor: cur.name, begin: cur.begin, end: cur.end, other: prev.name, otherBegin: prev.begin, otherEnd: prev.end,
      }, cur.name);
    }
    prev = cur;
  }

  const tensors = new Map<string, DecodedTensor>();
  for (const en of entries) {
    const spec = DTYPES[en.dtype];
    // A fresh copy is aligned wherever the tensor sat in the file. Uint8Array's own slice, since
    // a Node Buffer's slice() returns a view of its (possibly pooled) memory instead of a copy.
    let copy = Uint8Array.prototype.slice.call(bytes, dataStart + en.begin, dataStart + en.end) as Uint8Array<ArrayBuffer>;
    if (!LITTLE_ENDIAN && spec.bytes > 1) copy = swapped(copy, spec.bytes);
    tensors.set(en.name, { dtype: en.dtype, shape: en.shape, data: new spec.ctor(copy.buffer) });
  }
  return { tensors, metadata };
}
