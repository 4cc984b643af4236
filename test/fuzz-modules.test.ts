/**
 * @fileoverview Property tests (fast-check) for the files a flow is loaded
 * from: compiled and bundled `.wasm` modules (manifest JSON damaged byte by
 * byte, manifest fields replaced by hostile values, truncated modules,
 * damaged or foreign `flowc.weights` sections) through `loadFlow`, and
 * training checkpoints through `readCheckpoint`. Each load either succeeds,
 * and then the flow scores a batch without a trap, or ends in a
 * FlowcInputError whose FLOW6xx code and message say what is wrong.
 *
 * `npm test` runs a bounded number of cases; `npm run fuzz` sets
 * FLOWC_FUZZ_RUNS to run many more.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { compile } from "../compiler/index.ts";
import { appendCustomSection } from "../compiler/codegen/wasm-sections.ts";
import { loadFlow, WEIGHTS_SECTION, type Flow } from "../runtime-wasm/host/flow.ts";
import { MANIFEST_SECTION } from "../runtime-wasm/host/manifest.ts";
import { FlowcInputError } from "../runtime-wasm/host/errors.ts";
import { decodeSafetensors, encodeSafetensors } from "../runtime-wasm/host/safetensors.ts";
import { RUN_FILES, readCheckpoint, writeCheckpoint } from "../compiler/cli/run-dir.ts";

const RUNS = Number(process.env.FLOWC_FUZZ_RUNS) || 60;
const SEED = process.env.FLOWC_FUZZ_SEED ? Number(process.env.FLOWC_FUZZ_SEED) : 20261122;
const opts = (scale = 1) => ({ numRuns: Math.max(1, Math.round(RUNS * scale)), seed: SEED });

const SPEC_A = "input [2]\nactnorm\ncoupling affine mask=half net=mlp(hidden=8, depth=1)\npermute reverse\ncoupling additive mask=half net=mlp(hidden=8, depth=1)\nbase normal\n";
const SPEC_B = "input [2]\nactnorm\ncoupling affine mask=half net=mlp(hidden=16, depth=1)\nbase normal\n";

let wasmA: Uint8Array, wasmB: Uint8Array, weightsA: Uint8Array, weightsB: Uint8Array, bundleA: Uint8Array;
let dir: string;
const X = Float32Array.from([0.1, -0.2, 1.5, 0.3, -2, 0.7]);

async function build(src: string): Promise<Uint8Array> {
  const r = await compile(src, { filename: "fuzz.flow" });
  if (!r.wasm) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.wasm;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "flowc-fuzzmod-"));
  wasmA = await build(SPEC_A);
  wasmB = await build(SPEC_B);
  const a = await loadFlow(wasmA);
  a.initialize({ seed: 1, data: X });
  weightsA = a.saveWeights();
  const b = await loadFlow(wasmB);
  b.initialize({ seed: 1, data: X });
  weightsB = b.saveWeights();
  bundleA = appendCustomSection(wasmA, WEIGHTS_SECTION, weightsA);
}, 300_000);
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ wasm section surgery

interface Section { id: number; start: number; end: number; name?: string; payloadStart: number }

function readLeb(b: Uint8Array, at: number): [number, number] {
  let v = 0, shift = 0, p = at;
  for (;;) {
    const byte = b[p++];
    v += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(byte & 0x80)) return [v, p];
  }
}

function sections(wasm: Uint8Array): Section[] {
  const out: Section[] = [];
  let p = 8;
  while (p < wasm.length) {
    const id = wasm[p];
    const [size, body] = readLeb(wasm, p + 1);
    const s: Section = { id, start: p, end: body + size, payloadStart: body };
    if (id === 0) {
      const [len, nameAt] = readLeb(wasm, body);
      s.name = new TextDecoder().decode(wasm.subarray(nameAt, nameAt + len));
      s.payloadStart = nameAt + len;
    }
    out.push(s);
    p = s.end;
  }
  return out;
}

/** The module without its custom section `name`, and that section's payload. */
function strip(wasm: Uint8Array, name: string): { rest: Uint8Array; payload: Uint8Array } {
  const s = sections(wasm).find((x) => x.name === name)!;
  const rest = new Uint8Array(wasm.length - (s.end - s.start));
  rest.set(wasm.subarray(0, s.start), 0);
  rest.set(wasm.subarray(s.end), s.start);
  return { rest, payload: wasm.slice(s.payloadStart, s.end) };
}

function withManifest(wasm: Uint8Array, payload: Uint8Array): Uint8Array {
  return appendCustomSection(strip(wasm, MANIFEST_SECTION).rest, MANIFEST_SECTION, payload);
}

/** Load, and if that works, score a batch: only FlowcInputErrors may come out, never a trap. */
async function loadAndUse(bytes: Uint8Array, codes = /^FLOW6\d\d$/): Promise<Flow | FlowcInputError> {
  try {
    const flow = await loadFlow(bytes);
    try {
      if (!flow.manifest.params.length) flow.setParams([]);
      flow.logProb(X);
    } catch (e) {
      if (!(e instanceof FlowcInputError)) throw e;
    }
    return flow;
  } catch (e) {
    if (!(e instanceof FlowcInputError)) throw new Error(`not a FlowcInputError: ${String(e)}`);
    expect(e.code).toMatch(codes);
    return e;
  }
}

describe("fuzz: modules through loadFlow", () => {
  it("byte damage inside the manifest JSON: loads and scores, or FLOW65x", async () => {
    const json = strip(wasmA, MANIFEST_SECTION).payload;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: json.length - 1 }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }), async (flips) => {
        const p = json.slice();
        for (const [pos, bit] of flips) p[pos] ^= 1 << bit;
        await loadAndUse(withManifest(wasmA, p), /^FLOW65\d$/);
      }),
      opts(),
    );
  });

  it("manifest fields replaced by hostile values: loads and scores, or FLOW651 naming the field", async () => {
    const manifest = JSON.parse(new TextDecoder().decode(strip(wasmA, MANIFEST_SECTION).payload));
    const paths = [
      "eventSize", "latentSize", "chunk", "workspaceBytes", "paramCount", "trainableCount", "contextSize", "precision",
      "inputShape", "inputShape.0", "latentLayout", "latentLayout.0.size", "workspace", "workspace.z", "layers", "layers.0",
      "layers.1.act", "layers.1.inShape", "layers.2.outShape", "layers.0.direction", "params", "params.0.offset",
      "params.0.size", "params.0.shape", "params.1.init", "params.0.layer", "base", "capabilities", "inputDomain", "format",
    ];
    const value = fc.constantFrom(null, -1, 0, 1, 3, 7, 1e9, 2 ** 32, 2 ** 53, 1.5, "f32", "", [], [0], [2 ** 40], {}, true);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), value, async (where, v) => {
        const m = structuredClone(manifest);
        const keys = where.split(".");
        let o = m;
        for (const k of keys.slice(0, -1)) o = o[k];
        o[keys[keys.length - 1]] = v;
        const r = await loadAndUse(withManifest(wasmA, new TextEncoder().encode(JSON.stringify(m))));
        if (r instanceof FlowcInputError && r.code === "FLOW651") expect(r.message).toMatch(/manifest/);
      }),
      opts(),
    );
  });

  it("a truncated or damaged module: FLOW650-652, never a crash", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: bundleA.length - 1 }), fc.option(fc.tuple(fc.nat({ max: bundleA.length - 1 }), fc.integer({ min: 0, max: 7 })), { nil: undefined }), async (cut, flip) => {
        const b = bundleA.slice(0, cut);
        if (flip && flip[0] < b.length) b[flip[0]] ^= 1 << flip[1];
        await loadAndUse(b);
      }),
      opts(),
    );
  });

  it("damaged weights sections: FLOW63x/FLOW67x naming the problem", async () => {
    const base = strip(bundleA, WEIGHTS_SECTION).rest;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: weightsA.length }), fc.array(fc.tuple(fc.nat({ max: weightsA.length - 1 }), fc.integer({ min: 0, max: 7 })), { maxLength: 4 }), async (cut, flips) => {
        const w = weightsA.slice(0, cut);
        for (const [pos, bit] of flips) if (pos < w.length) w[pos] ^= 1 << bit;
        await loadAndUse(appendCustomSection(base, WEIGHTS_SECTION, w), /^FLOW6[3-7]\d$/);
      }),
      opts(),
    );
  });

  it("the weights of another spec in the weights section: FLOW670", async () => {
    const r = await loadAndUse(appendCustomSection(wasmA, WEIGHTS_SECTION, weightsB));
    expect(r).toBeInstanceOf(FlowcInputError);
    expect((r as FlowcInputError).code).toBe("FLOW670");
    expect((r as FlowcInputError).message).toMatch(/another spec/);
  });

  it("two manifest sections, or none: FLOW650", async () => {
    const none = strip(wasmA, MANIFEST_SECTION).rest;
    for (const bytes of [none, appendCustomSection(wasmA, MANIFEST_SECTION, strip(wasmA, MANIFEST_SECTION).payload)]) {
      const r = await loadAndUse(bytes);
      expect((r as FlowcInputError).code).toBe("FLOW650");
    }
  });
});

// ------------------------------------------------------------------ checkpoints

describe("fuzz: checkpoints through readCheckpoint", () => {
  let good: Uint8Array;
  let run: string;
  beforeAll(async () => {
    run = path.join(dir, "run");
    fs.mkdirSync(run, { recursive: true });
    const flow = await loadFlow(wasmA);
    flow.initialize({ seed: 2, data: X });
    const trainer = flow.trainer({ lr: 1e-2, batchSize: 3 });
    for (let i = 0; i < 3; i++) trainer.step(X);
    writeCheckpoint(run, flow, trainer, { seed: "2" });
    good = new Uint8Array(fs.readFileSync(path.join(run, RUN_FILES.checkpoint))); // a copy: Buffer.slice would alias
  });

  async function resume(bytes: Uint8Array): Promise<FlowcInputError | number> {
    const d = fs.mkdtempSync(path.join(dir, "ck-"));
    const file = path.join(d, RUN_FILES.checkpoint);
    fs.writeFileSync(file, bytes);
    const flow = await loadFlow(wasmA);
    flow.initialize({ seed: 9, data: X });
    const before = flow.getParams();
    const trainer = flow.trainer({ lr: 1e-2, batchSize: 3 });
    try {
      readCheckpoint(d, flow, trainer);
      return trainer.stepCount;
    } catch (e) {
      if (!(e instanceof FlowcInputError)) throw new Error(`not a FlowcInputError: ${String(e)}`);
      expect(e.code).toMatch(/^FLOW6\d\d$/);
      expect(e.message.startsWith(file) || e.message.includes(file)).toBe(true);
      expect(Array.from(flow.getParams())).toEqual(Array.from(before)); // a refused checkpoint changes nothing
      return e;
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }

  it("the undamaged checkpoint resumes at step 3", async () => {
    expect(await resume(good)).toBe(3);
  });

  it("byte damage: resumes, or a FLOW6xx error naming the checkpoint, with the flow unchanged", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: good.length }), fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 7 })), { maxLength: 4 }), async (cut, flips) => {
        const b = good.slice(0, cut);
        for (const [pos, bit] of flips) if (pos < b.length) b[pos] ^= 1 << bit;
        await resume(b);
      }),
      opts(),
    );
  });

  it("hostile optimizer state and metadata: FLOW681 or FLOW674 naming what", async () => {
    const file = decodeSafetensors(good);
    const rebuild = (edit: (t: Map<string, { dtype: string; shape: number[]; data: unknown }>, meta: Record<string, string>) => void) => {
      const tensors = new Map([...file.tensors].map(([k, t]) => [k, { ...t, data: t.data.slice() as unknown }]));
      const meta = { ...file.metadata };
      edit(tensors as never, meta);
      return encodeSafetensors([...tensors].map(([name, t]) => ({ name, ...t })) as never, meta);
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ["step", rebuild((_, m) => { m.step = "-4"; }), /invalid step '-4'/],
      ["step", rebuild((_, m) => { m.step = "1e999"; }), /invalid step/],
      ["rng", rebuild((_, m) => { m.rng = "zz"; }), /invalid RNG state 'zz'/],
      ["missing", rebuild((t) => { t.delete("__optimizer.v"); }), /no optimizer state/],
      ["nan", rebuild((t) => { (t.get("__optimizer.m")!.data as Float32Array)[2] = NaN; }), /'__optimizer.m' holds NaN at index 2/],
      ["negative v", rebuild((t) => { (t.get("__optimizer.v")!.data as Float32Array)[0] = -1; }), /'__optimizer.v' holds -1 at index 0/],
      ["short", rebuild((t) => { const m = t.get("__optimizer.m")!; m.data = (m.data as Float32Array).slice(1); m.shape = [m.shape[0] - 1]; }), /moments/],
      ["ints", rebuild((t) => { const m = t.get("__optimizer.m")!; m.data = new Int32Array((m.data as Float32Array).length); m.dtype = "I32"; }), /must be F32 or F64/],
    ];
    for (const [what, bytes, msg] of cases) {
      const r = await resume(bytes);
      expect(r, what).toBeInstanceOf(FlowcInputError);
      expect((r as FlowcInputError).message, what).toMatch(msg);
    }
  });
});
