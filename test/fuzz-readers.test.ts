/**
 * @fileoverview Property tests (fast-check) that throw mutated and truncated
 * files at every data and weight reader: CSV, `.npy`, IDX (plain and
 * gzipped) and safetensors. Each either returns data consistent with what it
 * claims, or throws a FlowcInputError whose FLOW6xx code belongs to that
 * reader and whose message names the file (and the row and column where the
 * format has them). Headers that claim more elements than the file holds are
 * refused before anything that size is allocated.
 *
 * `npm test` runs a bounded number of cases; `npm run fuzz` sets
 * FLOWC_FUZZ_RUNS to run many more.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { readCsv } from "../compiler/cli/io/csv.ts";
import { decodeNpy, encodeNpy } from "../compiler/cli/io/npy.ts";
import { decodeIdx } from "../compiler/cli/io/idx.ts";
import { decodeSafetensors, encodeSafetensors } from "../runtime-wasm/host/safetensors.ts";
import { FlowcInputError } from "../runtime-wasm/host/errors.ts";
import { npyBytes } from "./fixtures/npy.ts";

/** Cases per property: small in `npm test`, raised by `npm run fuzz`. */
const RUNS = Number(process.env.FLOWC_FUZZ_RUNS) || 150;
const SEED = process.env.FLOWC_FUZZ_SEED ? Number(process.env.FLOWC_FUZZ_SEED) : 20261122;
const opts = (scale = 1) => ({ numRuns: Math.max(1, Math.round(RUNS * scale)), seed: SEED });

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "flowc-fuzz-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Run `f`; anything thrown must be a FlowcInputError with a code matching `codes`. */
function acceptOrRefuse<T>(f: () => T, codes: RegExp, file?: string): T | FlowcInputError {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof FlowcInputError)) throw e;
    expect(e.code).toMatch(codes);
    expect(e.message.length).toBeGreaterThan(10);
    if (file !== undefined) expect(e.message.startsWith(file)).toBe(true);
    return e;
  }
}

/** Byte-level damage: truncation, bit flips, insertions and deletions. */
const byteEdits = (max: number) =>
  fc.record({
    cut: fc.option(fc.nat({ max }), { nil: undefined }),
    flips: fc.array(fc.tuple(fc.nat({ max: Math.max(0, max - 1) }), fc.integer({ min: 0, max: 7 })), { maxLength: 6 }),
    inserts: fc.array(fc.tuple(fc.nat({ max }), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
    deletes: fc.array(fc.nat({ max: Math.max(0, max - 1) }), { maxLength: 3 }),
  });

function damage(good: Uint8Array, e: { cut?: number; flips: [number, number][]; inserts: [number, number][]; deletes: number[] }): Uint8Array {
  const b = Array.from(good);
  for (const [pos, bit] of e.flips) if (pos < b.length) b[pos] ^= 1 << bit;
  for (const [pos, v] of e.inserts) b.splice(Math.min(pos, b.length), 0, v);
  for (const pos of e.deletes) if (pos < b.length) b.splice(pos, 1);
  return Uint8Array.from(e.cut === undefined ? b : b.slice(0, e.cut));
}

// ------------------------------------------------------------------ CSV

describe("fuzz: CSV", () => {
  const cell = fc.oneof(
    fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
    fc.integer().map(String),
    fc.constantFrom("", "nan", "-inf", "1e999", "0x10", "1_000", "abc", '"3"', "'4'", " 5 ", "1e", ".", "-", "+.5", "1.5e-3", "\u00a0", "#"),
  );
  const table = fc.array(fc.array(cell, { minLength: 1, maxLength: 4 }), { minLength: 0, maxLength: 8 });
  const sep = fc.constantFrom(",", " ", "\t", ", ");
  const eol = fc.constantFrom("\n", "\r\n", "\r");

  it("any table of cells: consistent data, or FLOW600-605 at file:line:column", () => {
    fc.assert(
      fc.property(table, sep, eol, fc.boolean(), fc.nat(), (rows, s, nl, bom, id) => {
        const file = path.join(dir, `t${id}.csv`);
        fs.writeFileSync(file, (bom ? "\ufeff" : "") + rows.map((r) => r.join(s)).join(nl));
        const r = acceptOrRefuse(() => readCsv(file), /^FLOW60[0-5]$/, file);
        if (r instanceof FlowcInputError) {
          if (["FLOW601", "FLOW602", "FLOW603"].includes(r.code)) {
            expect(r.row).toBeGreaterThan(0);
            expect(r.message).toContain(`${file}:${r.row}`);
          }
          if (r.code === "FLOW601" || r.code === "FLOW602") expect(r.column).toBeGreaterThan(0);
        } else {
          expect(r.cols).toBeGreaterThan(0);
          expect(r.data.length).toBe(r.rows * r.cols);
          for (const v of r.data) expect(Number.isFinite(v)).toBe(true);
        }
      }),
      opts(),
    );
  });

  it("byte damage to a valid file: consistent data or a FLOW60x error naming the file", () => {
    const good = new TextEncoder().encode("x,y\n0.5,-1.25\n3e-2,4\n-7,8.5\n");
    fc.assert(
      fc.property(byteEdits(good.length), fc.nat(), (edits, id) => {
        const file = path.join(dir, `b${id}.csv`);
        fs.writeFileSync(file, damage(good, edits));
        const r = acceptOrRefuse(() => readCsv(file, { expectCols: 2, what: "the flow's event [2]" }), /^FLOW60[0-5]$/, file);
        if (!(r instanceof FlowcInputError)) {
          expect(r.cols).toBe(2);
          expect(r.data.length).toBe(r.rows * 2);
        }
      }),
      opts(),
    );
  });
});

// ------------------------------------------------------------------ .npy

describe("fuzz: .npy", () => {
  const file = "fuzz.npy";
  const NPY = /^FLOW61[0-6]$/;

  it("byte damage to valid files: an array of the claimed shape, or FLOW610-616 naming the file", () => {
    const goods = [
      encodeNpy(Float32Array.from({ length: 12 }, (_, i) => i / 3), [3, 4]),
      encodeNpy(Float64Array.from({ length: 6 }, (_, i) => -i), [6]),
      encodeNpy(new Float32Array(8), [2, 1, 2, 2]),
    ];
    fc.assert(
      fc.property(fc.constantFrom(...goods), byteEdits(200), (good, edits) => {
        const r = acceptOrRefuse(() => decodeNpy(damage(good, edits), file), NPY, file);
        if (!(r instanceof FlowcInputError)) expect(r.data.length).toBe(r.shape.reduce((a, b) => a * b, 1));
      }),
      opts(),
    );
  });

  it("hostile headers: any descr, order and shape (up to 2^53 elements) are refused before allocating", () => {
    const dim = fc.oneof(fc.nat({ max: 4 }), fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1, -1), fc.nat());
    const descr = fc.constantFrom("<f4", ">f8", "|u1", "<i8", "|f4", "<c16", "O", "<U3", "", "<f4'");
    const header = fc.tuple(descr, fc.constantFrom("False", "True", "0", "None"), fc.array(dim, { maxLength: 4 }), fc.boolean()).map(
      ([d, f, shape, trailing]) => `{'descr': '${d}', 'fortran_order': ${f}, 'shape': (${shape.join(", ")}${shape.length === 1 || trailing ? "," : ""}), }`,
    );
    fc.assert(
      fc.property(header, fc.nat({ max: 64 }), fc.constantFrom(1, 2, 3), (h, dataBytes, version) => {
        const r = acceptOrRefuse(() => decodeNpy(npyBytes(h, new Uint8Array(dataBytes), version), file), NPY, file);
        if (!(r instanceof FlowcInputError)) expect(r.data.length).toBeLessThanOrEqual(64);
      }),
      opts(),
    );
  });

  it("a header claiming 2^40 elements is FLOW615, and deep nesting is FLOW612", () => {
    const huge = acceptOrRefuse(() => decodeNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", new Uint8Array(16)), file), NPY);
    expect((huge as FlowcInputError).code).toBe("FLOW615");
    expect((huge as FlowcInputError).message).toContain("4398046511104 bytes");
    const deep = acceptOrRefuse(() => decodeNpy(npyBytes("(".repeat(100_000), new Uint8Array(0), 2), file), NPY);
    expect((deep as FlowcInputError).code).toBe("FLOW612");
    expect((deep as FlowcInputError).message).toContain("nesting");
  });
});

// ------------------------------------------------------------------ IDX

function idxBytes(type: number, shape: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  const v = new DataView(out.buffer);
  out[2] = type;
  out[3] = shape.length;
  shape.forEach((d, k) => v.setUint32(4 + 4 * k, d >>> 0, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

describe("fuzz: IDX", () => {
  const file = "fuzz-idx3-ubyte";
  const IDX = /^FLOW61[5-9]$/;
  const good = idxBytes(0x08, [3, 2, 2], Uint8Array.from({ length: 12 }, (_, i) => i * 20));

  it("byte damage, plain and gzipped: an array of the claimed shape, or FLOW615-619", () => {
    fc.assert(
      fc.property(byteEdits(good.length + 4), fc.boolean(), (edits, gz) => {
        const bytes = gz ? damage(gzipSync(good), edits) : damage(good, edits);
        const r = acceptOrRefuse(() => decodeIdx(bytes, file), IDX, file);
        if (!(r instanceof FlowcInputError)) expect(r.data.length).toBe(r.shape.reduce((a, b) => a * b, 1));
      }),
      opts(),
    );
  });

  it("hostile dimensions (up to 255 of them, each up to 2^32 − 1) are refused before allocating", () => {
    fc.assert(
      fc.property(fc.constantFrom(0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e), fc.array(fc.oneof(fc.nat({ max: 3 }), fc.constant(0xffffffff), fc.nat()), { maxLength: 255 }), fc.nat({ max: 32 }), (type, shape, n) => {
        const r = acceptOrRefuse(() => decodeIdx(idxBytes(type, shape, new Uint8Array(n)), file), IDX, file);
        if (!(r instanceof FlowcInputError)) expect(r.data.length).toBeLessThanOrEqual(32);
      }),
      opts(),
    );
  });

  it("a gzip bomb is refused at the decompression limit (FLOW619)", () => {
    const bomb = gzipSync(new Uint8Array(4 << 20)); // 4 MiB of zeros, a few KiB compressed
    const e = acceptOrRefuse(() => decodeIdx(bomb, file, { maxDecompressed: 1 << 20 }), IDX, file) as FlowcInputError;
    expect(e.code).toBe("FLOW619");
    expect(e.message).toContain("more than 1048576 bytes");
  });
});

// ------------------------------------------------------------------ safetensors

describe("fuzz: safetensors headers", () => {
  const file = "weights.safetensors";
  const ST = /^FLOW6[34]\d$/;
  /** A file with a hand-made header and `n` data bytes. */
  function stBytes(header: unknown, n: number): Uint8Array {
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + n);
    new DataView(out.buffer).setUint32(0, json.length, true);
    out.set(json, 8);
    return out;
  }
  const weird = fc.oneof(
    fc.constantFrom(null, true, "F32", "X", -1, 0, 1.5, 2 ** 40, 2 ** 53, 1e308, [], {}, [0], [0, 8], [8, 0], [0, 2 ** 40], [-1, 4], ["0", "4"]),
    fc.array(fc.oneof(fc.nat({ max: 4 }), fc.constantFrom(2 ** 40, -1, 0.5)), { maxLength: 4 }),
  );

  it("every field replaced by a hostile value: decoded consistently, or FLOW630-641 naming the tensor", () => {
    fc.assert(
      fc.property(fc.constantFrom("dtype", "shape", "data_offsets", "whole", "metadata"), weird, fc.nat({ max: 40 }), (field, value, n) => {
        const entry: Record<string, unknown> = { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] };
        const header: Record<string, unknown> = { "layers.0.w": entry, __metadata__: { spec_hash: "x" } };
        if (field === "whole") header["layers.0.w"] = value;
        else if (field === "metadata") header.__metadata__ = value;
        else entry[field] = value;
        const r = acceptOrRefuse(() => decodeSafetensors(stBytes(header, n), { file }), ST, file);
        if (r instanceof FlowcInputError) {
          if (["FLOW634", "FLOW635", "FLOW636", "FLOW637", "FLOW639"].includes(r.code)) {
            expect(r.tensor).toBe("layers.0.w");
            expect(r.message).toContain("'layers.0.w'");
          }
        } else {
          for (const t of r.tensors.values()) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        }
      }),
      opts(),
    );
  });

  it("a tensor claiming 2^40 elements is FLOW639 without allocating it", () => {
    const e = acceptOrRefuse(() => decodeSafetensors(stBytes({ w: { dtype: "F32", shape: [2 ** 40], data_offsets: [0, 16] } }, 16), { file }), ST, file) as FlowcInputError;
    expect(e.code).toBe("FLOW639");
    expect(e.message).toContain("4398046511104");
  });

  it("byte damage to a real weight file: decoded consistently or a FLOW63x error", () => {
    const good = encodeSafetensors(
      [
        { name: "layers.0.net.0.weight", dtype: "F32", shape: [4, 2], data: Float32Array.from({ length: 8 }, (_, i) => i) },
        { name: "layers.0.net.0.bias", dtype: "F32", shape: [4], data: new Float32Array(4) },
      ],
      { spec_hash: "abc", format: "flowc-weights" },
    );
    fc.assert(
      fc.property(byteEdits(good.length), (edits) => {
        acceptOrRefuse(() => decodeSafetensors(damage(good, edits), { file }), ST, file);
      }),
      opts(),
    );
  });
});
