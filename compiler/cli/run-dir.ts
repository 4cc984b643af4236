/**
 * @fileoverview The layout of a training run directory and the helpers that
 * read and write it: `model.wasm` (the compiled flow), `weights.safetensors`
 * (the latest weights), `checkpoint.safetensors` (weights + Adam moments +
 * step + data-order state, for --resume) and `run.json` (options and
 * figures). Every file is written atomically.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadFlow, type Flow, type Trainer } from "../../runtime-wasm/host/flow.ts";
import { FlowcInputError } from "../../runtime-wasm/host/errors.ts";
import { writeFileAtomic } from "./io/atomic.ts";
import { readInputFile } from "./io/read.ts";

/** Prefix a FlowcInputError's message with the file it came from (the host does not know file names). */
function inFile<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof FlowcInputError && !e.message.includes(file)) e.message = `${file}: ${e.message}`;
    throw e;
  }
}

async function inFileAsync<T>(file: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof FlowcInputError && !e.message.includes(file)) e.message = `${file}: ${e.message}`;
    throw e;
  }
}

export const RUN_FILES = {
  model: "model.wasm",
  weights: "weights.safetensors",
  checkpoint: "checkpoint.safetensors",
  info: "run.json",
};

export interface RunInfo {
  spec: string;
  data: string;
  options: Record<string, unknown>;
  step: number;
  trainNll?: number;
  valNll?: number;
  bitsPerDim?: number;
  samplesPerSecond?: number;
  /** Size of the flow's wasm memory (bytes): the peak, since it never shrinks. */
  peakMemoryBytes?: number;
  finishedAt?: string;
}

/** Load a run directory's flow with its latest weights. */
export async function loadRun(dir: string, opts: { threads?: number } = {}): Promise<{ flow: Flow; info: RunInfo | null }> {
  const model = join(dir, RUN_FILES.model);
  if (!existsSync(model)) throw new FlowcInputError("FLOW680", `${dir} is not a flowc run directory: ${RUN_FILES.model} is missing`, { file: model });
  const flow = await inFileAsync(model, () => loadFlow(readInputFile(model), { threads: opts.threads }));
  const weights = join(dir, RUN_FILES.weights);
  if (!existsSync(weights)) throw new FlowcInputError("FLOW680", `${dir} has no trained weights yet (${RUN_FILES.weights} is missing)`, { file: weights });
  inFile(weights, () => flow.loadWeights(readInputFile(weights)));
  const infoPath = join(dir, RUN_FILES.info);
  return { flow, info: existsSync(infoPath) ? readRunInfo(infoPath) : null };
}

/** run.json, checked to be a JSON object (it only carries figures and options, so nothing else is required). */
export function readRunInfo(path: string): RunInfo {
  let info: unknown;
  try {
    info = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(readInputFile(path)));
  } catch (e) {
    if (e instanceof FlowcInputError) throw e;
    throw new FlowcInputError("FLOW680", `${path}: not valid JSON (${(e as Error).message}); delete it or restore it from the run`, { file: path });
  }
  if (info === null || typeof info !== "object" || Array.isArray(info)) {
    throw new FlowcInputError("FLOW680", `${path}: expected a JSON object`, { file: path });
  }
  return info as RunInfo;
}

/** Write weights + optimizer state + step + extra state (data order) atomically. */
export function writeCheckpoint(dir: string, flow: Flow, trainer: Trainer, state: Record<string, string>): void {
  const s = trainer.getState();
  const bytes = flow.saveWeights({
    tensors: [
      { name: "__optimizer.m", data: s.m, shape: [s.m.length] },
      { name: "__optimizer.v", data: s.v, shape: [s.v.length] },
    ],
    metadata: { step: String(s.step), rng: rngState(flow), ...state },
  });
  writeFileAtomic(join(dir, RUN_FILES.checkpoint), bytes);
  writeFileAtomic(join(dir, RUN_FILES.weights), flow.saveWeights({ metadata: { step: String(s.step) } }));
}

/** Restore a checkpoint into flow and trainer; returns its metadata. */
export function readCheckpoint(dir: string, flow: Flow, trainer: Trainer): Record<string, string> {
  const path = join(dir, RUN_FILES.checkpoint);
  if (!existsSync(path)) throw new FlowcInputError("FLOW681", `cannot resume: ${path} does not exist`, { file: path });
  const bytes = readInputFile(path);
  // Everything is checked before anything is written into the flow, so a bad checkpoint leaves it as it was.
  const saved = flow.getParams();
  try {
    return inFile(path, () => {
      const loaded = flow.loadWeights(bytes);
      const bad = (problem: string, tensor?: string) =>
        new FlowcInputError("FLOW681", `cannot resume from ${path}: ${problem}`, tensor ? { file: path, tensor } : { file: path });
      const m = loaded.extra.get("__optimizer.m"), v = loaded.extra.get("__optimizer.v");
      if (!m || !v) throw bad("it holds weights but no optimizer state (__optimizer.m, __optimizer.v)");
      const count = flow.manifest.paramCount;
      for (const [name, t] of [["__optimizer.m", m], ["__optimizer.v", v]] as const) {
        if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) throw bad(`tensor '${name}' must be F32 or F64`, name);
        if (t.data.length !== count) throw bad(`tensor '${name}' has ${t.data.length} moments, the flow has ${count} parameters`, name);
        for (let i = 0; i < count; i++) {
          const x = t.data[i];
          if (!Number.isFinite(x) || (name === "__optimizer.v" && x < 0)) throw bad(`tensor '${name}' holds ${x} at index ${i}`, name);
        }
      }
      const stepText = loaded.metadata.step;
      const step = Number(stepText);
      if (stepText === undefined || !/^\d+$/.test(stepText) || !Number.isSafeInteger(step)) throw bad(`invalid step '${stepText}' in the metadata`);
      const rng = loaded.metadata.rng;
      if (rng !== undefined && !/^[0-9a-f]{32}$/.test(rng)) throw bad(`invalid RNG state '${rng}' in the metadata (32 hex digits expected)`);
      trainer.setState({ step, m: m.data, v: v.data });
      if (rng !== undefined) setRngState(flow, rng);
      return loaded.metadata;
    });
  } catch (e) {
    flow.setParams(saved);
    throw e;
  }
}

/** The workspace RNG (stochastic layers such as dequantize) is part of a checkpoint, so a resumed
 *  run draws the same noise as an uninterrupted one. It lives in the first 16 bytes of the workspace. */
function rngState(flow: Flow): string {
  return Buffer.from(new Uint8Array(flow.exports.memory.buffer, flow.mem.ws, 16)).toString("hex");
}

function setRngState(flow: Flow, hex: string): void {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new FlowcInputError("FLOW681", `invalid RNG state '${hex}' in the checkpoint`);
  new Uint8Array(flow.exports.memory.buffer, flow.mem.ws, 16).set(Buffer.from(hex, "hex"));
}
