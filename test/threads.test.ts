/**
 * @fileoverview Data-parallel training and batch evaluation over one shared
 * WebAssembly.Memory (`loadFlow(wasm, { threads })`, `flowc … --threads`):
 * reproducible results for a fixed thread count, agreement with one thread
 * (bit for bit where the work is the same, to f32 rounding where gradients
 * are summed in another order), exact resume, the one-thread fallback with
 * a note, processes that exit with idle workers, and a worker that dies
 * reported as an error rather than waited for.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../compiler/index.ts";
import { loadFlow, type Flow, type Trainer } from "../runtime-wasm/host/flow.ts";
import { FlowcInputError } from "../runtime-wasm/host/errors.ts";
import { memoryImport, withSharedMemory } from "../runtime-wasm/host/pool.ts";
import { sampleToy } from "../runtime-wasm/host/toys.ts";

const root = join(import.meta.dirname, "..");

/** A small RealNVP; chunk 16 makes a batch of a few hundred rows span many chunks. */
const SMALL = `input [2]
repeat 2 {
  coupling affine mask=half net=mlp(hidden=16, depth=1)
  permute reverse
}
base normal
`;

/** With dequantize: training draws noise from every thread's RNG. */
const NOISY = `input [4]
dequantize uniform levels=8
logit alpha=0.05
repeat 2 {
  coupling affine mask=half net=mlp(hidden=16, depth=1)
  permute reverse
}
base normal
`;

/** Conditional: every conditioner also sees a context row of 3 values. */
const CONDITIONAL = `input [2]
context [3]
repeat 2 {
  coupling affine mask=half net=mlp(hidden=16, depth=1)
  permute reverse
}
base normal
`;

async function build(src: string, filename: string): Promise<Uint8Array> {
  const r = await compile(src, { filename, chunk: 16 });
  if (!r.wasm) throw new Error(JSON.stringify(r.diagnostics));
  return r.wasm;
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => Object.is(v, b[i]));

/** Integer rows in [0, 8) for the dequantized flow. */
function levels(n: number, seed: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n * 4 }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.min(7, Math.floor(((s >>> 8) / 2 ** 24) * 8 * (0.3 + 0.7 * ((i % 4) / 3))));
  });
}

describe("threads", { timeout: 600_000 }, () => {
  let small: Uint8Array, noisy: Uint8Array;
  const moons = sampleToy("moons", 5000, 7);

  async function trained(threads: number, steps: number, wasm = small, data: Float64Array = moons, rows = 100): Promise<{ flow: Flow; trainer: Trainer; losses: number[]; grad: Float32Array }> {
    const flow = await loadFlow(wasm, { threads });
    const D = flow.eventSize;
    flow.initialize({ seed: 3, data: data.subarray(0, 200 * D) });
    const tr = flow.trainer({ lr: 1e-3, batchSize: rows });
    const losses: number[] = [];
    let grad = new Float32Array(0);
    for (let s = 0; s < steps; s++) {
      losses.push(tr.step(data.subarray(s * rows * D, (s + 1) * rows * D)));
      if (s === 0) grad = Float32Array.from(flow.view(flow.mem.G, flow.manifest.trainableCount));
    }
    return { flow, trainer: tr, losses, grad };
  }

  it("compiles modules whose memory is imported and can be declared shared by one flag", async () => {
    small = await build(SMALL, "small.flow");
    noisy = await build(NOISY, "noisy.flow");
    const imp = memoryImport(small)!;
    expect(imp).not.toBeNull();
    expect(imp.flags).toBe(0x01);
    const shared = withSharedMemory(small)!;
    expect(memoryImport(shared)!.flags).toBe(0x03);
    expect(shared.length).toBe(small.length);
    expect(await WebAssembly.validate(shared as BufferSource)).toBe(true);
  });

  it("2-thread training is reproducible bit for bit and matches 1 thread to f32 rounding", async () => {
    const one = await trained(1, 3), a = await trained(2, 3), b = await trained(2, 3);
    expect(a.flow.threads).toBe(2);
    expect(a.flow.notes).toEqual([]);
    expect(same(a.flow.getParams(), b.flow.getParams())).toBe(true);
    expect(a.losses).toEqual(b.losses);
    // The gradient of the first step: the same sum in another order.
    const scale = Math.max(...Array.from(one.grad, Math.abs));
    for (let i = 0; i < one.grad.length; i++) expect(Math.abs(a.grad[i] - one.grad[i])).toBeLessThanOrEqual(1e-5 * scale);
    for (let s = 0; s < 3; s++) expect(a.losses[s]).toBeCloseTo(one.losses[s], 5);
    // Adam moves each weight by about lr per step, so rounding can change a weight by at most that much.
    const p1 = one.flow.getParams(), p2 = a.flow.getParams();
    let moved = 0;
    for (let i = 0; i < p1.length; i++) {
      expect(Math.abs(p1[i] - p2[i])).toBeLessThan(3e-3);
      if (p1[i] !== p2[i]) moved++;
    }
    expect(moved).toBeLessThan(p1.length); // not every weight differs: the two runs did the same thing
    for (const f of [one, a, b]) f.flow.dispose();
  });

  it("logProb, forward, inverse and sampling on 2 or 3 threads equal 1 thread exactly", async () => {
    const ref = await trained(1, 2);
    const params = ref.flow.getParams();
    for (const threads of [2, 3]) {
      const flow = await loadFlow(small, { threads });
      expect(flow.threads).toBe(threads);
      flow.setParams(params);
      // 5000 rows = 313 chunks of 16, in several rounds of staging.
      for (const x of [moons, moons.subarray(0, 2 * 10), moons.subarray(0, 2 * 333)]) {
        expect(same(flow.logProb(x), ref.flow.logProb(x))).toBe(true);
        const f1 = ref.flow.forward(x), f2 = flow.forward(x);
        expect(same(f2.z, f1.z) && same(f2.logDet, f1.logDet)).toBe(true);
        const i1 = ref.flow.inverse(f1.z), i2 = flow.inverse(f1.z);
        expect(same(i2.x, i1.x) && same(i2.logDet, i1.logDet)).toBe(true);
      }
      for (const n of [7, 16, 17, 1000]) {
        expect(same(flow.sample(n, { seed: 11, temperature: 0.8 }), ref.flow.sample(n, { seed: 11, temperature: 0.8 }))).toBe(true);
        const s1 = ref.flow.sampleAndLogProb(n, { seed: 4 }), s2 = flow.sampleAndLogProb(n, { seed: 4 });
        expect(same(s2.x, s1.x) && same(s2.logProb, s1.logProb)).toBe(true);
      }
      // Input checks still come first, and name the row.
      const bad = moons.slice(0, 2000);
      bad[1501] = NaN;
      expect(() => flow.logProb(bad)).toThrow(/row 750/);
      flow.dispose();
    }
    ref.flow.dispose();
  });

  it("training with noise (dequantize) is reproducible on 2 threads and resumes exactly", async () => {
    const data = levels(1200, 5);
    const straight = await trained(2, 6, noisy, data, 100);
    const again = await trained(2, 6, noisy, data, 100);
    expect(same(straight.flow.getParams(), again.flow.getParams())).toBe(true);
    const one = await trained(1, 6, noisy, data, 100);
    expect(straight.losses[0]).not.toBe(one.losses[0]); // other noise on thread 1…
    expect(Math.abs(straight.losses[0] - one.losses[0])).toBeLessThan(0.1); // …from the same distribution

    // Stop after 3 steps, carry weights, optimizer and thread 0's RNG state into a new flow, go on.
    const first = await trained(2, 3, noisy, data, 100);
    const rngOf = (f: Flow) => new Uint8Array(f.exports.memory.buffer, f.mem.ws, 16);
    const flow = await loadFlow(noisy, { threads: 2 });
    flow.setParams(first.flow.getParams());
    const tr = flow.trainer({ lr: 1e-3, batchSize: 100 });
    tr.setState(first.trainer.getState());
    rngOf(flow).set(rngOf(first.flow));
    for (let s = 3; s < 6; s++) tr.step(data.subarray(s * 400, (s + 1) * 400));
    expect(same(flow.getParams(), straight.flow.getParams())).toBe(true);
    for (const f of [straight.flow, again.flow, one.flow, first.flow, flow]) f.dispose();
  });

  it("a context travels with its rows, per row or broadcast, and a batch larger than one round of staging trains", async () => {
    const wasm = await build(CONDITIONAL, "conditional.flow");
    const n = 3000;
    const cx = Float64Array.from({ length: n * 3 }, (_, i) => Math.cos(i * 0.7));
    const one = await loadFlow(wasm), two = await loadFlow(wasm, { threads: 2 });
    one.initialize({ seed: 1, data: moons.subarray(0, 400), context: cx.subarray(0, 600) });
    two.setParams(one.getParams());
    const x = moons.subarray(0, 2 * n);
    expect(same(two.logProb(x, cx), one.logProb(x, cx))).toBe(true);
    const row = cx.subarray(3, 6);
    expect(same(two.logProb(x, row), one.logProb(x, row))).toBe(true);
    expect(same(two.sample(900, { seed: 8, context: row }), one.sample(900, { seed: 8, context: row }))).toBe(true);
    expect(() => two.logProb(x, cx.subarray(0, 30))).toThrow(/context/);
    // 3000 rows are two rounds of 2 × 16 × 64 staged rows: the gradient still adds up over all of them.
    const t1 = one.trainer({ batchSize: n }), t2 = two.trainer({ batchSize: n });
    const l1 = t1.step(x, cx), g1 = Float32Array.from(one.view(one.mem.G, one.manifest.trainableCount));
    const l2 = t2.step(x, cx), g2 = Float32Array.from(two.view(two.mem.G, two.manifest.trainableCount));
    expect(l2).toBeCloseTo(l1, 5);
    const scale = Math.max(...Array.from(g1, Math.abs));
    for (let i = 0; i < g1.length; i++) expect(Math.abs(g2[i] - g1[i])).toBeLessThanOrEqual(1e-5 * scale);
    two.dispose();
  });

  it("falls back to one thread, with a note, where memory cannot be shared", async () => {
    const ref = await trained(1, 2);
    const g = globalThis as { SharedArrayBuffer?: unknown };
    const SAB = g.SharedArrayBuffer;
    let flow: Flow;
    try {
      delete g.SharedArrayBuffer;
      flow = await loadFlow(small, { threads: 2 });
    } finally {
      g.SharedArrayBuffer = SAB;
    }
    expect(flow.threads).toBe(1);
    expect(flow.notes.join("\n")).toMatch(/1 thread instead of 2: SharedArrayBuffer is unavailable/);
    flow.setParams(ref.flow.getParams());
    expect(same(flow.logProb(moons), ref.flow.logProb(moons))).toBe(true);

    // A precompiled Module cannot be rewritten to declare its memory shared.
    const mod = await WebAssembly.compile(small as BufferSource);
    const fromModule = await loadFlow(mod, { threads: 2 });
    expect(fromModule.threads).toBe(1);
    expect(fromModule.notes.join("\n")).toMatch(/precompiled WebAssembly.Module/);
    fromModule.setParams(ref.flow.getParams());
    expect(same(fromModule.sample(500, { seed: 2 }), ref.flow.sample(500, { seed: 2 }))).toBe(true);
    // threads: 1 never notes anything.
    expect((await loadFlow(mod)).notes).toEqual([]);
    await expect(loadFlow(small, { threads: 0 })).rejects.toThrow(FlowcInputError);
    await expect(loadFlow(small, { threads: 1.5 })).rejects.toThrow(/threads option must be a positive integer/);
  });

  it("a process with idle worker threads exits on its own", () => {
    const dir = mkdtempSync(join(tmpdir(), "flowc-threads-"));
    writeFileSync(join(dir, "small.wasm"), small);
    const script = join(dir, "exit.mts");
    writeFileSync(script, `import { readFileSync } from "node:fs";
import { loadFlow } from ${JSON.stringify(join(root, "runtime-wasm/host/flow.ts"))};
const flow = await loadFlow(readFileSync(${JSON.stringify(join(dir, "small.wasm"))}), { threads: 2 });
flow.initialize({ seed: 1 });
const x = Float32Array.from({ length: 2 * 300 }, (_, i) => Math.sin(i));
flow.trainer({ batchSize: 300 }).step(x);
console.log("threads", flow.threads, flow.logProb(x).length);
`);
    const r = spawnSync(process.execPath, [join(root, "bin/run-ts.mjs"), script], { encoding: "utf8", cwd: root, timeout: 120_000 });
    expect(r.error, "the process did not exit").toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("threads 2 300");
  });

  it("a worker that dies is an error naming the thread, not a hang, and the flow goes on on one thread", () => {
    // In a child process with a time limit: a regression blocks the calling thread in Atomics.wait, where no test timeout could fire.
    const dir = mkdtempSync(join(tmpdir(), "flowc-threads-dead-"));
    writeFileSync(join(dir, "small.wasm"), small);
    const script = join(dir, "dead.mts");
    writeFileSync(script, `import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { loadFlow } from ${JSON.stringify(join(root, "runtime-wasm/host/flow.ts"))};
const x = Float32Array.from({ length: 2 * 300 }, (_, i) => Math.sin(i));
const report = (what, f) => {
  const t0 = performance.now();
  let message = null;
  try { f(); } catch (e) { message = e.message; }
  console.log(JSON.stringify({ what, message, ms: performance.now() - t0 }));
};
async function started() {
  const flow = await loadFlow(readFileSync(${JSON.stringify(join(dir, "small.wasm"))}), { threads: 2 });
  flow.initialize({ seed: 1 });
  const tr = flow.trainer({ batchSize: 300 });
  tr.step(x);
  // Internal handles: the pool and its worker for thread 1.
  return { flow, tr, pool: flow.workers, worker: flow.workers.workers[0] };
}

// 1. Terminated between two calls: the next call says so.
const a = await started();
await a.worker.terminate();
report("between", () => a.tr.step(x));
console.log(JSON.stringify({ what: "after", threads: a.flow.threads, loss: a.tr.step(x), lp: a.flow.logProb(x).length }));

// 2. Gone while holding its job: thread 1's real worker is replaced by one that claims the next job
// and then leaves as a dying worker does (process.exit, an uncaught error): marking its slot.
const b = await started();
b.worker.removeAllListeners("exit");
b.worker.removeAllListeners("error");
await b.worker.terminate();
const stand = new Worker(\`const { workerData: { control } } = require("node:worker_threads");
const I = new Int32Array(control, 1024, 8);
let seen = Atomics.load(I, 0);
for (;;) {
  while (Atomics.load(I, 0) === seen) Atomics.wait(I, 0, seen, 20);
  seen = Atomics.load(I, 0);
  // Claimed: leave, writing what pool.ts's worker writes on its way out (exit code, then DEAD in the done word).
  if (Atomics.compareExchange(I, 4, seen, -seen) === seen) { I[5] = 3; Atomics.store(I, 1, -1); Atomics.notify(I, 1); process.exit(3); }
}\`, { eval: true, workerData: { control: b.pool.control } });
stand.unref();
await new Promise((r) => setTimeout(r, 100));
report("holding", () => {
  // The calling thread takes the job itself when the worker has not claimed it yet: try again until it has.
  for (let i = 0; i < 200; i++) b.tr.step(x);
});
console.log(JSON.stringify({ what: "after", threads: b.flow.threads, loss: b.tr.step(x), lp: b.flow.logProb(x).length }));
`);
    const r = spawnSync(process.execPath, [join(root, "bin/run-ts.mjs"), script], { encoding: "utf8", cwd: root, timeout: 120_000 });
    expect(r.error, "the process did not exit: a dead worker hangs the calling thread").toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as { what: string; message?: string | null; ms?: number; threads?: number; loss?: number; lp?: number });
    expect(lines.map((l) => l.what)).toEqual(["between", "after", "holding", "after"]);
    expect(lines[0].message).toMatch(/^thread 1 is gone: its worker exited with code 1 since the last call\. This call's results are lost \(a training step is not applied\); .* goes on on the calling thread alone \(threads = 1\)$/);
    expect(lines[2].message).toMatch(/^thread 1 is gone: its worker exited with code 3 while running its share of this call\./);
    for (const l of [lines[0], lines[2]]) expect(l.ms).toBeLessThan(20_000);
    for (const l of [lines[1], lines[3]]) {
      expect(l.threads).toBe(1);
      expect(Number.isFinite(l.loss)).toBe(true);
      expect(l.lp).toBe(300);
    }
  });

  it("flowc train/eval/sample --threads 2 work end to end, resume exactly, and agree with one thread", () => {
    const dir = mkdtempSync(join(tmpdir(), "flowc-threads-cli-"));
    const flowc = (...args: string[]) => spawnSync(process.execPath, [join(root, "bin/flowc.mjs"), ...args], { encoding: "utf8", cwd: root, timeout: 300_000 });
    const train = (out: string, steps: number, ...more: string[]) =>
      flowc("train", "spec-examples/moons.flow", "--data", "moons", "--n", "4000", "--steps", String(steps), "--batch", "64", "--seed", "2", "--out", join(dir, out), "--checkpoint-every", "10", "--quiet", "--threads", "2", ...more);
    const a = train("a", 20);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stderr).not.toMatch(/note:/);
    const b1 = train("b", 10), b2 = train("b", 20, "--resume");
    expect(b1.status, b1.stderr).toBe(0);
    expect(b2.status, b2.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(join(dir, "a", "weights.safetensors")), readFileSync(join(dir, "b", "weights.safetensors")))).toBe(0);

    const ev = (t: string) => flowc("eval", join(dir, "a"), "--data", "moons", "--n", "3000", "--json", "--threads", t);
    const e1 = ev("1"), e2 = ev("2");
    expect(e2.status, e2.stderr).toBe(0);
    expect(JSON.parse(e2.stdout)).toEqual(JSON.parse(e1.stdout));
    const smp = (t: string) => {
      const f = join(dir, `s${t}.csv`);
      const r = flowc("sample", join(dir, "a"), "-n", "700", "--seed", "5", "-o", f, "--threads", t);
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(f, "utf8");
    };
    expect(smp("2")).toBe(smp("1"));
    const bad = flowc("eval", join(dir, "a"), "--data", "moons", "--threads", "0");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--threads/);
  });
});
