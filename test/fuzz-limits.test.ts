/**
 * @fileoverview Resource limits and isolation of the host: requests whose
 * results would not fit (sample(1e10), a huge logProb batch) and modules
 * whose memory cannot grow are refused up front with the limit and how to
 * stay under it, never a wasm trap or an exhausted heap; two flows loaded in
 * one process do not interfere; the same module loaded in four
 * worker_threads at once gives the same samples as the main thread.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Worker } from "node:worker_threads";
import { compile } from "../compiler/index.ts";
import { appendCustomSection } from "../compiler/codegen/wasm-sections.ts";
import { loadFlow, type Flow } from "../runtime-wasm/host/flow.ts";
import { MANIFEST_SECTION } from "../runtime-wasm/host/manifest.ts";
import { FlowcInputError } from "../runtime-wasm/host/errors.ts";
import { sampleToy } from "../runtime-wasm/host/toys.ts";

const SPEC_A = "input [2]\nactnorm\ncoupling affine mask=half net=mlp(hidden=16, depth=2)\npermute reverse\ncoupling affine mask=half net=mlp(hidden=16, depth=2)\nbase normal\n";
const SPEC_B = "input [3]\nlinear lu\ncoupling additive mask=alternate net=mlp(hidden=8, depth=1)\nleaky_relu slope=0.5\ncoupling additive mask=alternate net=mlp(hidden=8, depth=1)\nbase normal\n";

let wasmA: Uint8Array, wasmB: Uint8Array;

async function build(src: string): Promise<Uint8Array> {
  const r = await compile(src, { filename: "limits.flow" });
  if (!r.wasm) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.wasm;
}

function refused(f: () => unknown, code: string): FlowcInputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FlowcInputError);
    expect((e as FlowcInputError).code).toBe(code);
    return e as FlowcInputError;
  }
  throw new Error(`expected ${code}`);
}

/** A trained-ish flow: initialised, then a few Adam steps so no layer is the identity. */
async function ready(wasm: Uint8Array, data: Float64Array, seed: number): Promise<Flow> {
  const flow = await loadFlow(wasm);
  flow.initialize({ seed, data });
  const t = flow.trainer({ lr: 1e-2, batchSize: 64 });
  for (let i = 0; i < 5; i++) t.step(data.subarray(0, 64 * flow.eventSize));
  return flow;
}

beforeAll(async () => {
  wasmA = await build(SPEC_A);
  wasmB = await build(SPEC_B);
}, 300_000);

describe("resource limits", () => {
  it("sample(1e10) and sampleAndLogProb(1e10) are refused before allocating, with the limit and the fix", async () => {
    const flow = await ready(wasmA, sampleToy("moons", 256, 1), 1);
    const e = refused(() => flow.sample(1e10, { seed: 1 }), "FLOW665");
    expect(e.message).toMatch(/2e\+10 values|20000000000 values/);
    expect(e.message).toContain("2048.0 MiB");
    expect(e.message).toMatch(/at most 268435456 rows per call/);
    expect(e.message).toContain("flow.maxResultBytes");
    refused(() => flow.sampleAndLogProb(1e10), "FLOW665");
    // The limit is the flow's to raise or lower; the flow still works after a refusal.
    flow.maxResultBytes = 800;
    refused(() => flow.sample(101), "FLOW665");
    expect(flow.sample(100, { seed: 1 }).length).toBe(200);
  });

  it("a logProb batch whose result would exceed the limit is refused the same way", async () => {
    const flow = await ready(wasmA, sampleToy("moons", 256, 2), 2);
    flow.maxResultBytes = 1024; // 256 f32 log-densities
    const big = new Float32Array(2 * 300);
    const e = refused(() => flow.logProb(big), "FLOW665");
    expect(e.message).toContain("at most 128 rows per call");
    refused(() => flow.forward(big), "FLOW665");
    expect(flow.logProb(big.subarray(0, 2 * 100)).length).toBe(100);
  });

  it("FLOW653: a flow whose memory cannot grow says how much it needs, the limit and the fix", async () => {
    // The same kernels with a manifest asking for a workspace beyond wasm32's 4 GiB.
    const bytes = Uint8Array.from(wasmA);
    const flow = await loadFlow(bytes);
    const m = { ...flow.manifest, workspaceBytes: 2 ** 32 - 4096 };
    const stripped = stripSection(bytes, MANIFEST_SECTION);
    const big = appendCustomSection(stripped, MANIFEST_SECTION, new TextEncoder().encode(JSON.stringify(m)));
    let err: unknown;
    try {
      await loadFlow(big);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlowcInputError);
    expect((err as FlowcInputError).code).toBe("FLOW653");
    expect((err as FlowcInputError).message).toMatch(/needs 40\d\d\.\d MiB of memory, more than the 4 GiB of wasm32/);
    expect((err as FlowcInputError).message).toContain("--chunk");
  });
});

/** The module without its custom section `name`. */
function stripSection(wasm: Uint8Array, name: string): Uint8Array {
  const leb = (at: number): [number, number] => {
    let v = 0, s = 0, p = at;
    for (;;) { const b = wasm[p++]; v += (b & 0x7f) * 2 ** s; s += 7; if (!(b & 0x80)) return [v, p]; }
  };
  let p = 8;
  while (p < wasm.length) {
    const [size, body] = leb(p + 1);
    if (wasm[p] === 0) {
      const [len, at] = leb(body);
      if (new TextDecoder().decode(wasm.subarray(at, at + len)) === name) {
        const out = new Uint8Array(wasm.length - (body + size - p));
        out.set(wasm.subarray(0, p));
        out.set(wasm.subarray(body + size), p);
        return out;
      }
    }
    p = body + size;
  }
  throw new Error(`no section ${name}`);
}

describe("isolation", () => {
  it("two different flows interleaved give the same results as each alone", async () => {
    const dataA = sampleToy("moons", 256, 3), dataB = Float64Array.from({ length: 3 * 256 }, (_, i) => Math.sin(i * 0.37) * 2);
    // Alone: each flow trained and used with no other flow alive.
    const aloneA = await ready(wasmA, dataA, 3);
    const refA = { x: aloneA.sample(300, { seed: 5 }), lp: aloneA.logProb(dataA), w: aloneA.getParams() };
    const aloneB = await ready(wasmB, dataB, 4);
    const refB = { x: aloneB.sample(300, { seed: 6 }), lp: aloneB.logProb(dataB), w: aloneB.getParams() };
    // Interleaved: every call on one flow is followed by a call on the other.
    const a = await loadFlow(wasmA), b = await loadFlow(wasmB);
    a.initialize({ seed: 3, data: dataA });
    b.initialize({ seed: 4, data: dataB });
    const ta = a.trainer({ lr: 1e-2, batchSize: 64 }), tb = b.trainer({ lr: 1e-2, batchSize: 64 });
    for (let i = 0; i < 5; i++) {
      ta.step(dataA.subarray(0, 128));
      tb.step(dataB.subarray(0, 192));
    }
    const xa = a.sample(300, { seed: 5 });
    const xb = b.sample(300, { seed: 6 });
    const lpa = a.logProb(dataA);
    const lpb = b.logProb(dataB);
    expect(Array.from(a.getParams())).toEqual(Array.from(refA.w));
    expect(Array.from(b.getParams())).toEqual(Array.from(refB.w));
    expect(Array.from(xa)).toEqual(Array.from(refA.x));
    expect(Array.from(xb)).toEqual(Array.from(refB.x));
    expect(Array.from(lpa)).toEqual(Array.from(refA.lp));
    expect(Array.from(lpb)).toEqual(Array.from(refB.lp));
  });

  it("the same module loaded in 4 worker_threads at once samples exactly what the main thread does", async () => {
    const flow = await ready(wasmA, sampleToy("moons", 256, 7), 7);
    const params = flow.getParams();
    const ref = flow.sample(500, { seed: 11 });
    const refLp = flow.logProb(ref);
    const url = new URL("./fixtures/sample-worker.mjs", import.meta.url);
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        new Promise<{ x: Float32Array; lp: Float32Array }>((resolve, reject) => {
          const w = new Worker(url, { workerData: { wasm: wasmA, params, n: 500, seed: 11 } });
          w.once("message", (m) => { resolve(m); void w.terminate(); });
          w.once("error", reject);
        }),
      ),
    );
    for (const r of results) {
      expect(Array.from(r.x)).toEqual(Array.from(ref));
      expect(Array.from(r.lp)).toEqual(Array.from(refLp));
    }
  });
});
