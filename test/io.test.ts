/**
 * @fileoverview Data readers and writers (CSV, .npy, IDX, atomic writes,
 * loadData) against files in a temporary directory: round trips, the
 * formats other tools write, and one test per error class, each checking
 * the FLOW6xx code and that the message says where.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { readCsv, writeCsv } from "../compiler/cli/io/csv.ts";
import { decodeNpy, encodeNpy, readNpy, writeNpy } from "../compiler/cli/io/npy.ts";
import { readIdx, writeIdx } from "../compiler/cli/io/idx.ts";
import { writeFileAtomic } from "../compiler/cli/io/atomic.ts";
import { DEFAULT_TOY_SAMPLES, loadData } from "../compiler/cli/io/data.ts";
import { sampleToy } from "../runtime-wasm/host/toys.ts";
import { readRunInfo } from "../compiler/cli/run-dir.ts";
import { FLOW6, FlowcInputError } from "../runtime-wasm/host/errors.ts";
import { npyBytes } from "./fixtures/npy.ts";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "flowc-io-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const at = (name: string) => path.join(dir, name);
function put(name: string, content: string | Uint8Array): string {
  fs.writeFileSync(at(name), content);
  return at(name);
}

function fails(f: () => unknown, code: string): FlowcInputError {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(FlowcInputError);
  expect((caught as FlowcInputError).code).toBe(code);
  return caught as FlowcInputError;
}

describe("CSV", () => {
  it("round-trips full-precision values with a header", () => {
    const data = Float64Array.from([0.1, -2.5e-300, 1 / 3, 1e21, -0, 123456789.123456789]);
    writeCsv(at("rt.csv"), data, 2, ["x", "y"]);
    const back = readCsv(at("rt.csv"));
    expect(back.rows).toBe(3);
    expect(back.cols).toBe(2);
    expect(back.header).toEqual(["x", "y"]);
    expect(Array.from(back.data)).toEqual(Array.from(data).map((v) => (Object.is(v, -0) ? 0 : v)));
  });

  it("reads whitespace-separated files with comments, blank lines, CRLF, BOM and quoted headers", () => {
    const f = put("ws.txt", "\ufeff# written by numpy.savetxt\r\n\"a\"\t\"b\"\r\n 1   2\r\n\r\n3\t-4e-1\r\n");
    const back = readCsv(f);
    expect(back.header).toEqual(["a", "b"]);
    expect(Array.from(back.data)).toEqual([1, 2, 3, -0.4]);
    const noHeader = readCsv(put("nh.csv", "1,2,3\n4,5,6\n"));
    expect(noHeader.header).toBeUndefined();
    expect(noHeader.rows).toBe(2);
    expect(noHeader.cols).toBe(3);
  });

  it("FLOW601: a non-numeric cell, at file:line:column", () => {
    const f = put("bad.csv", "x,y\n1,2\n3,abc\n");
    const e = fails(() => readCsv(f), FLOW6.notANumber);
    expect(e.message).toBe(`${f}:3:2: cell 'abc' is not a number`);
    expect([e.file, e.row, e.column]).toEqual([f, 3, 2]);
    fails(() => readCsv(put("empty-cell.csv", "1,2\n3,\n")), FLOW6.notANumber);
    fails(() => readCsv(put("hex.csv", "1,0x10\n")), FLOW6.notANumber);
    // A mixed first row is data with a bad cell, not a header.
    const m = fails(() => readCsv(put("mixed.csv", "1,abc\n2,3\n")), FLOW6.notANumber);
    expect([m.row, m.column]).toEqual([1, 2]);
  });

  it("FLOW602: NaN and infinities", () => {
    for (const bad of ["nan", "NaN", "inf", "-Infinity", "1e999"]) {
      const e = fails(() => readCsv(put("nan.csv", `1,2\n3,${bad}\n`)), FLOW6.nonFinite);
      expect([e.row, e.column]).toEqual([2, 2]);
      expect(e.message).toContain(bad);
    }
  });

  it("FLOW603: ragged rows, including against the header", () => {
    const e = fails(() => readCsv(put("ragged.csv", "1,2\n3,4\n5\n")), FLOW6.raggedRow);
    expect(e.message).toMatch(/ragged\.csv:3: row has 1 columns but the rows before it have 2/);
    fails(() => readCsv(put("ragged-h.csv", "a,b,c\n1,2\n")), FLOW6.raggedRow);
  });

  it("FLOW600: empty file, or only a header and comments", () => {
    fails(() => readCsv(put("empty.csv", "")), FLOW6.emptyData);
    fails(() => readCsv(put("header-only.csv", "# c\nx,y\n\n")), FLOW6.emptyData);
  });

  it("FLOW604: wrong column count names both counts", () => {
    const e = fails(() => readCsv(put("three.csv", "1,2,3\n"), { expectCols: 2, what: "the flow's event [2]" }), FLOW6.columnCount);
    expect(e.message).toContain("3 values per row");
    expect(e.message).toContain("the flow's event [2] needs 2");
  });

  it("FLOW605: missing file", () => {
    const e = fails(() => readCsv(at("nope.csv")), FLOW6.cannotRead);
    expect(e.message).toContain("no such file");
    expect(e.file).toBe(at("nope.csv"));
  });
});

describe(".npy", () => {
  it("round-trips f4 and f8 arrays with 64-byte aligned headers", () => {
    const cases: [Float32Array | Float64Array, number[]][] = [
      [Float64Array.from([1, 2, 3, 4, 5, 6]), [3, 2]],
      [Float32Array.from([0.5, -1.5, 2.25]), [3]],
      [Float64Array.from([7]), []],
      [new Float32Array(0), [0, 4]],
    ];
    for (const [data, shape] of cases) {
      writeNpy(at("a.npy"), data, shape);
      const bytes = fs.readFileSync(at("a.npy"));
      const headerLen = bytes.readUInt16LE(8);
      expect((10 + headerLen) % 64).toBe(0);
      expect(bytes[10 + headerLen - 1]).toBe(0x0a);
      const back = readNpy(at("a.npy"));
      expect(back.shape).toEqual(shape);
      expect(back.dtype).toBe(data instanceof Float64Array ? "<f8" : "<f4");
      expect(Array.from(back.data)).toEqual(Array.from(data));
    }
    expect(new TextDecoder().decode(encodeNpy(new Float64Array(3), [3]).subarray(10, 128))).toContain("'shape': (3,)");
  });

  it("decodes from a Node Buffer view", () => {
    const bytes = Buffer.concat([Buffer.from("ab"), Buffer.from(encodeNpy(Float64Array.from([1.5, 2.5]), [2]))]).subarray(2);
    expect(Array.from(decodeNpy(bytes, "b.npy").data)).toEqual([1.5, 2.5]);
  });

  it("reads the dtypes and versions numpy writes", () => {
    const le = (arr: ArrayBufferView) => new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    const hdr = (descr: string, shape: string) => `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`.padEnd(117, " ") + "\n";
    const check = (bytes: Uint8Array, want: number[], shape: number[]) => {
      const a = decodeNpy(bytes, "t.npy");
      expect(Array.from(a.data)).toEqual(want);
      expect(a.shape).toEqual(shape);
    };
    check(npyBytes(hdr("|u1", "(2, 2)"), Uint8Array.from([0, 1, 255, 7])), [0, 1, 255, 7], [2, 2]);
    check(npyBytes(hdr("<i4", "(3,)"), le(Int32Array.from([-5, 0, 70000]))), [-5, 0, 70000], [3]);
    check(npyBytes(hdr("<i8", "(2,)"), le(BigInt64Array.from([-3n, 2n ** 40n]))), [-3, 2 ** 40], [2]);
    check(npyBytes(hdr("<u2", "(1,)"), le(Uint16Array.from([65535]))), [65535], [1]);
    check(npyBytes(hdr("|b1", "(2,)"), Uint8Array.from([1, 0])), [1, 0], [2]);
    check(npyBytes(hdr("<f2", "(3,)"), le(Uint16Array.from([0x3c00, 0xc000, 0x3555]))), [1, -2, 0.333251953125], [3]);
    const be = new Uint8Array(16);
    new DataView(be.buffer).setFloat64(0, 1.5, false);
    new DataView(be.buffer).setFloat64(8, -2.25, false);
    check(npyBytes(hdr(">f8", "(2,)"), be), [1.5, -2.25], [2]);
    // Versions 2.0 and 3.0 have a 4-byte header length; 3.0's header is UTF-8.
    check(npyBytes(hdr("<f8", "(1,)"), le(Float64Array.from([3.5])), 2), [3.5], [1]);
    check(npyBytes(hdr("<f8", "(1,)"), le(Float64Array.from([4.5])), 3), [4.5], [1]);
    // Key order and spacing vary between numpy versions; Python 2 wrote long ints as 3L.
    check(npyBytes("{'shape':(1L,),'fortran_order':False,'descr':'<f4'}\n", le(Float32Array.from([2]))), [2], [1]);
  });

  it("FLOW610: wrong magic", () => {
    const e = fails(() => readNpy(put("fake.npy", "x,y\n1,2\n")), FLOW6.npyMagic);
    expect(e.message).toContain("fake.npy");
    fails(() => readNpy(put("empty.npy", "")), FLOW6.npyMagic);
  });

  it("FLOW611: unknown version", () => {
    const b = encodeNpy(new Float64Array(1), [1]);
    b[6] = 9;
    fails(() => decodeNpy(b, "v.npy"), FLOW6.npyVersion);
  });

  it("FLOW612: malformed header", () => {
    const d = new Uint8Array(8);
    fails(() => decodeNpy(npyBytes("{'descr': '<f8', 'shape': (1,)}\n", d), "h.npy"), FLOW6.npyHeader);
    fails(() => decodeNpy(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,\n", d), "h.npy"), FLOW6.npyHeader);
    fails(() => decodeNpy(npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}\n", d), "h.npy"), FLOW6.npyHeader);
    fails(() => decodeNpy(npyBytes("[1, 2]\n", d), "h.npy"), FLOW6.npyHeader);
  });

  it("FLOW613: unsupported dtype; FLOW614: Fortran order", () => {
    const d = new Uint8Array(16);
    fails(() => decodeNpy(npyBytes("{'descr': '<c16', 'fortran_order': False, 'shape': (1,)}\n", d), "c.npy"), FLOW6.unsupportedDtype);
    fails(() => decodeNpy(npyBytes("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,)}\n", d), "s.npy"), FLOW6.unsupportedDtype);
    fails(() => decodeNpy(npyBytes("{'descr': '<U2', 'fortran_order': False, 'shape': (2,)}\n", d), "u.npy"), FLOW6.unsupportedDtype);
    const e = fails(() => decodeNpy(npyBytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2,)}\n", d), "f.npy"), FLOW6.fortranOrder);
    expect(e.message).toMatch(/^f\.npy: .*C order/);
  });

  it("FLOW615: truncation anywhere; FLOW616: extra bytes", () => {
    const good = encodeNpy(Float64Array.from([1, 2, 3, 4]), [2, 2]);
    for (const cut of [7, 9, 40, good.length - 1]) fails(() => decodeNpy(good.subarray(0, cut), "t.npy"), FLOW6.truncated);
    const e = fails(() => decodeNpy(good.subarray(0, good.length - 8), "t.npy"), FLOW6.truncated);
    expect(e.message).toContain("needs 32 bytes but only 24 remain");
    const extra = new Uint8Array(good.length + 4);
    extra.set(good);
    fails(() => decodeNpy(extra, "x.npy"), FLOW6.sizeMismatch);
  });
});

describe("IDX", () => {
  const images = Uint8Array.from({ length: 3 * 4 * 5 }, (_, i) => (i * 37) % 256);

  it("round-trips ubyte arrays, plain and gzipped", () => {
    writeIdx(at("imgs-idx3-ubyte"), images, [3, 4, 5]);
    const back = readIdx(at("imgs-idx3-ubyte"));
    expect(back.shape).toEqual([3, 4, 5]);
    expect(back.dtype).toBe("ubyte");
    expect(Array.from(back.data)).toEqual(Array.from(images));
    fs.writeFileSync(at("imgs-idx3-ubyte.gz"), gzipSync(fs.readFileSync(at("imgs-idx3-ubyte"))));
    expect(Array.from(readIdx(at("imgs-idx3-ubyte.gz")).data)).toEqual(Array.from(images));
  });

  it("reads big-endian float data", () => {
    const b = new Uint8Array(4 + 4 + 8);
    const v = new DataView(b.buffer);
    b[2] = 0x0d;
    b[3] = 1;
    v.setUint32(4, 2, false);
    v.setFloat32(8, 1.5, false);
    v.setFloat32(12, -3, false);
    expect(Array.from(readIdx(put("f.idx", b)).data)).toEqual([1.5, -3]);
  });

  it("FLOW617 magic, FLOW618 type, FLOW615 truncation, FLOW616 extra bytes, FLOW619 gzip", () => {
    fails(() => readIdx(put("m.idx", Uint8Array.from([1, 2, 8, 1, 0, 0, 0, 0]))), FLOW6.idxMagic);
    const t = fails(() => readIdx(put("t.idx", Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 0]))), FLOW6.idxType);
    expect(t.message).toContain("0x42");
    fails(() => readIdx(put("s.idx", Uint8Array.from([0, 0]))), FLOW6.truncated);
    fails(() => readIdx(put("d.idx", Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1]))), FLOW6.truncated);
    const whole = fs.readFileSync(at("imgs-idx3-ubyte"));
    const e = fails(() => readIdx(put("short-idx3-ubyte", whole.subarray(0, whole.length - 1))), FLOW6.truncated);
    expect(e.message).toContain("[3, 4, 5]");
    fails(() => readIdx(put("long-idx3-ubyte", Buffer.concat([whole, Buffer.from([0])]))), FLOW6.sizeMismatch);
    const gz = gzipSync(whole);
    fails(() => readIdx(put("broken.gz", gz.subarray(0, gz.length - 10))), FLOW6.gzip);
    // Hostile dimensions are caught by the size check before anything is allocated.
    fails(() => readIdx(put("huge.idx", Uint8Array.from([0, 0, 8, 2, 255, 255, 255, 255, 255, 255, 255, 255]))), FLOW6.truncated);
  });
});

describe("writeFileAtomic", () => {
  it("writes, replaces and leaves no temporary files", () => {
    const f = at("atomic/out.bin");
    fs.mkdirSync(path.dirname(f), { recursive: true });
    writeFileAtomic(f, Uint8Array.from([1, 2, 3]));
    writeFileAtomic(f, "hello");
    expect(fs.readFileSync(f, "utf8")).toBe("hello");
    expect(fs.readdirSync(path.dirname(f))).toEqual(["out.bin"]);
  });

  it("on failure keeps the old target and cleans up", () => {
    const d = at("atomic2");
    fs.mkdirSync(path.join(d, "target-is-dir"), { recursive: true });
    fs.writeFileSync(path.join(d, "target-is-dir", "keep"), "x");
    expect(() => writeFileAtomic(path.join(d, "target-is-dir"), "data")).toThrow();
    expect(fs.readdirSync(d)).toEqual(["target-is-dir"]);
    expect(fs.readFileSync(path.join(d, "target-is-dir", "keep"), "utf8")).toBe("x");
    expect(() => writeFileAtomic(at("no/such/dir/file"), "data")).toThrow();
  });
});

describe("loadData", () => {
  it("samples toys with the event size checked, and a separate test stream", () => {
    const a = loadData("moons", { seed: 3, n: 100, eventShape: [2] });
    expect(Array.from(a)).toEqual(Array.from(sampleToy("moons", 100, 3)));
    expect(loadData("rings", { seed: 1, eventShape: [2] }).length).toBe(2 * DEFAULT_TOY_SAMPLES);
    const test = loadData("moons", { seed: 3, n: 100, eventShape: [2], split: "test" });
    expect(Array.from(test)).not.toEqual(Array.from(a));
    const e = fails(() => loadData("moons", { seed: 0, eventShape: [1, 28, 28] }), FLOW6.columnCount);
    expect(e.message).toContain("784");
    expect(e.message).toContain("2 values per row");
  });

  it("reads CSV, .npy and IDX files, flattening images", () => {
    writeCsv(at("d.csv"), [1, 2, 3, 4, 5, 6], 2);
    expect(Array.from(loadData(at("d.csv"), { seed: 0, n: 1, eventShape: [2] }))).toEqual([1, 2, 3, 4, 5, 6]);
    writeNpy(at("imgs.npy"), new Float32Array(2 * 4 * 5).fill(0.5), [2, 4, 5]);
    expect(loadData(at("imgs.npy"), { seed: 0, eventShape: [1, 4, 5] }).length).toBe(40);
    writeNpy(at("flat.npy"), new Float64Array(40), [2, 20]);
    expect(loadData(at("flat.npy"), { seed: 0, eventShape: [1, 4, 5] }).length).toBe(40);
    writeNpy(at("hwc.npy"), new Float64Array(40), [2, 4, 5, 1]);
    expect(loadData(at("hwc.npy"), { seed: 0, eventShape: [1, 4, 5] }).length).toBe(40);
    expect(Array.from(loadData(at("imgs-idx3-ubyte"), { seed: 0, eventShape: [1, 4, 5] }))).toEqual(Array.from(images()));
    // A file without a telling extension is recognised by its first bytes.
    fs.copyFileSync(at("imgs.npy"), at("noext"));
    expect(loadData(at("noext"), { seed: 0, eventShape: [20] }).length).toBe(40);
  });

  it("FLOW607: a record shape that only matches in size", () => {
    writeNpy(at("rgb-hwc.npy"), new Float64Array(2 * 4 * 4 * 3), [2, 4, 4, 3]);
    const e = fails(() => loadData(at("rgb-hwc.npy"), { seed: 0, eventShape: [3, 4, 4] }), FLOW6.recordShape);
    expect(e.message).toContain("[4, 4, 3]");
    expect(e.message).toContain("[3, 4, 4]");
    writeNpy(at("vec.npy"), new Float64Array(6), [6]);
    fails(() => loadData(at("vec.npy"), { seed: 0, eventShape: [2] }), FLOW6.recordShape);
    writeNpy(at("three.npy"), new Float64Array(6), [2, 3]);
    fails(() => loadData(at("three.npy"), { seed: 0, eventShape: [2] }), FLOW6.recordShape);
  });

  it("FLOW604: CSV column count against the event; FLOW602: non-finite in .npy at row and column", () => {
    writeCsv(at("c3.csv"), [1, 2, 3], 3);
    const e = fails(() => loadData(at("c3.csv"), { seed: 0, eventShape: [2] }), FLOW6.columnCount);
    expect(e.message).toContain("the flow's event [2] needs 2");
    const d = new Float64Array(6);
    d[3] = NaN;
    writeNpy(at("nan.npy"), d, [3, 2]);
    const n = fails(() => loadData(at("nan.npy"), { seed: 0, eventShape: [2] }), FLOW6.nonFinite);
    expect([n.row, n.column]).toEqual([2, 2]);
    expect(n.message).toBe(`${at("nan.npy")}:2:2: value NaN is not finite; data must not contain NaN or Inf`);
  });

  it("FLOW606: neither a toy nor a readable data file; FLOW600: no rows", () => {
    const e = fails(() => loadData("moon", { seed: 0, eventShape: [2] }), FLOW6.unknownSource);
    expect(e.message).toContain("moons");
    fails(() => loadData(at("missing.csv"), { seed: 0, eventShape: [2] }), FLOW6.cannotRead);
    writeNpy(at("none.npy"), new Float64Array(0), [0, 2]);
    fails(() => loadData(at("none.npy"), { seed: 0, eventShape: [2] }), FLOW6.emptyData);
    fails(() => loadData("moons", { seed: 0, n: -5, eventShape: [2] }), FLOW6.badArgument);
  });
});

describe("run.json", () => {
  it("FLOW680: a damaged run.json names the file instead of throwing a SyntaxError", () => {
    for (const text of ['{"spec": "a.flow", "step": 3', "[1, 2]", "\xff\xfe"]) {
      const e = fails(() => readRunInfo(put("run.json", text)), "FLOW680");
      expect(e.message.startsWith(at("run.json"))).toBe(true);
    }
    expect(readRunInfo(put("run.json", '{"spec": "a.flow", "step": 3}')).step).toBe(3);
    fails(() => readRunInfo(at("absent.json")), FLOW6.cannotRead);
  });
});

function images(): Uint8Array {
  return Uint8Array.from({ length: 3 * 4 * 5 }, (_, i) => (i * 37) % 256);
}
