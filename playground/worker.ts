/**
 * @fileoverview The playground's Web Worker: compiles specs with the full
 * compiler (asc and binaryen run here, off the page's thread), loads the
 * module with the host on one thread (a page without cross-origin isolation
 * has no shared memory), trains it on a toy or CSV rows, and sends the page
 * snapshots of the learned density: log p on a grid, samples, the held-out
 * log-likelihood. Training runs in slices so that Stop and other messages
 * are handled between them.
 */
import { compile } from "../compiler/codegen/compile.ts";
import { appendCustomSection } from "../compiler/codegen/wasm-sections.ts";
import { loadFlow, NonFiniteError, WEIGHTS_SECTION, type Flow, type Trainer } from "../runtime-wasm/host/flow.ts";
import { FLOW6, FlowcInputError, inputError } from "../runtime-wasm/host/errors.ts";
import { isToyName, sampleToy } from "../runtime-wasm/host/toys.ts";
import { Rng } from "../runtime-wasm/host/init.ts";
import { openModuleCache } from "./cache.ts";
import type { DataSource, FromWorker, Snapshot, ToWorker, TrainSettings } from "./protocol.ts";

const GRID = 128;
const SAMPLES = 600;
const TOY_POINTS = 20_000;
const HELD_OUT = 2_000;
/** Milliseconds of training between looks at the message queue. */
const SLICE_MS = 40;

interface Session {
  wasm: Uint8Array;
  flow: Flow;
  filename: string;
}

interface Training {
  pool: Float64Array;
  heldOut: Float64Array;
  box: [number, number, number, number];
  gridPoints: Float64Array;
  trainer: Trainer;
  rng: Rng;
  order: Uint32Array;
  cursor: number;
  batch: Float64Array;
  step: number;
  target: number;
  refresh: number;
  loss: number;
  /** Step time accumulated since the last snapshot, for steps/s. */
  busyMs: number;
  busySteps: number;
  stepsPerSec: number;
}

const post = (msg: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(msg, transfer);

const cache = openModuleCache();
let session: Session | null = null;
let training: Training | null = null;
/** Bumped whenever a run must end (Stop, a new Start, a new compile); a loop whose id is stale returns. */
let runId = 0;

function describe(e: unknown): { code: string; message: string } {
  if (e instanceof FlowcInputError) return { code: e.code, message: e.message };
  if (e instanceof NonFiniteError) return { code: "non-finite", message: e.message };
  return { code: "internal", message: e instanceof Error ? e.message : String(e) };
}

async function onCompile(m: Extract<ToWorker, { type: "compile" }>): Promise<void> {
  runId++;
  training = null;
  session = null;
  const t0 = performance.now();
  const res = await compile(m.source, { filename: m.filename, cache: await cache });
  const ms = performance.now() - t0;
  if (!res.wasm || !res.manifest) {
    post({ type: "compiled", id: m.id, ok: false, ms, diagnostics: res.diagnostics, bytes: 0, params: 0, dims: [] });
    return;
  }
  const flow = await loadFlow(res.wasm);
  session = { wasm: res.wasm, flow, filename: m.filename };
  post({ type: "compiled", id: m.id, ok: true, ms, diagnostics: res.diagnostics, bytes: res.wasm.length, params: res.manifest.paramCount, dims: res.manifest.inputShape });
}

/** Split rows into a training pool and a held-out set (toys draw the held-out set from their own stream). */
function loadData(src: DataSource, seed: number): { pool: Float64Array; heldOut: Float64Array } {
  if (src.kind === "toy") {
    if (!isToyName(src.name)) throw inputError(FLOW6.unknownToy, { name: src.name, toys: "moons, 8gaussians, checkerboard, pinwheel, rings, spirals" });
    return { pool: sampleToy(src.name, TOY_POINTS, seed), heldOut: sampleToy(src.name, HELD_OUT, seed, "test") };
  }
  const n = src.rows.length / 2;
  if (n < 10) throw inputError(FLOW6.emptyData, {}, { file: src.name });
  const order = shuffled(n, new Rng(seed, "playground:split"));
  const held = Math.min(HELD_OUT, Math.max(1, Math.round(n / 10)));
  const pick = (from: number, to: number) => {
    const out = new Float64Array(2 * (to - from));
    for (let i = from; i < to; i++) { out[2 * (i - from)] = src.rows[2 * order[i]]; out[2 * (i - from) + 1] = src.rows[2 * order[i] + 1]; }
    return out;
  };
  return { pool: pick(held, n), heldOut: pick(0, held) };
}

function shuffled(n: number, rng: Rng): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); const t = a[i]; a[i] = a[j]; a[j] = t; }
  return a;
}

/** A square box around the central 99% of the data on each axis, with a margin. */
function boundingBox(rows: Float64Array): [number, number, number, number] {
  const n = rows.length / 2;
  const q = (axis: number) => {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = rows[2 * i + axis];
    v.sort();
    return [v[Math.floor(0.005 * (n - 1))], v[Math.ceil(0.995 * (n - 1))]];
  };
  const [x0, x1] = q(0), [y0, y1] = q(1);
  const half = (Math.max(x1 - x0, y1 - y0, 1e-6) / 2) * 1.25;
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  return [cx - half, cx + half, cy - half, cy + half];
}

function gridPoints(box: [number, number, number, number]): Float64Array {
  const [x0, x1, y0, y1] = box;
  const pts = new Float64Array(2 * GRID * GRID);
  for (let i = 0; i < GRID; i++) {
    for (let j = 0; j < GRID; j++) {
      pts[2 * (i * GRID + j)] = x0 + ((j + 0.5) / GRID) * (x1 - x0);
      pts[2 * (i * GRID + j) + 1] = y1 - ((i + 0.5) / GRID) * (y1 - y0);
    }
  }
  return pts;
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

function snapshot(flow: Flow, t: Training): { snap: Snapshot; transfer: Transferable[] } {
  if (t.busyMs > 0) t.stepsPerSec = (1000 * t.busySteps) / t.busyMs;
  t.busyMs = 0;
  t.busySteps = 0;
  const logDensity = Float32Array.from(flow.logProb(t.gridPoints));
  // The same latent draws every time, so the dots move with the flow instead of flickering.
  const samples = Float32Array.from(flow.sample(SAMPLES, { seed: 7 }));
  const snap: Snapshot = { step: t.step, loss: t.loss, heldOut: mean(flow.logProb(t.heldOut)), stepsPerSec: t.stepsPerSec, box: t.box, grid: GRID, logDensity, samples };
  return { snap, transfer: [logDensity.buffer, samples.buffer] };
}

function checkSettings(s: TrainSettings): void {
  const bad = (what: string, expected: string, got: number) => inputError(FLOW6.badArgument, { what, expected, got });
  if (!Number.isInteger(s.steps) || s.steps < 1) throw bad("steps", "a positive integer", s.steps);
  if (!Number.isInteger(s.refresh) || s.refresh < 1) throw bad("the redraw interval", "a positive integer", s.refresh);
  if (!Number.isSafeInteger(s.seed)) throw bad("seed", "an integer", s.seed);
}

function onStart(m: Extract<ToWorker, { type: "start" }>): void {
  runId++;
  training = null;
  if (!session) throw new FlowcInputError("FLOW664", "compile a spec first");
  const s = m.settings;
  checkSettings(s);
  const flow = session.flow;
  if (flow.eventSize !== 2 || flow.contextSize !== 0) {
    throw inputError(FLOW6.columnCount, { got: 2, expected: `${flow.eventSize} (input [${flow.eventShape.join(", ")}]${flow.contextSize ? ` and a context of ${flow.contextSize}` : ""})`, what: "this spec" });
  }
  const { pool, heldOut } = loadData(m.data, s.seed);
  const box = boundingBox(pool);
  flow.initialize({ seed: s.seed, data: pool.subarray(0, 2 * Math.min(1024, pool.length / 2)) });
  const trainer = flow.trainer({ lr: s.lr, batchSize: s.batch });
  const rng = new Rng(s.seed, "playground:batches");
  training = {
    pool, heldOut, box, gridPoints: gridPoints(box), trainer, rng,
    order: shuffled(pool.length / 2, rng), cursor: 0, batch: new Float64Array(2 * s.batch),
    step: 0, target: s.steps, refresh: s.refresh, loss: NaN, busyMs: 0, busySteps: 0, stepsPerSec: 0,
  };
  const { snap, transfer } = snapshot(flow, training);
  post({ type: "started", points: pool.length / 2, heldOutPoints: heldOut.length / 2, snapshot: snap }, transfer);
  void run(++runId);
}

function onContinue(m: Extract<ToWorker, { type: "continue" }>): void {
  runId++;
  if (!session || !training) throw new FlowcInputError("FLOW664", "start training first: Continue resumes a run");
  checkSettings(m.settings);
  const t = training;
  // Adam's moments carry over; a new learning rate or batch size starts a fresh optimizer.
  if (m.settings.lr !== t.trainer.lr || m.settings.batch !== t.trainer.batchSize) {
    t.trainer = session.flow.trainer({ lr: m.settings.lr, batchSize: m.settings.batch });
    t.batch = new Float64Array(2 * m.settings.batch);
  }
  t.target = t.step + m.settings.steps;
  t.refresh = m.settings.refresh;
  void run(++runId);
}

function nextBatch(t: Training): Float64Array {
  const rows = t.batch.length / 2, n = t.order.length;
  for (let r = 0; r < rows; r++) {
    if (t.cursor === n) { t.order = shuffled(n, t.rng); t.cursor = 0; }
    const i = t.order[t.cursor++];
    t.batch[2 * r] = t.pool[2 * i];
    t.batch[2 * r + 1] = t.pool[2 * i + 1];
  }
  return t.batch;
}

/** A macrotask boundary without setTimeout's clamping, so queued messages get handled. */
function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

async function run(id: number): Promise<void> {
  const flow = session!.flow, t = training!;
  let sinceDraw = 0;
  try {
    while (id === runId && t.step < t.target) {
      const t0 = performance.now();
      let done = 0;
      while (t.step < t.target && sinceDraw < t.refresh && performance.now() - t0 < SLICE_MS) {
        t.loss = t.trainer.step(nextBatch(t));
        t.step++;
        sinceDraw++;
        done++;
      }
      t.busyMs += performance.now() - t0;
      t.busySteps += done;
      if (sinceDraw >= t.refresh && t.step < t.target) {
        sinceDraw = 0;
        const { snap, transfer } = snapshot(flow, t);
        post({ type: "progress", snapshot: snap }, transfer);
      }
      await yieldToEvents();
    }
  } catch (e) {
    runId++;
    post({ type: "error", ...describe(e) });
    try {
      const { snap, transfer } = snapshot(flow, t);
      post({ type: "stopped", reason: "stopped", snapshot: snap }, transfer);
    } catch (e2) {
      post({ type: "error", ...describe(e2) });
    }
    return;
  }
  // A newer Start or a compile superseded this run: it reports nothing more.
  if (id !== runId && training !== t) return;
  const { snap, transfer } = snapshot(flow, t);
  post({ type: "stopped", reason: t.step >= t.target ? "done" : "stopped", snapshot: snap }, transfer);
}

function onBundle(m: Extract<ToWorker, { type: "bundle" }>): void {
  if (!session) throw new FlowcInputError("FLOW664", "compile a spec first");
  if (WebAssembly.Module.customSections(session.flow.module, WEIGHTS_SECTION).length) throw new FlowcInputError("FLOW650", "this module already carries weights");
  // The same bytes `flowc bundle` writes: the compiled module plus the weights as a custom section.
  const wasm = appendCustomSection(session.wasm, WEIGHTS_SECTION, session.flow.saveWeights());
  post({ type: "bundle", id: m.id, wasm }, [wasm.buffer]);
}

function onLogProb(m: Extract<ToWorker, { type: "logProb" }>): void {
  if (!session) throw new FlowcInputError("FLOW664", "compile a spec first");
  const values = Float64Array.from(session.flow.logProb(m.points));
  post({ type: "logProb", id: m.id, values }, [values.buffer]);
}

self.onmessage = async (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  try {
    if (m.type === "compile") await onCompile(m);
    else if (m.type === "start") onStart(m);
    else if (m.type === "continue") onContinue(m);
    else if (m.type === "stop") runId++;
    else if (m.type === "bundle") onBundle(m);
    else if (m.type === "logProb") onLogProb(m);
  } catch (e) {
    post({ type: "error", id: "id" in m ? m.id : undefined, ...describe(e) });
  }
};

// Messages that reach a module worker while its imports are still evaluating (binaryen awaits
// its own instantiation) find no handler and are dropped, so the page waits for this.
post({ type: "ready" });
