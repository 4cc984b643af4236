/**
 * @fileoverview Data-parallel execution of a compiled flow over one shared
 * WebAssembly.Memory: instantiating a module on a host-created memory (shared
 * when threads are wanted and possible), the worker pool (worker_threads in
 * Node, Web Workers elsewhere) and its control block, and the job runner that
 * the calling thread and every worker execute on their share of a batch.
 *
 * The calling thread owns all allocation and is thread 0; workers only call
 * kernels on addresses it hands them. A step is one write of the job's
 * arguments into the worker's slot of a SharedArrayBuffer and one
 * Atomics.notify; completion is one Atomics.store + notify back, so the
 * per-step cost is a few microseconds, not a postMessage round trip.
 * A job belongs to whoever claims it first (one compare-and-swap): when its
 * worker has not picked it up by the time the calling thread is done with
 * its own share (a loaded machine, a worker still asleep), the calling
 * thread runs it itself. Job t always works in thread t's workspace and
 * gradient buffer, so who ran it never changes a result.
 * Imports no Node built-ins: `worker_threads` is reached through
 * `process.getBuiltinModule` when it exists.
 *
 * A worker that goes away is an error, not a hang. One that dies holding a
 * job (an uncaught error, process.exit) marks its slot on the way out, which
 * wakes the calling thread; one that ends outside a job (terminated,
 * crashed) is heard of through its exit or error event, and the next call
 * reports it. Either way the call throws, naming the thread and what
 * happened, the pool stops its other workers, and the flow goes on on the
 * calling thread alone. The one case left is a worker killed from outside
 * (no JavaScript runs) while it holds a job: its event cannot arrive while
 * the calling thread blocks. In Node only the pool terminates its workers,
 * and it never does so during a call.
 */
import { FlowcInputError } from "./errors.ts";
import { instantiate as instantiateAS } from "@assemblyscript/loader";

const PAGE = 65536;
/** The largest wasm32 memory, in pages; the compiler declares it as the import's maximum. */
const MAX_PAGES = 65536;

// ------------------------------------------------------------ the memory import

/** Where the limits of a module's `env.memory` import are, in its bytes. */
interface MemoryImport {
  /** Byte offset of the limits flags (0x00 min, 0x01 min+max, 0x03 min+max shared). */
  flagsAt: number;
  flags: number;
  initial: number;
  maximum: number | null;
}

function readLeb(b: Uint8Array, at: number): [number, number] {
  let v = 0, shift = 0, byte: number;
  do {
    if (at >= b.length) throw new Error("truncated LEB128");
    byte = b[at++];
    v += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [v, at];
}

/** The memory import of a wasm binary, or null when it defines its own memory (or is not wasm). */
export function memoryImport(b: Uint8Array): MemoryImport | null {
  try {
    if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) return null;
    let at = 8;
    while (at < b.length) {
      const id = b[at++];
      let size: number;
      [size, at] = readLeb(b, at);
      const end = at + size;
      if (id !== 2) { at = end; continue; }
      let count: number;
      [count, at] = readLeb(b, at);
      for (let i = 0; i < count; i++) {
        for (let k = 0; k < 2; k++) { let len: number; [len, at] = readLeb(b, at); at += len; }
        const kind = b[at++];
        if (kind === 0) [, at] = readLeb(b, at);
        else if (kind === 1 || kind === 2) {
          if (kind === 1) at++; // reference type
          const flagsAt = at, flags = b[at++];
          let initial: number, maximum: number | null = null;
          [initial, at] = readLeb(b, at);
          if (flags & 1) [maximum, at] = readLeb(b, at);
          if (kind === 2) return { flagsAt, flags, initial, maximum };
        } else if (kind === 3) at += 2;
        else if (kind === 4) { at++; [, at] = readLeb(b, at); }
        else return null;
      }
      return null;
    }
  } catch {
    return null;
  }
  return null;
}

/**
 * The same module with its memory import declared shared (flags 0x01 → 0x03),
 * or null when it cannot be: no memory import or no maximum. The kernels use
 * no atomics, so only this one byte differs.
 */
export function withSharedMemory(b: Uint8Array): Uint8Array | null {
  const imp = memoryImport(b);
  if (!imp || imp.flags !== 0x01) return null;
  const out = b.slice();
  out[imp.flagsAt] = 0x03;
  return out;
}

// ------------------------------------------------------------ where threads can run

type WorkerLike = {
  postMessage(m: unknown): void;
  terminate(): unknown;
  unref?(): void;
  on?(ev: string, f: (v: unknown) => void): void;
  addEventListener?(ev: string, f: (v: { data?: unknown; message?: string }) => void): void;
};
type Spawn = (data: WorkerData) => WorkerLike;
interface WorkerData { module: WebAssembly.Module; memory: WebAssembly.Memory; control: SharedArrayBuffer; slot: number }

/** How to start a worker running WORKER_SOURCE here, or null. */
function workerSpawner(): Spawn | null {
  const g = globalThis as unknown as {
    Worker?: new (url: string, o: { type: string }) => WorkerLike;
    Blob?: typeof Blob;
    URL?: typeof URL;
    process?: { getBuiltinModule?: (id: string) => unknown };
  };
  // worker_threads first (Node, Deno, Bun): its workers can be unref'ed, so idle ones never keep a process alive.
  const wt = typeof g.process?.getBuiltinModule === "function" ? (g.process.getBuiltinModule("node:worker_threads") as { Worker?: new (code: string, o: object) => WorkerLike } | undefined) : undefined;
  if (wt?.Worker) {
    const W = wt.Worker;
    return (data) => new W(WORKER_SOURCE, { eval: true, workerData: data });
  }
  if (typeof g.Worker === "function" && g.Blob && g.URL?.createObjectURL) {
    const W = g.Worker;
    let url: string | null = null;
    return (data) => {
      url ??= g.URL!.createObjectURL(new g.Blob!([WORKER_SOURCE], { type: "text/javascript" }));
      const w = new W(url, { type: "module" });
      w.postMessage(data);
      return w;
    };
  }
  return null;
}

/** Why this runtime cannot run a flow on several threads, or null when it can. */
export function threadsUnavailable(): string | null {
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics !== "object") {
    return "SharedArrayBuffer is unavailable here (a browser page needs cross-origin isolation: the COOP and COEP headers)";
  }
  if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) {
    return "this page is not cross-origin isolated (the COOP and COEP headers), so memory cannot be shared";
  }
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
  } catch {
    return "this thread may not block on Atomics.wait (a browser's main thread); load the flow inside a Worker to use threads";
  }
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
  } catch {
    return "this runtime cannot create a shared WebAssembly.Memory";
  }
  if (!workerSpawner()) return "this runtime has no workers (Node needs process.getBuiltinModule, 20.16 or later)";
  return null;
}

// ------------------------------------------------------------ instantiation

export interface Instantiated {
  instance: WebAssembly.Instance;
  memory: WebAssembly.Memory;
  /** Whether the memory is shared (so workers may run on it). */
  shared: boolean;
}

/**
 * Instantiate `module` on a memory created here: shared when `shared` is
 * asked for. `initialPages` is the import's declared minimum when known; when
 * it is not (a precompiled Module), larger memories are tried until one links.
 * A module that defines its own memory (compiled by an older flowc) is
 * instantiated as it is and reported unshared.
 */
export async function instantiateOn(module: WebAssembly.Module, opts: { shared: boolean; initialPages?: number }): Promise<Instantiated> {
  const imports = WebAssembly.Module.imports(module);
  // AssemblyScript's loader supplies `env.abort`, decoding the message and file name from memory
  // (the kernels are built with --noAssert, so only traps reach it).
  if (!imports.some((i) => i.module === "env" && i.name === "memory" && i.kind === "memory")) {
    const { instance } = await instantiateAS(module, {});
    return { instance, memory: instance.exports.memory as WebAssembly.Memory, shared: false };
  }
  let pages = Math.max(1, opts.initialPages ?? 1);
  for (;;) {
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, ...(opts.shared ? { shared: true } : {}) } as WebAssembly.MemoryDescriptor);
    } catch (e) {
      throw new FlowcInputError("FLOW653", `cannot create the flow's memory (${pages} pages${opts.shared ? ", shared" : ""}): ${(e as Error).message}`);
    }
    try {
      const { instance } = await instantiateAS(module, { env: { memory } });
      return { instance, memory, shared: opts.shared };
    } catch (e) {
      // A precompiled module's minimum is not visible from JS: grow until it links.
      if (e instanceof WebAssembly.LinkError && /memory/i.test(e.message) && opts.initialPages === undefined && pages < MAX_PAGES) {
        pages = Math.min(MAX_PAGES, pages * 4);
        continue;
      }
      throw e;
    }
  }
}

// ------------------------------------------------------------ jobs

/** Job opcodes, shared by the calling thread's runner and the worker source. */
export const OP = { train: 1, logProb: 2, forward: 3, inverse: 4, sample: 5, exit: 9 } as const;

/**
 * A job's arguments, by index into a Float64Array (byte addresses and row
 * counts are exact in f64). Rows [r0, r1) of the staged batch, in pieces of
 * at most `cs` rows; row r's input is at inB + r·inRB, and so on.
 */
export const ARG = { op: 0, r0: 1, r1: 2, cs: 3, P: 4, G: 5, ws: 6, inB: 7, inRB: 8, outB: 9, outRB: 10, v1B: 11, v1RB: 12, cxB: 13, cxRB: 14, scalar: 15, seed: 16, zero: 17, chunk0: 18 } as const;
export const ARG_COUNT = 20;

/** What a job reports: Σ of train_chunk's returns, and the first piece whose loss was not finite. */
export interface JobResult { sum: number; failRow: number; failRows: number }

/** The kernels a job calls (a subset of the module's exports). */
export interface JobExports {
  seed(ws: number, s: number): void;
  zero_buf(p: number, count: number): void;
  train_chunk(P: number, G: number, ws: number, x: number, n: number, scale: number, cx: number): number;
  log_prob(P: number, ws: number, x: number, out: number, n: number, cx: number): void;
  forward(P: number, ws: number, x: number, z: number, ld: number, n: number, cx: number): void;
  inverse(P: number, ws: number, z: number, x: number, ld: number, n: number, cx: number): void;
  sample(P: number, ws: number, x: number, lp: number, n: number, temp: number, cx: number): void;
}

/**
 * The seed of sampling chunk k: chunk 0 draws from `seed` itself (so a batch
 * of one chunk is what it always was), later chunks from a hash of (seed, k).
 * Every chunk owning its seed makes samples independent of the thread count.
 */
export function chunkSeed(seed: number, k: number): number {
  if (k === 0) return seed >>> 0;
  let h = (seed ^ Math.imul(k, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The job loop, written once for both sides: the calling thread runs the
 * function this returns, and WORKER_SOURCE embeds this function's own text,
 * so a worker runs the very same code (the thread tests compare results bit
 * for bit). It refers to nothing outside its parameters but JavaScript's
 * globals, and defines no named inner functions, so its text still works
 * when a bundler renames module-level names or a loader adds helpers to
 * named functions (tsx, esbuild's keepNames). The offsets it is given are
 * the calling thread's own `ARG` and `OP`, and `seedOf` is `chunkSeed`.
 */
function makeRunJob(K: typeof ARG, O: typeof OP, seedOf: (seed: number, k: number) => number): (e: JobExports, a: ArrayLike<number>) => JobResult {
  return (e, a) => {
    const op = a[K.op], r0 = a[K.r0], r1 = a[K.r1], cs = a[K.cs], P = a[K.P], ws = a[K.ws];
    let sum = 0, failRow = -1, failRows = 0;
    if (a[K.zero] > 0) e.zero_buf(a[K.G], a[K.zero]);
    if (a[K.seed] >= 0 && op === O.train) e.seed(ws, a[K.seed]);
    for (let s = r0; s < r1; s += cs) {
      const m = Math.min(cs, r1 - s);
      // Row s of the input, the output, the second output (log-det or log-p; 0 = none) and the context (0 = none).
      const inp = a[K.inB] + s * a[K.inRB], out = a[K.outB] + s * a[K.outRB];
      const v1 = a[K.v1B] ? a[K.v1B] + s * a[K.v1RB] : 0, cx = a[K.cxB] ? a[K.cxB] + s * a[K.cxRB] : 0;
      if (op === O.train) {
        const v = e.train_chunk(P, a[K.G], ws, inp, m, a[K.scalar], cx);
        if (!Number.isFinite(v)) { failRow = s; failRows = m; break; }
        sum += v;
      } else if (op === O.logProb) e.log_prob(P, ws, inp, out, m, cx);
      else if (op === O.forward) e.forward(P, ws, inp, out, v1, m, cx);
      else if (op === O.inverse) e.inverse(P, ws, inp, out, v1, m, cx);
      else if (op === O.sample) {
        e.seed(ws, seedOf(a[K.seed], a[K.chunk0] + (s - r0) / cs));
        e.sample(P, ws, out, v1, m, a[K.scalar], cx);
      }
    }
    return { sum, failRow, failRows };
  };
}

/** Runs one job with the calling thread's instance. */
export const runJob = makeRunJob(ARG, OP, chunkSeed);

// ------------------------------------------------------------ the control block

/** Bytes per worker slot: i32 seq/done/status/length/claim/exit code at 0, f64 args at 64, f64 results at 256, UTF-16 error text at 512. */
const SLOT = 1024;
const ARGS_AT = 64, RES_AT = 256, MSG_AT = 512, MSG_CHARS = 256;
/**
 * What a slot's done word holds once its worker is gone (generations are
 * positive). The worker writes it on its way out when it can (an uncaught
 * error, process.exit), the calling thread when the worker's exit or error
 * event arrives; either way with a notify, so a calling thread waiting for
 * that worker wakes up and reports it instead of waiting for ever.
 */
const DEAD = -1;
/**
 * Milliseconds of polling before sleeping in Atomics.wait. A futex wake-up
 * costs tens of µs, and the calling thread's work between two training steps
 * (the Adam update, the next batch) a few hundred: an idle worker polls long
 * enough to pick up the next step at once. The calling thread, waiting for a
 * worker that is still computing, polls only briefly: on a busy machine its
 * polling would take CPU time from that very worker.
 */
const SPIN_MS = 0.3, WAIT_SPIN_MS = 0.05;

/** Polls I[at] for up to `ms` milliseconds while it equals `old`; returns its last value. The workers run it too (WORKER_SOURCE embeds its text). */
function spinUntilChanged(I: Int32Array, at: number, old: number, ms: number): number {
  const until = performance.now() + ms;
  let v = Atomics.load(I, at);
  while (v === old) {
    for (let i = 0; i < 256 && v === old; i++) v = Atomics.load(I, at);
    if (performance.now() > until) break;
  }
  return v;
}

/**
 * The worker: instantiates the module on the shared memory, then loops on
 * its slot of the control block. Plain JavaScript (it is evaluated as is in
 * the worker); `runJob` and `chunkSeed` are the TypeScript above, as text.
 */
const WORKER_SOURCE = `"use strict";
const OP = ${JSON.stringify(OP)}, ARG = ${JSON.stringify(ARG)};
const SLOT = ${SLOT}, ARGS_AT = ${ARGS_AT}, RES_AT = ${RES_AT}, MSG_AT = ${MSG_AT}, MSG_CHARS = ${MSG_CHARS}, ARG_COUNT = ${ARG_COUNT}, SPIN_MS = ${SPIN_MS}, DEAD = ${DEAD};
const spinUntilChanged = ${spinUntilChanged.toString()};
function markDead(d, code) {
  const I = new Int32Array(d.control, d.slot * SLOT, 8);
  if (Atomics.load(I, 1) === DEAD) return;
  I[5] = code;
  Atomics.store(I, 1, DEAD);
  Atomics.notify(I, 1);
}
const chunkSeed = ${chunkSeed.toString()};
const runJob = (${makeRunJob.toString()})(ARG, OP, chunkSeed);
async function serve(d, ready) {
  let e;
  try {
    const abort = (m, f, line, col) => { throw new Error("the module aborted at " + line + ":" + col); };
    const instance = await WebAssembly.instantiate(d.module, { env: { memory: d.memory, abort } });
    e = instance.exports;
  } catch (err) {
    ready({ error: String(err && err.message || err) });
    return;
  }
  ready("ready");
  const base = d.slot * SLOT;
  const I = new Int32Array(d.control, base, 8);
  const A = new Float64Array(d.control, base + ARGS_AT, ARG_COUNT);
  const R = new Float64Array(d.control, base + RES_AT, 4);
  const M = new Uint16Array(d.control, base + MSG_AT, MSG_CHARS);
  let seen = 0; // the generation counter starts at 0 and never returns to it
  try {
    for (;;) {
      let g = Atomics.load(I, 0);
      if (g === seen) g = spinUntilChanged(I, 0, seen, SPIN_MS);
      while (g === seen) { Atomics.wait(I, 0, seen); g = Atomics.load(I, 0); }
      seen = g;
      // The job is ours only if the calling thread has not taken it meanwhile.
      if (Atomics.compareExchange(I, 4, g, -g) !== g) continue;
      if (A[ARG.op] === OP.exit) { Atomics.store(I, 1, g); Atomics.notify(I, 1); return; }
      try {
        const r = runJob(e, A);
        R[0] = r.sum; R[1] = r.failRow; R[2] = r.failRows;
        I[2] = 0;
      } catch (err) {
        const text = String(err && err.message || err).slice(0, MSG_CHARS);
        for (let i = 0; i < text.length; i++) M[i] = text.charCodeAt(i);
        I[3] = text.length;
        I[2] = 1;
      }
      Atomics.store(I, 1, g);
      Atomics.notify(I, 1);
    }
  } catch (err) {
    // Nothing outside runJob should throw; if something does, say so rather than leave a job unanswered.
    markDead(d, -1);
    throw err;
  }
}
if (typeof require === "function") {
  const { parentPort, workerData } = require("node:worker_threads");
  // Runs on process.exit() and on an uncaught error; a terminate() runs no JavaScript, and the calling thread's exit event covers it.
  process.on("exit", (code) => markDead(workerData, code));
  serve(workerData, (m) => parentPort.postMessage(m));
} else {
  self.onmessage = (ev) => { self.onmessage = null; serve(ev.data, (m) => self.postMessage(m)); };
}
`;

/**
 * T − 1 workers, each with an instance of the module on the shared memory,
 * plus the calling thread as thread 0.
 */
export class Pool {
  private gen = 0;
  private readonly I: Int32Array;
  private readonly A: Float64Array[] = [];
  private readonly R: Float64Array[] = [];
  private readonly M: Uint16Array[] = [];
  private closed = false;
  /** What the calling thread heard of each gone worker (its exit or error event), by thread. */
  private readonly why: (string | null)[] = [];
  /**
   * Called once when a worker is found gone, after the pool has stopped the
   * others: the flow then drops the pool and goes on on the calling thread.
   */
  onLost: (() => void) | null = null;

  private constructor(readonly size: number, private readonly control: SharedArrayBuffer, private readonly workers: WorkerLike[]) {
    this.I = new Int32Array(control);
    for (let t = 0; t < size; t++) {
      this.A.push(new Float64Array(control, t * SLOT + ARGS_AT, ARG_COUNT));
      this.R.push(new Float64Array(control, t * SLOT + RES_AT, 4));
      this.M.push(new Uint16Array(control, t * SLOT + MSG_AT, MSG_CHARS));
      this.why.push(null);
    }
    // A worker that ends outside a job (terminated, killed, crashed) is only heard of through these
    // events, which arrive between calls; its slot is marked so the next run() reports it.
    workers.forEach((w, i) => {
      const t = i + 1;
      const gone = (what: string, code: number) => {
        if (this.closed) return;
        this.why[t] ??= what;
        this.markDead(t, code);
      };
      if (typeof w.on === "function") {
        w.on("exit", (code) => gone(`exited with code ${String(code)}`, typeof code === "number" ? code : -1));
        w.on("error", (err) => gone(`failed: ${(err as { message?: string })?.message ?? String(err)}`, -1));
      } else {
        w.addEventListener!("error", (ev) => gone(`failed: ${ev.message ?? "an error event without a message"}`, -1));
      }
    });
  }

  /** Marks thread t's worker gone in its slot (as the worker does on its way out) and wakes whoever waits for it. */
  private markDead(t: number, code: number): void {
    const at = (t * SLOT) / 4;
    if (Atomics.load(this.I, at + 1) === DEAD) return;
    this.I[at + 5] = code;
    Atomics.store(this.I, at + 1, DEAD);
    Atomics.notify(this.I, at + 1);
  }

  /**
   * Stops the pool after thread t's worker was found gone, tells the flow
   * (which goes on on the calling thread alone) and returns the error for
   * the call that found it.
   */
  private lost(t: number, when: string): Error {
    const code = this.I[(t * SLOT) / 4 + 5];
    const what = this.why[t] ?? (code === -1 ? "stopped on an unexpected error" : `exited with code ${code}`);
    this.dispose();
    this.onLost?.();
    return new Error(
      `thread ${t} is gone: its worker ${what} ${when}. This call's results are lost (a training step is not applied); ` +
        `the flow stopped its other worker threads and goes on on the calling thread alone (threads = 1)`,
    );
  }

  /** Starts `threads − 1` workers on `memory` (which must be shared); throws when a worker cannot start. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number): Promise<Pool> {
    const spawn = workerSpawner();
    if (!spawn) throw new Error("no workers in this runtime");
    const control = new SharedArrayBuffer(threads * SLOT);
    const workers: WorkerLike[] = [];
    try {
      await Promise.all(Array.from({ length: threads - 1 }, (_, i) => new Promise<void>((resolve, reject) => {
        const w = spawn({ module, memory, control, slot: i + 1 });
        workers.push(w);
        const onMessage = (m: unknown) => {
          const data = (m as { data?: unknown })?.data !== undefined && typeof w.on !== "function" ? (m as { data: unknown }).data : m;
          if (data === "ready") resolve();
          else reject(new Error((data as { error?: string })?.error ?? "the worker failed to start"));
        };
        const onError = (err: unknown) => reject(new Error((err as { message?: string })?.message ?? String(err)));
        if (typeof w.on === "function") { w.on("message", onMessage); w.on("error", onError); }
        else { w.addEventListener!("message", onMessage as never); w.addEventListener!("error", onError as never); }
      })));
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    // Idle workers must not keep a Node process alive.
    for (const w of workers) w.unref?.();
    return new Pool(threads, control, workers);
  }

  /**
   * Runs `jobs[t]` on thread t (0 = here; null = nothing for it) and blocks
   * until all are done. Results are in thread order. A worker's exception is
   * rethrown here, after every thread has stopped touching the memory.
   */
  run(jobs: (Float64Array | null)[]): (JobResult | null)[] {
    if (this.closed) throw new Error("the flow's threads were disposed");
    const I = this.I;
    for (let t = 1; t < this.size; t++) if (Atomics.load(I, (t * SLOT) / 4 + 1) === DEAD) throw this.lost(t, "since the last call");
    const gen = this.next();
    for (let t = 1; t < this.size; t++) {
      const job = jobs[t];
      if (!job) continue;
      this.A[t].set(job);
      Atomics.store(I, (t * SLOT) / 4 + 4, gen);
      Atomics.store(I, (t * SLOT) / 4, gen);
      Atomics.notify(I, (t * SLOT) / 4);
    }
    const out: (JobResult | null)[] = new Array(this.size).fill(null);
    let mainError: unknown = null;
    const here = (t: number) => {
      try {
        out[t] = runJob(this.exports0!, jobs[t]!);
      } catch (e) {
        mainError ??= e;
      }
    };
    if (jobs[0]) here(0);
    let workerError: string | null = null;
    let gone = 0; // a thread whose worker died holding its job
    for (let t = 1; t < this.size; t++) {
      if (!jobs[t]) continue;
      // Not picked up yet: run it here (in thread t's buffers, so the result is the same).
      if (Atomics.compareExchange(I, (t * SLOT) / 4 + 4, gen, 0) === gen) {
        here(t);
        continue;
      }
      const at = (t * SLOT) / 4 + 1;
      let v = Atomics.load(I, at);
      if (v !== gen && v !== DEAD) v = spinUntilChanged(I, at, v, WAIT_SPIN_MS);
      // A worker that dies holding the job (an uncaught error, process.exit) writes DEAD here on its way out.
      while (v !== gen && v !== DEAD) { Atomics.wait(I, at, v); v = Atomics.load(I, at); }
      if (v === DEAD) {
        gone ||= t;
        continue;
      }
      if (I[(t * SLOT) / 4 + 2] !== 0) {
        workerError ??= `thread ${t}: ${String.fromCharCode(...this.M[t].subarray(0, I[(t * SLOT) / 4 + 3]))}`;
        continue;
      }
      const r = this.R[t];
      out[t] = { sum: r[0], failRow: r[1], failRows: r[2] };
    }
    // Only now, with every other thread done with the memory, may the pool stop.
    if (gone) throw this.lost(gone, "while running its share of this call");
    if (mainError) throw mainError;
    if (workerError) throw new Error(workerError);
    return out;
  }

  /** The next generation number: positive, below 2^30, never 0 (so that −gen marks a claim). */
  private next(): number {
    this.gen = this.gen >= 0x3fffffff ? 1 : this.gen + 1;
    return this.gen;
  }

  /** The calling thread's exports (set by the flow once it has them). */
  exports0: JobExports | null = null;

  /** Stops the workers. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    for (let t = 1; t < this.size; t++) {
      this.A[t][ARG.op] = OP.exit;
      const gen = this.next();
      Atomics.store(this.I, (t * SLOT) / 4 + 4, gen);
      Atomics.store(this.I, (t * SLOT) / 4, gen);
      Atomics.notify(this.I, (t * SLOT) / 4);
    }
    for (const w of this.workers) w.terminate();
  }
}

/** The control block's size for `threads` (exported for tests of the layout). */
export const controlBytes = (threads: number): number => threads * SLOT;
export { PAGE, MAX_PAGES };
