/**
 * @fileoverview What every runtime test needs, built into a fresh temp dir:
 * a bundled moons module (compiled, initialised, trained a few steps, weights
 * in its `flowc.weights` section), `flowc/runtime` bundled by esbuild exactly
 * as dist/runtime.js is, and Node's own answers, which every other runtime
 * must reproduce bit for bit.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "../../compiler/index.ts";
import { bundleModule } from "../../compiler/cli/commands/bundle.ts";
import { diskCache } from "../../compiler/cli/cache.ts";
import { loadFlow } from "../../runtime-wasm/host/index.ts";
import { sampleToy } from "../../runtime-wasm/host/toys.ts";
import { buildRuntime } from "../../scripts/build.mjs";

export const root = fileURLToPath(new URL("../../", import.meta.url));

/** The requests every runtime answers: a sample, and the log-density of fixed points. */
export const SAMPLE = { n: 64, seed: 7, temperature: 0.9 };
export const POINTS = Float32Array.from([0.5, 0.25, -1, 0.5, 1.5, -0.3, 0, 0, 2, 0.5, -0.75, 0.8]);

export interface Built {
  dir: string;
  /** dir/model.wasm: the bundled module. */
  wasm: Uint8Array;
  /** dir/runtime.js: the bundled host. */
  runtime: string;
  /** Node's answers to SAMPLE and POINTS. */
  expected: { sample: number[]; logProb: number[] };
}

/** A moons module with non-trivial weights: 30 Adam steps from a seeded init. */
export async function bundledMoons(): Promise<Uint8Array> {
  const source = readFileSync(join(root, "spec-examples/moons.flow"), "utf8");
  const { wasm, diagnostics } = await compile(source, { filename: "moons.flow", cache: diskCache() });
  if (!wasm) throw new Error(`moons.flow does not compile: ${JSON.stringify(diagnostics)}`);
  const flow = await loadFlow(wasm);
  const data = sampleToy("moons", 2048, 1);
  flow.initialize({ seed: 0, data: data.subarray(0, 512) });
  const trainer = flow.trainer({ lr: 1e-3, batchSize: 256 });
  for (let s = 0; s < 30; s++) trainer.step(data.subarray((s % 8) * 512, (s % 8) * 512 + 512));
  return bundleModule(wasm, flow.saveWeights());
}

/** Node's answers for a module, through the same public API the other runtimes use. */
export async function answers(wasm: Uint8Array): Promise<Built["expected"]> {
  const flow = await loadFlow(wasm);
  return {
    sample: Array.from(flow.sample(SAMPLE.n, { seed: SAMPLE.seed, temperature: SAMPLE.temperature })),
    logProb: Array.from(flow.logProb(POINTS)),
  };
}

export async function buildAll(prefix: string): Promise<Built> {
  const dir = mkdtempSync(join(tmpdir(), `flowc-${prefix}-`));
  const wasm = await bundledMoons();
  writeFileSync(join(dir, "model.wasm"), wasm);
  const runtime = join(dir, "runtime.js");
  await buildRuntime(runtime);
  return { dir, wasm, runtime, expected: await answers(wasm) };
}

/** Float32 bits of each value, so a mismatch reports the first differing element exactly. */
export function bits(values: ArrayLike<number | null>): string[] {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return Array.from(values, (v) => {
    if (v === null) return "null";
    f[0] = v;
    return u[0].toString(16).padStart(8, "0");
  });
}

/** Rows the thread checks score, sample and train on: more than one round of chunks for two threads. */
export const THREADS = { rows: 2048, steps: 4, batch: 512 };

/** The thread checks' data, as float32 (what runtimes other than Node read from data.bin). */
export function threadData(): Float32Array {
  return Float32Array.from(sampleToy("moons", THREADS.rows, 5));
}

/**
 * JavaScript source of `runOn(loadFlow, wasm, data, threads)`, the thread check every runtime
 * runs the same way: score and sample all rows, then a seeded init and a few training steps.
 */
export const THREAD_RUN_JS = `
async function runOn(loadFlow, wasm, data, threads) {
  const f = await loadFlow(wasm, { threads });
  const out = { threads: f.threads, notes: f.notes, logProb: Array.from(f.logProb(data)), sample: Array.from(f.sample(${THREADS.rows}, { seed: 3 })), losses: [] };
  f.initialize({ seed: 0, data: data.subarray(0, ${THREADS.batch * 2}) });
  const tr = f.trainer({ lr: 1e-3, batchSize: ${THREADS.batch} });
  for (let s = 0; s < ${THREADS.steps}; s++) out.losses.push(tr.step(data.subarray(s * ${THREADS.batch * 2}, (s + 1) * ${THREADS.batch * 2})));
  out.params = Array.from(f.getParams());
  f.dispose();
  return out;
}`;

export interface ThreadRun { threads: number; notes: string[]; logProb: number[]; sample: number[]; losses: number[]; params: number[] }

/** Node's answers to the thread check. */
export async function nodeThreadRun(wasm: Uint8Array, data: Float32Array, threads: number): Promise<ThreadRun> {
  const runOn = new Function(`${THREAD_RUN_JS}\nreturn runOn;`)() as (l: typeof loadFlow, w: Uint8Array, d: Float32Array, t: number) => Promise<ThreadRun>;
  return runOn(loadFlow, wasm, data, threads);
}
