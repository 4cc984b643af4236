/**
 * @fileoverview The layout of a training run directory and the helpers that
 * read and write it: `model.wasm` (the compiled flow), `weights.safetensors`
 * (the latest weights), `checkpoint.safetensors` (weights + Adam moments +
 * step + data-order state, for --resume) and `run.json` (options and
 * figures). Every file is written atomically.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadFlow, type Flow, type Trainer } from "../../runtime-wasm/host/flow.ts";
import { FlowcInputError } from "../../runtime-wasm/host/errors.ts";
import { writeFileAtomic } from "./io/atomic.ts";

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
  finishedAt?: string;
}

/** Load a run directory's flow with its latest weights. */
export async function loadRun(dir: string): Promise<{ flow: Flow; info: RunInfo | null }> {
  const model = join(dir, RUN_FILES.model);
  if (!existsSync(model)) throw new FlowcInputError("FLOW680", `${dir} is not a flowc run directory: ${RUN_FILES.model} is missing`, { file: model });
  const flow = await loadFlow(readFileSync(model));
  const weights = join(dir, RUN_FILES.weights);
  if (!existsSync(weights)) throw new FlowcInputError("FLOW680", `${dir} has no trained weights yet (${RUN_FILES.weights} is missing)`, { file: weights });
  try {
    flow.loadWeights(readFileSync(weights));
  } catch (e) {
    if (e instanceof FlowcInputError) e.message = `${weights}: ${e.message}`;
    throw e;
  }
  const infoPath = join(dir, RUN_FILES.info);
  const info = existsSync(infoPath) ? (JSON.parse(readFileSync(infoPath, "utf8")) as RunInfo) : null;
  return { flow, info };
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
  const bytes = readFileSync(path);
  let loaded;
  try {
    loaded = flow.loadWeights(bytes);
  } catch (e) {
    if (e instanceof FlowcInputError) e.message = `${path}: ${e.message}`;
    throw e;
  }
  const m = loaded.extra.get("__optimizer.m"), v = loaded.extra.get("__optimizer.v");
  if (!m || !v) throw new FlowcInputError("FLOW681", `${path} holds weights but no optimizer state`, { file: path });
  const step = Number(loaded.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new FlowcInputError("FLOW681", `${path}: invalid step '${loaded.metadata.step}'`, { file: path });
  trainer.setState({ step, m: m.data, v: v.data });
  if (loaded.metadata.rng) setRngState(flow, loaded.metadata.rng);
  return loaded.metadata;
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
