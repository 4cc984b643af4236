/**
 * @fileoverview safetensors encode/decode: round trips, one test per
 * corruption class (each must be a FlowcInputError with its FLOW6xx code and
 * the tensor's name), and a property test that truncations and bit flips
 * never escape as anything else. Also checks that the host's message table
 * and the compiler's FLOW6xx catalogue agree.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeSafetensors, encodeSafetensors, type SafetensorsTensor } from "../runtime-wasm/host/safetensors.ts";
import { FLOW6, FlowcInputError, INPUT_MESSAGES } from "../runtime-wasm/host/errors.ts";
import { runtimeMessages } from "../compiler/diagnostics/messages/runtime.ts";
import { catalogue } from "../compiler/diagnostics/catalogue.ts";

/** A file from a header (object or raw JSON text) and data bytes, with a correct length field. */
function raw(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectInputError(f: () => unknown, code: string, tensor?: string): FlowcInputError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FlowcInputError);
  const err = caught as FlowcInputError;
  expect(err.code).toBe(code);
  if (tensor !== undefined) {
    expect(err.tensor).toBe(tensor);
    expect(err.message).toContain(`'${tensor}'`);
  }
  return err;
}

const sample: SafetensorsTensor[] = [
  { name: "layers.0.logs", dtype: "F32", shape: [3], data: Float32Array.from([0.5, -1.25, 3]) },
  { name: "layers.1.weight", dtype: "F64", shape: [2, 2], data: Float64Array.from([1, 2, Math.PI, -0]) },
  { name: "step", dtype: "I64", shape: [], data: BigInt64Array.from([123n]) },
  { name: "mask", dtype: "U8", shape: [5], data: Uint8Array.from([1, 0, 1, 1, 0]) },
  { name: "empty", dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
];

describe("safetensors round trip", () => {
  it("decodes what it encodes, with metadata", () => {
    const bytes = encodeSafetensors(sample, { spec_hash: "abc", flowc: "0.1.0" });
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ spec_hash: "abc", flowc: "0.1.0" });
    expect([...back.tensors.keys()]).toEqual(sample.map((t) => t.name));
    for (const t of sample) {
      const d = back.tensors.get(t.name)!;
      expect(d.dtype).toBe(t.dtype);
      expect(d.shape).toEqual(t.shape);
      expect(d.data.constructor).toBe(t.data.constructor);
      expect(Array.from(d.data as ArrayLike<number | bigint>)).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    }
  });

  it("writes the layout the format specifies", () => {
    const bytes = encodeSafetensors(sample, { a: "b" });
    const view = new DataView(bytes.buffer);
    const n = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd().length).toBeLessThanOrEqual(n);
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    const header = JSON.parse(text);
    expect(header.__metadata__).toEqual({ a: "b" });
    // Tensors in the order given, contiguous from 0, ending at the end of the file.
    let off = 0;
    for (const t of sample) {
      const [b, e] = header[t.name].data_offsets;
      expect(b).toBe(off);
      off = e;
    }
    expect(8 + n + off).toBe(bytes.length);
    // Little-endian raw data.
    const f = header["layers.0.logs"].data_offsets[0];
    expect(view.getFloat32(8 + n + f + 4, true)).toBe(-1.25);
  });

  it("copies misaligned tensors out into aligned arrays, from a subarray view", () => {
    // An F32 with 3 values leaves the next F64 at byte 12 of the data section.
    const t: SafetensorsTensor[] = [
      { name: "a", dtype: "F32", shape: [3], data: Float32Array.from([1, 2, 3]) },
      { name: "b", dtype: "F64", shape: [2], data: Float64Array.from([0.1, 0.2]) },
    ];
    const bytes = encodeSafetensors(t, {});
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const back = decodeSafetensors(big.subarray(3));
    const b = back.tensors.get("b")!.data as Float64Array;
    expect(b.byteOffset % 8).toBe(0);
    expect(Array.from(b)).toEqual([0.1, 0.2]);
    // The result does not alias the input.
    big.fill(0);
    expect(Array.from(b)).toEqual([0.1, 0.2]);
  });

  it("decodes from a Node Buffer (whose slice() is a view) without aliasing its pool", () => {
    const bytes = encodeSafetensors(sample, {});
    const pooled = Buffer.concat([Buffer.from("xyz"), Buffer.from(bytes)]).subarray(3);
    const back = decodeSafetensors(pooled);
    const w = back.tensors.get("layers.1.weight")!.data as Float64Array;
    expect(w.buffer.byteLength).toBe(32);
    expect(Array.from(w)).toEqual([1, 2, Math.PI, -0]);
  });

  it("accepts a file with no tensors and no metadata", () => {
    const back = decodeSafetensors(raw({}));
    expect(back.tensors.size).toBe(0);
    expect(back.metadata).toEqual({});
  });

  it("accepts header padding and tensors listed out of offset order", () => {
    const data = new Uint8Array(12);
    new DataView(data.buffer).setFloat32(8, 7.5, true);
    const header = JSON.stringify({ b: { dtype: "F32", shape: [1], data_offsets: [8, 12] }, a: { dtype: "F64", shape: [1], data_offsets: [0, 8] } });
    const back = decodeSafetensors(raw(header + "       ", data));
    expect([...back.tensors.keys()]).toEqual(["a", "b"]);
    expect((back.tensors.get("b")!.data as Float32Array)[0]).toBe(7.5);
  });
});

describe("safetensors corruption", () => {
  const f32 = (offs: [number, number], shape: unknown = [2]) => ({ dtype: "F32", shape, data_offsets: offs });

  it("FLOW630: shorter than the length field", () => {
    const e = expectInputError(() => decodeSafetensors(new Uint8Array(5), { file: "w.safetensors" }), FLOW6.stTooShort);
    expect(e.message).toMatch(/^w\.safetensors: .*5 bytes/);
    expect(e.file).toBe("w.safetensors");
  });

  it("FLOW631: header length beyond the file", () => {
    const b = raw({ x: f32([0, 8]) }, new Uint8Array(8));
    new DataView(b.buffer).setUint32(0, 10_000, true);
    expectInputError(() => decodeSafetensors(b), FLOW6.stHeaderLength);
    const huge = raw({});
    new DataView(huge.buffer).setUint32(4, 0xffffffff, true);
    expectInputError(() => decodeSafetensors(huge), FLOW6.stHeaderLength);
  });

  it("FLOW632: invalid JSON or invalid UTF-8", () => {
    expectInputError(() => decodeSafetensors(raw('{"x": {')), FLOW6.stHeaderJson);
    const b = raw('{"a":1}');
    b[10] = 0xff;
    expectInputError(() => decodeSafetensors(b), FLOW6.stHeaderJson);
  });

  it("FLOW633: header not an object", () => {
    for (const h of ["[]", "null", "42", '"text"']) expectInputError(() => decodeSafetensors(raw(h)), FLOW6.stHeaderType);
  });

  it("FLOW634: missing or ill-typed fields name the tensor", () => {
    const d = new Uint8Array(8);
    expectInputError(() => decodeSafetensors(raw({ w: { shape: [2], data_offsets: [0, 8] } }, d)), FLOW6.stField, "w");
    expectInputError(() => decodeSafetensors(raw({ w: { dtype: "F32", data_offsets: [0, 8] } }, d)), FLOW6.stField, "w");
    expectInputError(() => decodeSafetensors(raw({ w: { dtype: "F32", shape: [2] } }, d)), FLOW6.stField, "w");
    expectInputError(() => decodeSafetensors(raw({ w: { dtype: 3, shape: [2], data_offsets: [0, 8] } }, d)), FLOW6.stField, "w");
    expectInputError(() => decodeSafetensors(raw({ w: { dtype: "F32", shape: "2", data_offsets: [0, 8] } }, d)), FLOW6.stField, "w");
    expectInputError(() => decodeSafetensors(raw({ w: { dtype: "F32", shape: [2], data_offsets: [0] } }, d)), FLOW6.stField, "w");
    expectInputError(() => decodeSafetensors(raw({ w: { dtype: "F32", shape: [2], data_offsets: [0, "8"] } }, d)), FLOW6.stField, "w");
    expectInputError(() => decodeSafetensors(raw({ w: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, d)), FLOW6.stField, "w");
    expectInputError(() => decodeSafetensors(raw({ w: { dtype: "F32", shape: [2], data_offsets: [-1, 7] } }, d)), FLOW6.stField, "w");
    expectInputError(() => decodeSafetensors(raw({ w: [1, 2] }, d)), FLOW6.stField, "w");
  });

  it("FLOW635: unknown dtype", () => {
    const e = expectInputError(() => decodeSafetensors(raw({ w: { dtype: "F17", shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8))), FLOW6.stDtype, "w");
    expect(e.message).toContain("F17");
  });

  it("FLOW636: negative or fractional dimensions", () => {
    const d = new Uint8Array(8);
    expectInputError(() => decodeSafetensors(raw({ w: f32([0, 8], [-2]) }, d)), FLOW6.stShape, "w");
    expectInputError(() => decodeSafetensors(raw({ w: f32([0, 8], [2.5]) }, d)), FLOW6.stShape, "w");
    expectInputError(() => decodeSafetensors(raw({ w: f32([0, 8], ["2"]) }, d)), FLOW6.stShape, "w");
  });

  it("FLOW637: offsets past the data section", () => {
    const e = expectInputError(() => decodeSafetensors(raw({ w: f32([0, 8]) }, new Uint8Array(6)), { file: "m.safetensors" }), FLOW6.stOffsetRange, "w");
    expect(e.message).toMatch(/^m\.safetensors: tensor 'w'/);
  });

  it("FLOW638: overlapping tensors name both", () => {
    const e = expectInputError(() => decodeSafetensors(raw({ a: f32([0, 8]), b: f32([4, 12]) }, new Uint8Array(12))), FLOW6.stOverlap, "b");
    expect(e.message).toContain("'a'");
  });

  it("FLOW639: offsets that do not match shape × dtype", () => {
    const e = expectInputError(() => decodeSafetensors(raw({ w: f32([0, 12], [2]) }, new Uint8Array(12))), FLOW6.stSize, "w");
    expect(e.message).toContain("needs 8");
    // A hostile shape must be rejected before any allocation.
    expectInputError(() => decodeSafetensors(raw({ w: f32([0, 8], [2 ** 40, 2 ** 40]) }, new Uint8Array(8))), FLOW6.stSize, "w");
  });

  it("FLOW640: metadata values that are not strings", () => {
    expectInputError(() => decodeSafetensors(raw({ __metadata__: { step: 3 } })), FLOW6.stMetadata);
    expectInputError(() => decodeSafetensors(raw({ __metadata__: [] })), FLOW6.stMetadata);
  });

  it("FLOW641: inconsistent tensors are refused when writing", () => {
    expectInputError(() => encodeSafetensors([{ name: "w", dtype: "F32", shape: [3], data: new Float32Array(2) }], {}), FLOW6.stEncode, "w");
    expectInputError(() => encodeSafetensors([{ name: "w", dtype: "F32", shape: [2], data: new Float64Array(2) }], {}), FLOW6.stEncode, "w");
    const t = { name: "w", dtype: "F32" as const, shape: [1], data: new Float32Array(1) };
    expectInputError(() => encodeSafetensors([t, t], {}), FLOW6.stEncode, "w");
    expectInputError(() => encodeSafetensors([{ ...t, name: "__metadata__" }], {}), FLOW6.stEncode, "__metadata__");
    expectInputError(() => encodeSafetensors([], { x: 1 as unknown as string }), FLOW6.stMetadata);
  });

  it("never throws anything but FlowcInputError on truncations and bit flips", () => {
    const good = encodeSafetensors(sample, { spec_hash: "0123456789abcdef" });
    fc.assert(
      fc.property(
        fc.nat({ max: good.length }),
        fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 7 })), { maxLength: 6 }),
        (cut, flips) => {
          const b = good.slice(0, cut === good.length ? good.length : cut);
          for (const [pos, bit] of flips) if (pos < b.length) b[pos] ^= 1 << bit;
          try {
            decodeSafetensors(b);
          } catch (e) {
            if (!(e instanceof FlowcInputError)) throw e;
            expect(e.code).toMatch(/^FLOW6\d\d$/);
          }
        },
      ),
      { numRuns: 3000, seed: 42 },
    );
  });

  it("bit flips concentrated in the header are handled too", () => {
    const good = encodeSafetensors(sample, {});
    const headerEnd = 8 + new DataView(good.buffer).getUint32(0, true);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: headerEnd - 1 }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }), (flips) => {
        const b = good.slice();
        for (const [pos, bit] of flips) b[pos] ^= 1 << bit;
        try {
          decodeSafetensors(b);
        } catch (e) {
          if (!(e instanceof FlowcInputError)) throw e;
        }
      }),
      { numRuns: 3000, seed: 7 },
    );
  });
});

describe("FLOW6xx catalogue", () => {
  it("the host's templates and the compiler's catalogue agree", () => {
    const host = Object.entries(INPUT_MESSAGES);
    const cat = Object.entries(runtimeMessages);
    expect(cat.map(([k]) => k).sort()).toEqual(host.map(([k]) => k).sort());
    for (const [code, message] of host) {
      expect(runtimeMessages[code]?.message, code).toBe(message);
      expect(runtimeMessages[code]?.severity).toBe("error");
      expect(catalogue[code]?.message).toBe(message);
      expect(code).toMatch(/^FLOW6\d\d$/);
    }
  });

  it("every named code has a template", () => {
    for (const code of Object.values(FLOW6)) expect(INPUT_MESSAGES[code]).toBeTypeOf("string");
    expect(new Set(Object.values(FLOW6)).size).toBe(Object.values(FLOW6).length);
  });
});
