/**
 * @fileoverview The host side of a compiled flow: loads a module, plans its
 * memory, and offers logProb / sample / forward / inverse / training /
 * weight files on top of the module ABI (ARCHITECTURE.md). Knows a flow only
 * through its manifest and exports; imports no Node built-ins, so it runs in
 * browsers, Deno and Workers too.
 */
import type { Manifest } from "./manifest.ts";
import { MANIFEST_SECTION, checkModuleVersion } from "./manifest.ts";
import { checkManifestLayout } from "./manifest-check.ts";
import { FlowcInputError } from "./errors.ts";
import { DEFAULT_MAX_RESULT_BYTES, checkResultSize, memoryLimitError } from "./limits.ts";
import { initParams } from "./init.ts";
import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
import { ARG, ARG_COUNT, OP, Pool, chunkSeed, instantiateOn, memoryImport, threadsUnavailable, withSharedMemory, type JobResult } from "./pool.ts";
import { relaxedVariant } from "./relaxed.ts";

export type FloatArray = Float32Array | Float64Array;
export type Numbers = ArrayLike<number>;

interface Exports {
  memory: WebAssembly.Memory;
  heap_base(): number;
  seed(ws: number, s: number): void;
  forward(P: number, ws: number, x: number, z: number, ld: number, n: number, cx: number): void;
  inverse(P: number, ws: number, z: number, x: number, ld: number, n: number, cx: number): void;
  log_prob(P: number, ws: number, x: number, out: number, n: number, cx: number): void;
  sample(P: number, ws: number, x: number, lp: number, n: number, temp: number, cx: number): void;
  backward(P: number, G: number, ws: number, x: number, z: number, gz: number, gld: number, gx: number, n: number, cx: number): void;
  train_chunk(P: number, G: number, ws: number, x: number, n: number, scale: number, cx: number): number;
  layer_init(i: number, P: number, ws: number, x: number, n: number, cx: number): void;
  project(P: number): void;
  layer_fwd(i: number, P: number, ws: number, x: number, y: number, ld: number, n: number, cx: number): void;
  layer_inv(i: number, P: number, ws: number, y: number, x: number, ld: number, n: number, cx: number): void;
  layer_bwd(i: number, P: number, G: number, ws: number, x: number, y: number, gy: number, gx: number, gld: number, n: number, cx: number): void;
  layer_bwd_inv(i: number, P: number, G: number, ws: number, y: number, x: number, gx: number, gy: number, gld: number, n: number, cx: number): void;
  backward_inv(P: number, G: number, ws: number, z: number, x: number, gx: number, gld: number, gz: number, n: number, cx: number): void;
  adam(P: number, G: number, M: number, V: number, count: number, lr: number, b1: number, b2: number, eps: number, wd: number, t: number): void;
  grad_sqnorm(G: number, count: number): number;
  scale(G: number, count: number, s: number): void;
  first_nonfinite(p: number, count: number): number;
  zero_buf(p: number, count: number): void;
  /** dst += src (summing the threads' gradients). */
  add_buf(dst: number, src: number, count: number): void;
}

export interface LoadOptions {
  /** A safetensors weight file to load right away. */
  weights?: Uint8Array;
  /**
   * Threads for training and large batches, the calling thread included
   * (1 = the calling thread only). Where memory cannot be shared, the flow
   * runs on one thread and says why in `flow.notes`.
   */
  threads?: number;
}

/**
 * An unnormalised target density for reverse-KL training (see `targets.ts`
 * for built-in ones): log p̃ of n rows of x (n × dim), and, when `grad` is
 * given, ∇ₓ log p̃ written into it (n × dim).
 */
export interface LogDensity {
  name?: string;
  dim?: number;
  logDensity(x: Float64Array, n: number, grad: Float64Array | null): ArrayLike<number>;
}

export interface TrainerOptions {
  lr?: number;
  batchSize?: number;
  weightDecay?: number;
  /** Clip the global gradient norm to this value (0 = off). */
  clipNorm?: number;
  /** Linear learning-rate warm-up over this many steps. */
  warmup?: number;
  betas?: [number, number];
  eps?: number;
}

/** Thrown when training meets a non-finite loss or gradient; names where it started. */
export class NonFiniteError extends Error {
  constructor(message: string, readonly step: number, readonly layer: number | null, readonly kind: string | null) {
    super(message);
    this.name = "NonFiniteError";
  }
}

const PAGE = 65536;
/** The most activation memory the data-dependent init holds at once (it uses every row given up to this). */
const INIT_BYTES = 64 << 20;
const align = (n: number, a = 64) => Math.ceil(n / a) * a;

/** Read and validate the manifest section of a compiled module. */
export function readManifest(module: WebAssembly.Module): Manifest {
  const sections = WebAssembly.Module.customSections(module, MANIFEST_SECTION);
  if (sections.length !== 1) throw new FlowcInputError("FLOW650", `this .wasm has ${sections.length === 0 ? "no" : "more than one"} '${MANIFEST_SECTION}' section: it was not built by flowc`);
  let m: Manifest;
  try {
    m = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(sections[0]));
  } catch (e) {
    throw new FlowcInputError("FLOW651", `the module's manifest is not valid JSON: ${(e as Error).message}`);
  }
  const bad = (what: string) => new FlowcInputError("FLOW651", `the module's manifest is corrupt: ${what}`);
  if (!m || typeof m !== "object" || m.format !== "flowc-module") throw bad("missing format tag");
  checkModuleVersion(m); // FLOW655 before any field check: another version may lay fields out differently
  for (const k of ["eventSize", "latentSize", "chunk", "workspaceBytes", "paramCount", "trainableCount", "contextSize"] as const) {
    if (!Number.isInteger(m[k]) || (m[k] as number) < 0) throw bad(`field '${k}' is not a non-negative integer`);
  }
  if (m.precision !== "f32" && m.precision !== "f64") throw bad("field 'precision'");
  if (!Array.isArray(m.params) || !Array.isArray(m.layers) || !Array.isArray(m.inputShape)) throw bad("params/layers/inputShape");
  for (const p of m.params) {
    if (typeof p.name !== "string" || !Number.isInteger(p.offset) || !Number.isInteger(p.size) || p.offset < 0 || p.offset + p.size > m.paramCount) throw bad(`parameter entry ${JSON.stringify(p.name)}`);
  }
  checkManifestLayout(m);
  return m;
}

async function toModule(wasm: Uint8Array | ArrayBuffer | WebAssembly.Module): Promise<WebAssembly.Module> {
  if (wasm instanceof WebAssembly.Module) return wasm;
  try {
    return await WebAssembly.compile(wasm as BufferSource);
  } catch (e) {
    throw new FlowcInputError("FLOW652", `not a valid WebAssembly module: ${(e as Error).message}`);
  }
}

/** Load a compiled flow. Accepts bytes or a precompiled WebAssembly.Module (Workers forbid compiling bytes). */
export async function loadFlow(wasm: Uint8Array | ArrayBuffer | WebAssembly.Module, opts: LoadOptions = {}): Promise<Flow> {
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new FlowcInputError("FLOW665", `the threads option must be a positive integer, got ${threads}`);
  const given = wasm instanceof WebAssembly.Module ? null : wasm instanceof Uint8Array ? wasm : new Uint8Array(wasm);
  // A module built with relaxedSimd carries a second build: take it where the runtime has relaxed SIMD.
  const bytes = given && (relaxedVariant(given) ?? given);
  // Threads need the memory import declared shared: the same bytes with one flag flipped.
  let why = threads > 1 ? threadsUnavailable() : null;
  const sharedBytes = threads > 1 && !why && bytes ? withSharedMemory(bytes) : null;
  if (threads > 1 && !why && bytes && !sharedBytes) why = "this module has no memory import that can be shared (it was compiled by an older flowc; recompile it)";
  const module = await toModule(sharedBytes ?? bytes ?? wasm);
  const manifest = readManifest(module);
  const initialPages = bytes ? memoryImport(bytes)?.initial : undefined;
  let inst;
  try {
    inst = await instantiateOn(module, { shared: threads > 1 && !why, initialPages });
  } catch (e) {
    // A precompiled Module whose memory import is not shared cannot run on shared memory.
    if (!(e instanceof WebAssembly.LinkError) || bytes || threads === 1 || why) throw e;
    why = "a precompiled WebAssembly.Module with an unshared memory import cannot be shared; pass the .wasm bytes instead";
    inst = await instantiateOn(module, { shared: false });
  }
  if (threads > 1 && !why && !inst.shared) why = "this module defines its own memory (it was compiled by an older flowc; recompile it)";
  const flow = new Flow(manifest, inst.instance.exports as unknown as Exports, module, why ? 1 : threads);
  if (flow.threads > 1) {
    try {
      flow.attachPool(await Pool.start(module, inst.memory, flow.threads));
    } catch (e) {
      why = `the worker threads could not start (${(e as Error).message})`;
      flow.attachPool(null);
    }
  }
  if (why) flow.notes.push(`running on 1 thread instead of ${threads}: ${why}`);
  if (opts.weights) flow.loadWeights(opts.weights);
  else {
    // A bundled module (`flowc bundle`) carries its trained weights in a custom section.
    const baked = WebAssembly.Module.customSections(module, WEIGHTS_SECTION);
    if (baked.length === 1) flow.loadWeights(new Uint8Array(baked[0]));
  }
  return flow;
}

/** Custom section holding a bundled module's weights (a safetensors file). */
export const WEIGHTS_SECTION = "flowc.weights";

/** "layer 0 (`planar`)", "layers 0, 1, 2 (`planar`, …)": the layers named in a refusal. */
function layerList(layers: readonly { index: number; text: string }[]): string {
  const shown = layers.slice(0, 3).map((l) => `${l.index} (\`${l.text}\`)`).join(", ");
  return `${layers.length === 1 ? "layer" : "layers"} ${shown}${layers.length > 3 ? ` and ${layers.length - 3} more` : ""}`;
}

/**
 * Refuse, with the layers to blame, an operation that needs the data → latent
 * direction when a layer has none (planar and radial are defined latent → data)
 * or, for likelihood training, no closed form — rather than letting the
 * module trap on the layer's `unreachable` kernel.
 */
function requireDirection(manifest: Manifest, what: "logProb" | "forward" | "likelihood training"): void {
  const training = what === "likelihood training";
  const bad = manifest.layers.filter((l) => (training ? l.direction.forward.kind !== "analytic" : l.direction.forward.kind === "none"));
  if (!bad.length) return;
  const why = bad.every((l) => l.direction.forward.kind === "none")
    ? `${layerList(bad)} ${bad.length === 1 ? "is" : "are"} defined latent → data and ${bad.length === 1 ? "has" : "have"} no data → latent direction`
    : `${layerList(bad)} ${bad.length === 1 ? "has" : "have"} no closed-form data → latent direction`;
  const instead = training ? "; train it by reverse KL against a target density instead (Trainer.stepReverseKL)" : "; sampleAndLogProb() gives the log-density of the flow's own samples";
  throw new FlowcInputError("FLOW665", `${what} is unavailable for this flow: ${why}${instead}`);
}

export class Flow {
  readonly eventShape: number[];
  readonly eventSize: number;
  readonly latentSize: number;
  readonly contextSize: number;
  readonly precision: "f32" | "f64";
  readonly chunk: number;
  /** Byte addresses of the host-owned regions. */
  readonly mem: { P: number; G: number; M: number; V: number; ws: number; X: number; Z: number; LD: number; OUT: number; CX: number; GZ: number; GX: number; end: number };
  private initialized = false;
  /** Threads that run training and large batches (the calling thread included). */
  threads: number;
  /** Why the flow runs differently from what was asked (e.g. on one thread where memory cannot be shared). */
  readonly notes: string[] = [];
  /** Per-thread workspace and gradient (thread 0 uses mem.ws and mem.G), and the staging area of a round. */
  private threadMem: { ws: number; G: number }[] = [];
  private staging: { rows: number; IN: number; OUT: number; V1: number; CX: number } | null = null;
  private pool: Pool | null = null;

  constructor(readonly manifest: Manifest, readonly exports: Exports, readonly module: WebAssembly.Module, threads = 1) {
    this.threads = threads;
    this.eventShape = manifest.inputShape.slice();
    this.eventSize = manifest.eventSize;
    this.latentSize = manifest.latentSize;
    this.contextSize = manifest.contextSize;
    this.precision = manifest.precision;
    this.chunk = manifest.chunk;
    const sz = this.sz;
    let at = align(exports.heap_base());
    const take = (bytes: number) => { const p = at; at = align(at + bytes); return p; };
    const C = this.chunk;
    this.mem = {
      P: take(manifest.paramCount * sz),
      G: take(manifest.paramCount * sz),
      M: take(manifest.paramCount * sz),
      V: take(manifest.paramCount * sz),
      ws: take(manifest.workspaceBytes),
      X: take(C * this.eventSize * sz),
      Z: take(C * this.latentSize * sz),
      LD: take(C * sz),
      OUT: take(C * sz),
      CX: take(C * Math.max(1, this.contextSize) * sz),
      GZ: take(C * this.latentSize * sz),
      GX: take(C * this.eventSize * sz),
      end: 0,
    };
    if (threads > 1) {
      this.threadMem.push({ ws: this.mem.ws, G: this.mem.G });
      for (let t = 1; t < threads; t++) this.threadMem.push({ ws: take(manifest.workspaceBytes), G: take(manifest.paramCount * sz) });
      // A round stages up to `rows` rows (whole chunks for every thread), at most ~8 MiB of them.
      const W = Math.max(this.eventSize, this.latentSize), k = this.contextSize;
      const rowBytes = (2 * W + 1 + k) * sz, unit = threads * C;
      const rows = unit * Math.max(1, Math.min(64, Math.floor((8 << 20) / (rowBytes * unit))));
      this.staging = { rows, IN: take(rows * W * sz), OUT: take(rows * W * sz), V1: take(rows * sz), CX: take(rows * Math.max(1, k) * sz) };
    }
    this.mem.end = at;
    this.ensureMemory(at);
    this.exports.seed(this.mem.ws, 0);
    // Other threads' streams (dequantize noise in logProb) start from seeds of their own; training reseeds them every step.
    for (let t = 1; t < this.threadMem.length; t++) this.exports.seed(this.threadMem[t].ws, t);
  }

  get sz(): number {
    return this.precision === "f32" ? 4 : 8;
  }

  /** A typed view of `count` F at byte address `ptr` (recreated each time: memory may have grown). */
  view(ptr: number, count: number): FloatArray {
    const buf = this.exports.memory.buffer;
    return this.precision === "f32" ? new Float32Array(buf, ptr, count) : new Float64Array(buf, ptr, count);
  }

  /** The largest array (bytes) a call may return; sample(1e10) is refused up front (FLOW665) rather than
   *  exhausting the JavaScript heap. Raise it for bigger single results. */
  maxResultBytes = DEFAULT_MAX_RESULT_BYTES;

  private newArray(count: number): FloatArray {
    checkResultSize(count, this.sz, this.eventSize, this.maxResultBytes);
    return this.precision === "f32" ? new Float32Array(count) : new Float64Array(count);
  }

  /** The flat parameter buffer (a copy). */
  getParams(): FloatArray {
    return this.view(this.mem.P, this.manifest.paramCount).slice();
  }

  setParams(values: Numbers): void {
    if (values.length !== this.manifest.paramCount) throw new FlowcInputError("FLOW660", `expected ${this.manifest.paramCount} parameters, got ${values.length}`);
    this.view(this.mem.P, this.manifest.paramCount).set(values as ArrayLike<number>);
    this.exports.project(this.mem.P);
    this.initialized = true;
  }

  /** Check a batch: its length, and that every value is finite. Returns the row count. */
  private rows(x: Numbers, width: number, what: string): number {
    if (width === 0) return 0;
    if (x.length % width !== 0) {
      throw new FlowcInputError("FLOW661", `${what} has ${x.length} values, which is not a whole number of rows of ${width} (event shape [${what === "context" ? this.contextSize : this.eventShape.join(", ")}])`);
    }
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (!Number.isFinite(v)) {
        throw new FlowcInputError("FLOW662", `${what} row ${Math.floor(i / width)}, column ${i % width} is ${v}; values must be finite`, { row: Math.floor(i / width), column: i % width });
      }
    }
    const dom = this.manifest.inputDomain;
    if (dom && what !== "latent" && what !== "context") {
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        const ok = (dom.loClosed ? v >= dom.lo : v > dom.lo) && (dom.hiClosed ? v <= dom.hi : v < dom.hi) && (!dom.integer || Number.isInteger(v));
        if (!ok) {
          throw new FlowcInputError("FLOW662", `${what} row ${Math.floor(i / width)}, feature ${i % width} is ${v}, outside ${dom.describe} required by \`${dom.layer}\``, { row: Math.floor(i / width), column: i % width, index: i });
        }
      }
    }
    return x.length / width;
  }

  private contextRows(context: Numbers | undefined, n: number): void {
    if (this.contextSize === 0) {
      if (context && context.length) throw new FlowcInputError("FLOW663", "this flow takes no context, but a context was given");
      return;
    }
    if (!context) throw new FlowcInputError("FLOW663", `this flow needs a context of ${this.contextSize} values per row`);
    const rows = this.rows(context, this.contextSize, "context");
    if (rows !== n && rows !== 1) throw new FlowcInputError("FLOW663", `the context has ${rows} rows but the batch has ${n}; give one row per sample or a single row for all`);
  }

  private loadContext(context: Numbers | undefined, start: number, m: number): number {
    return this.putContext(this.mem.CX, context, start, m);
  }

  /**
   * Writes rows [start, start + m) of a context at `at` (a single row given for
   * all is repeated); returns `at`, or 0 for a flow without context or no context.
   */
  private putContext(at: number, context: Numbers | undefined, start: number, m: number): number {
    if (this.contextSize === 0 || !context) return 0;
    const k = this.contextSize;
    if (context.length === k) {
      const cx = this.view(at, m * k);
      for (let r = 0; r < m; r++) for (let j = 0; j < k; j++) cx[r * k + j] = context[j];
    } else this.copyIn(at, context, start * k, m * k);
    return at;
  }

  /** @internal */
  copyIn(ptr: number, src: Numbers, start: number, count: number): void {
    const v = this.view(ptr, count);
    if (ArrayBuffer.isView(src) && (src as FloatArray).subarray) v.set((src as FloatArray).subarray(start, start + count));
    else for (let i = 0; i < count; i++) v[i] = src[start + i];
  }

  private requireInit(): void {
    if (!this.initialized) throw new FlowcInputError("FLOW664", "the flow has no parameters yet: call initialize() or loadWeights() first");
  }

  /**
   * Random init (seeded) of every parameter, then, if `data` is given, the
   * data-dependent init (actnorm, as in Glow) from its rows: all of them up to
   * `INIT_BYTES` of activations, not just one chunk.
   */
  initialize(opts: { seed?: number; data?: Numbers; context?: Numbers } = {}): void {
    const P = this.view(this.mem.P, this.manifest.paramCount);
    P.fill(0);
    initParams(this.manifest.params, P, opts.seed ?? 0);
    this.exports.project(this.mem.P);
    this.initialized = true;
    // Skip when no layer needs data (and for flows defined in the generative direction, which have no forward).
    if (opts.data && this.manifest.layers.some((l) => l.dataInit)) {
      const n = this.rows(opts.data, this.eventSize, "data");
      this.contextRows(opts.context, n);
      if (n > 0) this.dataInit(opts.data, opts.context, n);
    }
  }

  /**
   * Layer by layer, every row's input to layer i is held at once (two buffers
   * of rows × the widest layer, past the host's regions), so that layer i's
   * init sees the statistics of all rows; then layer i runs forward chunk by
   * chunk into the other buffer. The layer after the last initialised one is
   * never run.
   */
  private dataInit(data: Numbers, context: Numbers | undefined, n: number): void {
    const layers = this.manifest.layers, sz = this.sz, k = this.contextSize, C = this.chunk;
    const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
    const W = Math.max(this.eventSize, ...layers.map((l) => Math.max(size(l.inShape), size(l.outShape))));
    const m = Math.min(n, Math.max(C, Math.floor(INIT_BYTES / ((2 * W + k) * sz))));
    let A = align(this.mem.end), B = align(A + m * W * sz);
    const CX = align(B + m * W * sz);
    this.ensureMemory(CX + m * Math.max(1, k) * sz);
    this.copyIn(A, data, 0, m * this.eventSize);
    const cx = this.putContext(CX, context, 0, m);
    let last = -1;
    layers.forEach((l, i) => { if (l.dataInit) last = i; });
    for (let i = 0; i <= last; i++) {
      const l = layers[i];
      if (l.dataInit) this.exports.layer_init(l.index, this.mem.P, this.mem.ws, A, m, cx);
      if (i === last) break;
      const din = size(l.inShape), dout = size(l.outShape);
      for (let s = 0; s < m; s += C) {
        const r = Math.min(C, m - s);
        this.exports.zero_buf(this.mem.LD, r);
        this.exports.layer_fwd(l.index, this.mem.P, this.mem.ws, A + s * din * sz, B + s * dout * sz, this.mem.LD, r, cx ? cx + s * k * sz : 0);
      }
      [A, B] = [B, A];
    }
    this.checkParamsFinite("data-dependent init");
  }

  /** Grow the memory to hold `bytes`, or say what limits it (FLOW653). */
  private ensureMemory(bytes: number): void {
    const have = this.exports.memory.buffer.byteLength;
    if (bytes <= have) return;
    try {
      this.exports.memory.grow(Math.ceil((bytes - have) / PAGE));
    } catch {
      throw memoryLimitError(bytes, have, this.chunk);
    }
  }

  private checkParamsFinite(when: string): void {
    const bad = this.exports.first_nonfinite(this.mem.P, this.manifest.paramCount);
    if (bad >= 0) {
      const p = this.manifest.params.find((q) => bad >= q.offset && bad < q.offset + q.size);
      throw new NonFiniteError(`after ${when}, parameter ${p ? p.name : "#" + bad} is not finite`, 0, p?.layer ?? null, p ? (this.manifest.layers[p.layer]?.kind ?? "base") : null);
    }
  }

  /** Run a chunked kernel over all rows of x. */
  /** @internal Validates x and the context, then runs `each` per chunk. */
  chunked(x: Numbers, context: Numbers | undefined, width: number, what: string, each: (start: number, m: number, cx: number) => void): number {
    this.requireInit();
    const n = this.rows(x, width, what);
    this.contextRows(context, n);
    for (let s = 0; s < n; s += this.chunk) {
      const m = Math.min(this.chunk, n - s);
      each(s, m, this.loadContext(context, s, m));
    }
    return n;
  }

  // ------------------------------------------------------------ threads

  /** @internal Called by loadFlow with the started pool, or with null when the workers could not start. */
  attachPool(pool: Pool | null): void {
    this.pool = pool;
    if (pool) {
      pool.exports0 = this.exports;
      // A worker gone (pool.ts): the pool has stopped the others; go on on this thread.
      pool.onLost = () => {
        if (this.pool !== pool) return;
        this.pool = null;
        this.threads = 1;
      };
    } else this.threads = 1;
  }

  /** Stops the worker threads; the flow goes on working on the calling thread. Idle workers never keep a Node process alive, so this is only needed to free them early. */
  dispose(): void {
    this.pool?.dispose();
    this.pool = null;
    this.threads = 1;
  }

  /** Whether a batch of n rows is split across the pool: only batches of more than one chunk are. */
  private pooled(n: number): boolean {
    return this.pool !== null && n > this.chunk;
  }

  /** @internal The arguments of one thread's job (see pool.ts). */
  jobArgs(op: number, t: number, r0: number, r1: number, cs: number, f: { inB: number; inRB: number; outB?: number; outRB?: number; v1B?: number; cxB: number; scalar?: number; seed?: number; zero?: number; chunk0?: number }): Float64Array {
    const a = new Float64Array(ARG_COUNT), sz = this.sz;
    a[ARG.op] = op; a[ARG.r0] = r0; a[ARG.r1] = r1; a[ARG.cs] = cs;
    a[ARG.P] = this.mem.P; a[ARG.G] = this.threadMem[t].G; a[ARG.ws] = this.threadMem[t].ws;
    a[ARG.inB] = f.inB; a[ARG.inRB] = f.inRB; a[ARG.outB] = f.outB ?? 0; a[ARG.outRB] = f.outRB ?? 0;
    a[ARG.v1B] = f.v1B ?? 0; a[ARG.v1RB] = sz; a[ARG.cxB] = f.cxB; a[ARG.cxRB] = this.contextSize * sz;
    a[ARG.scalar] = f.scalar ?? 0; a[ARG.seed] = f.seed ?? -1; a[ARG.zero] = f.zero ?? 0; a[ARG.chunk0] = f.chunk0 ?? 0;
    return a;
  }

  /** @internal Stages rows [start, start + m) of a context into the staging area; its address, or 0 without context. */
  stageContext(context: Numbers | undefined, start: number, m: number): number {
    return this.putContext(this.staging!.CX, context, start, m);
  }

  /** @internal The staging area (rows per round and addresses), for the trainer. */
  get stage(): { rows: number; IN: number; OUT: number; V1: number; CX: number } {
    return this.staging!;
  }

  /** @internal The pool, for the trainer. */
  get workers(): Pool | null {
    return this.pool;
  }

  /** @internal Thread t's workspace and gradient. */
  threadBuffers(t: number): { ws: number; G: number } {
    return this.threadMem[t];
  }

  /**
   * Runs `op` over n rows on the pool in rounds of whole chunks: thread t
   * takes a contiguous run of chunks, so every chunk holds the rows it would
   * hold on one thread, and results do not depend on the thread count.
   * After each round, `take(start, m, out, v1)` copies the results out.
   */
  private onPool(op: number, n: number, input: Numbers | null, inW: number, outW: number, v1: boolean, context: Numbers | undefined, scalar: number, seed: number, take: (start: number, m: number, out: FloatArray, v1: FloatArray) => void): void {
    const S = this.staging!, C = this.chunk, T = this.threads, sz = this.sz;
    for (let s0 = 0; s0 < n; s0 += S.rows) {
      const m = Math.min(S.rows, n - s0);
      if (input) this.copyIn(S.IN, input, s0 * inW, m * inW);
      const cxB = this.stageContext(context, s0, m);
      const chunks = Math.ceil(m / C), per = Math.floor(chunks / T), rest = chunks % T;
      const jobs: (Float64Array | null)[] = [];
      for (let t = 0, c = 0; t < T; t++) {
        const count = per + (t < rest ? 1 : 0);
        const r0 = c * C, r1 = Math.min(m, (c + count) * C);
        jobs.push(r0 < r1 ? this.jobArgs(op, t, r0, r1, C, { inB: S.IN, inRB: inW * sz, outB: S.OUT, outRB: outW * sz, v1B: v1 ? S.V1 : 0, cxB, scalar, seed, chunk0: s0 / C + c }) : null);
        c += count;
      }
      this.pool!.run(jobs);
      take(s0, m, this.view(S.OUT, m * outW), this.view(S.V1, m));
    }
  }

  /** @internal Validates a batch like `chunked` does; returns its row count. */
  checkBatch(x: Numbers, context: Numbers | undefined, width: number, what: string): number {
    this.requireInit();
    const n = this.rows(x, width, what);
    this.contextRows(context, n);
    return n;
  }

  private logProbOnPool(x: Numbers, context: Numbers | undefined): FloatArray {
    const n = this.checkBatch(x, context, this.eventSize, "data");
    const out = this.newArray(n);
    this.onPool(OP.logProb, n, x, this.eventSize, 1, false, context, 0, -1, (s, m, o) => out.set(o, s));
    return out;
  }

  private forwardOnPool(x: Numbers, context: Numbers | undefined): { z: FloatArray; logDet: FloatArray } {
    const n = this.checkBatch(x, context, this.eventSize, "data");
    const z = this.newArray(n * this.latentSize), logDet = this.newArray(n);
    this.onPool(OP.forward, n, x, this.eventSize, this.latentSize, true, context, 0, -1, (s, m, o, ld) => { z.set(o, s * this.latentSize); logDet.set(ld, s); });
    return { z, logDet };
  }

  private inverseOnPool(z: Numbers, context: Numbers | undefined): { x: FloatArray; logDet: FloatArray } {
    const n = this.checkBatch(z, context, this.latentSize, "latent");
    const x = this.newArray(n * this.eventSize), logDet = this.newArray(n);
    this.onPool(OP.inverse, n, z, this.latentSize, this.eventSize, true, context, 0, -1, (s, m, o, ld) => { x.set(o, s * this.eventSize); logDet.set(ld, s); });
    return { x, logDet };
  }

  private sampleOnPool(n: number, seed: number, temp: number, context: Numbers | undefined, x: FloatArray, lp: FloatArray | null): { x: FloatArray; logProb: FloatArray } {
    this.onPool(OP.sample, n, null, 0, this.eventSize, lp !== null, context, temp, seed >>> 0, (s, m, o, l) => { x.set(o, s * this.eventSize); if (lp) lp.set(l, s); });
    return { x, logProb: lp ?? this.newArray(0) };
  }

  /** log p(x) for each row of x (n × eventSize). */
  logProb(x: Numbers, context?: Numbers): FloatArray {
    requireDirection(this.manifest, "logProb");
    if (this.pooled(x.length / this.eventSize)) return this.finiteOrExplain(this.logProbOnPool(x, context), x, context);
    const out = this.newArray(x.length / this.eventSize | 0);
    this.chunked(x, context, this.eventSize, "data", (s, m, cx) => {
      this.copyIn(this.mem.X, x, s * this.eventSize, m * this.eventSize);
      this.exports.log_prob(this.mem.P, this.mem.ws, this.mem.X, this.mem.OUT, m, cx);
      out.set(this.view(this.mem.OUT, m), s);
    });
    return this.finiteOrExplain(out, x, context);
  }

  /**
   * A log-density that is not finite for finite input (a row far outside what the flow handles in
   * this precision) is never returned silently: FLOW662 names the row, its largest value and the
   * first layer whose output went non-finite (the row is re-run alone on this thread to find it).
   */
  private finiteOrExplain(out: FloatArray, x: Numbers, context?: Numbers): FloatArray {
    const D = this.eventSize;
    for (let r = 0; r < out.length; r++) {
      if (Number.isFinite(out[r])) continue;
      let c = 0;
      for (let j = 1; j < D; j++) if (Math.abs(x[r * D + j]) > Math.abs(x[r * D + c])) c = j;
      this.copyIn(this.mem.X, x, r * D, D);
      const cx = this.loadContext(context, r, 1);
      this.exports.log_prob(this.mem.P, this.mem.ws, this.mem.X, this.mem.OUT, 1, cx);
      const where = this.firstNonFiniteLayer(1, this.mem.ws, this.mem.X, cx);
      const cause = where
        ? `layer ${where.layer} (\`${this.manifest.layers[where.layer].text}\`) is the first whose output is not finite (feature ${where.index})`
        : "every layer's output is finite, so the sum of log-determinants or the base log-density overflowed";
      throw new FlowcInputError("FLOW662", `data row ${r}, column ${c} is ${x[r * D + c]}; log p is ${out[r]} there: ${cause}. ` +
        `The row lies too far outside the range this flow handles in ${this.precision}: scale the data, or train on a wider range`, { row: r, column: c, index: r * D + c });
    }
    return out;
  }

  /** z = forward(x) (data → latent) and the log-determinant per row. */
  forward(x: Numbers, context?: Numbers): { z: FloatArray; logDet: FloatArray } {
    requireDirection(this.manifest, "forward");
    if (this.pooled(x.length / this.eventSize)) return this.forwardOnPool(x, context);
    const n = x.length / this.eventSize | 0;
    const z = this.newArray(n * this.latentSize), logDet = this.newArray(n);
    this.chunked(x, context, this.eventSize, "data", (s, m, cx) => {
      this.copyIn(this.mem.X, x, s * this.eventSize, m * this.eventSize);
      this.exports.forward(this.mem.P, this.mem.ws, this.mem.X, this.mem.Z, this.mem.LD, m, cx);
      z.set(this.view(this.mem.Z, m * this.latentSize), s * this.latentSize);
      logDet.set(this.view(this.mem.LD, m), s);
    });
    return { z, logDet };
  }

  /** x = inverse(z) (latent → data) and log|det ∂x/∂z| per row. */
  inverse(z: Numbers, context?: Numbers): { x: FloatArray; logDet: FloatArray } {
    if (this.pooled(z.length / this.latentSize)) return this.inverseOnPool(z, context);
    const n = z.length / this.latentSize | 0;
    const x = this.newArray(n * this.eventSize), logDet = this.newArray(n);
    this.chunked(z, context, this.latentSize, "latent", (s, m, cx) => {
      this.copyIn(this.mem.Z, z, s * this.latentSize, m * this.latentSize);
      this.exports.inverse(this.mem.P, this.mem.ws, this.mem.Z, this.mem.X, this.mem.LD, m, cx);
      x.set(this.view(this.mem.X, m * this.eventSize), s * this.eventSize);
      logDet.set(this.view(this.mem.LD, m), s);
    });
    return { x, logDet };
  }

  /** Draw n samples; `temperature` scales the base's standard deviation (Glow). */
  sample(n: number, opts: { seed?: number; temperature?: number; context?: Numbers } = {}): FloatArray {
    return this.sampleImpl(n, opts, false).x;
  }

  /** Draw n samples with their log-density under the flow. */
  sampleAndLogProb(n: number, opts: { seed?: number; temperature?: number; context?: Numbers } = {}): { x: FloatArray; logProb: FloatArray } {
    return this.sampleImpl(n, opts, true);
  }

  private sampleImpl(n: number, opts: { seed?: number; temperature?: number; context?: Numbers }, withLp: boolean): { x: FloatArray; logProb: FloatArray } {
    this.requireInit();
    if (!Number.isInteger(n) || n < 0) throw new FlowcInputError("FLOW665", `the sample count must be a non-negative integer, got ${n}`);
    const temp = opts.temperature ?? 1;
    if (!Number.isFinite(temp) || temp < 0) throw new FlowcInputError("FLOW665", `temperature must be a finite number ≥ 0, got ${temp}`);
    this.contextRows(opts.context, n);
    const x = this.newArray(n * this.eventSize), lp = this.newArray(withLp ? n : 0);
    if (this.pooled(n)) return this.sampleOnPool(n, opts.seed ?? 0, temp, opts.context, x, withLp ? lp : null);
    for (let s = 0; s < n; s += this.chunk) {
      const m = Math.min(this.chunk, n - s);
      const cx = this.loadContext(opts.context, s, m);
      // Each chunk draws from its own seed, so samples do not depend on how chunks are spread over threads.
      this.exports.seed(this.mem.ws, chunkSeed(opts.seed ?? 0, s / this.chunk));
      this.exports.sample(this.mem.P, this.mem.ws, this.mem.X, withLp ? this.mem.OUT : 0, m, temp, cx);
      x.set(this.view(this.mem.X, m * this.eventSize), s * this.eventSize);
      if (withLp) lp.set(this.view(this.mem.OUT, m), s);
    }
    return { x, logProb: lp };
  }

  /** A trainer for maximum likelihood with Adam. */
  trainer(opts: TrainerOptions = {}): Trainer {
    return new Trainer(this, opts);
  }

  /**
   * The index and kind of the first layer whose output (in the last chunk run) has a non-finite value.
   * A `--recompute` module keeps only two activation buffers, so there the chunk's input `x` (and its
   * context `cx`) is run again layer by layer through `layer_fwd`, checking each output as it comes.
   */
  firstNonFiniteLayer(m: number, ws: number = this.mem.ws, x?: number, cx = 0): { layer: number; kind: string; index: number } | null {
    const layers = this.manifest.layers;
    const recompute = this.manifest.recompute === true;
    if (recompute && x === undefined) return null;
    if (recompute) this.exports.zero_buf(this.mem.LD, m);
    let input = x ?? 0;
    for (const l of layers) {
      const size = l.outShape.reduce((a, b) => a * b, 1);
      if (recompute) {
        this.exports.layer_fwd(l.index, this.mem.P, ws, input, ws + l.act, this.mem.LD, m, cx);
        input = ws + l.act;
      }
      const bad = this.exports.first_nonfinite(ws + l.act, m * size);
      if (bad >= 0) return { layer: l.index, kind: l.kind, index: bad };
    }
    return null;
  }

  // ------------------------------------------------------------ weights

  /** The weights as a safetensors file (names `layers.<i>.<param>`, PyTorch layouts). */
  saveWeights(extra: { tensors?: { name: string; data: FloatArray; shape: number[] }[]; metadata?: Record<string, string> } = {}): Uint8Array {
    this.requireInit();
    const P = this.view(this.mem.P, this.manifest.paramCount);
    const dtype = this.precision === "f32" ? "F32" : "F64";
    const tensors: { name: string; dtype: string; shape: number[]; data: FloatArray }[] = this.manifest.params.map((p) => ({ name: p.name, dtype, shape: p.shape, data: P.slice(p.offset, p.offset + p.size) }));
    for (const t of extra.tensors ?? []) tensors.push({ name: t.name, dtype: t.data instanceof Float32Array ? "F32" : "F64", shape: t.shape, data: t.data });
    return encodeSafetensors(tensors as never, {
      format: "flowc-weights",
      flowc: this.manifest.compiler,
      spec_hash: this.manifest.hash,
      spec: this.manifest.source,
      ...(extra.metadata ?? {}),
    });
  }

  /** Load weights saved by saveWeights (or written by PyTorch with the same names and layouts). */
  loadWeights(bytes: Uint8Array): { metadata: Record<string, string>; extra: Map<string, { shape: number[]; data: ArrayLike<number> }> } {
    const file = decodeSafetensors(bytes);
    const meta = file.metadata ?? {};
    if (meta.spec_hash !== undefined && meta.spec_hash !== this.manifest.hash) {
      throw new FlowcInputError("FLOW670", `these weights belong to another spec (hash ${meta.spec_hash.slice(0, 12)}…), not to this flow (hash ${this.manifest.hash.slice(0, 12)}…)`);
    }
    const next = this.newArray(this.manifest.paramCount);
    for (const p of this.manifest.params) {
      const t = file.tensors.get(p.name);
      if (!t) throw new FlowcInputError("FLOW671", `the weight file has no tensor '${p.name}'`, { tensor: p.name });
      if (t.shape.length !== p.shape.length || t.shape.some((d: number, i: number) => d !== p.shape[i])) {
        throw new FlowcInputError("FLOW672", `tensor '${p.name}' has shape [${t.shape.join(", ")}], expected [${p.shape.join(", ")}]`, { tensor: p.name });
      }
      const data = t.data as ArrayLike<number>;
      for (let i = 0; i < p.size; i++) {
        const v = Number(data[i]);
        if (!Number.isFinite(v)) throw new FlowcInputError("FLOW673", `tensor '${p.name}' holds a non-finite value at index ${i}`, { tensor: p.name, index: i });
        next[p.offset + i] = v;
      }
    }
    this.view(this.mem.P, this.manifest.paramCount).set(next);
    this.exports.project(this.mem.P);
    this.initialized = true;
    const known = new Set(this.manifest.params.map((p) => p.name));
    const extra = new Map<string, { shape: number[]; data: ArrayLike<number> }>();
    for (const [name, t] of file.tensors) if (!known.has(name)) extra.set(name, { shape: t.shape, data: t.data as ArrayLike<number> });
    return { metadata: meta, extra };
  }
}

/** Seed of thread t's RNG for one step, from thread 0's 128-bit RNG state. */
function threadSeed(state: Uint32Array, t: number): number {
  let h = Math.imul(t, 0x9e3779b9) >>> 0;
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ state[i], 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** The first row r < m where `perRow[r]` or one of the `width` values of `rows` is not finite, or −1. */
function firstBadRow(rows: ArrayLike<number>, perRow: ArrayLike<number>, m: number, width: number): number {
  for (let r = 0; r < m; r++) {
    if (!Number.isFinite(perRow[r])) return r;
    for (let j = r * width; j < (r + 1) * width; j++) if (!Number.isFinite(rows[j])) return r;
  }
  return -1;
}

export class Trainer {
  readonly lr: number;
  readonly batchSize: number;
  readonly weightDecay: number;
  readonly clipNorm: number;
  readonly warmup: number;
  readonly betas: [number, number];
  readonly eps: number;
  /** Adam steps taken. */
  stepCount = 0;
  /** Global gradient norm of the last step (before clipping). */
  lastGradNorm = 0;

  constructor(readonly flow: Flow, opts: TrainerOptions) {
    this.lr = opts.lr ?? 1e-3;
    this.batchSize = opts.batchSize ?? 256;
    this.weightDecay = opts.weightDecay ?? 0;
    this.clipNorm = opts.clipNorm ?? 0;
    this.warmup = opts.warmup ?? 0;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    for (const [k, v] of Object.entries({ lr: this.lr, batchSize: this.batchSize, weightDecay: this.weightDecay, clipNorm: this.clipNorm, warmup: this.warmup })) {
      if (!Number.isFinite(v) || v < 0 || (k === "batchSize" && (!Number.isInteger(v) || v < 1))) throw new FlowcInputError("FLOW666", `trainer option ${k} must be ${k === "batchSize" ? "a positive integer" : "a finite number ≥ 0"}, got ${v}`);
    }
    const { M, V } = flow.mem;
    flow.exports.zero_buf(M, flow.manifest.paramCount);
    flow.exports.zero_buf(V, flow.manifest.paramCount);
  }

  /** One Adam step on a batch; returns its mean negative log-likelihood (nats). */
  step(batch: Numbers, context?: Numbers): number {
    const f = this.flow, e = f.exports, mem = f.mem, man = f.manifest;
    requireDirection(man, "likelihood training");
    if (f.workers && batch.length / f.eventSize >= f.threads) return this.stepOnPool(batch, context);
    const D = f.eventSize;
    let n = 0;
    e.zero_buf(mem.G, man.paramCount);
    let nll = 0;
    const rows = batch.length / D;
    const step = this.stepCount + 1;
    f.chunked(batch, context, D, "batch", (s, m, cx) => {
      f.copyIn(mem.X, batch, s * D, m * D);
      const part = e.train_chunk(mem.P, mem.G, mem.ws, mem.X, m, 1 / rows, cx);
      if (!Number.isFinite(part)) {
        const where = f.firstNonFiniteLayer(m, mem.ws, mem.X, cx);
        throw new NonFiniteError(
          `step ${step}: the loss is not finite` + (where ? `; the first non-finite value is in the output of layer ${where.layer} (${where.kind}), row ${Math.floor(where.index / Math.max(1, man.layers[where.layer].outShape.reduce((a, b) => a * b, 1))) + s}` : "; every layer's output is finite, so the base distribution's log-density overflowed") +
            " (a learning rate too high is the usual cause; try a lower --lr or --clip-norm)",
          step, where?.layer ?? null, where?.kind ?? null);
      }
      nll += part;
      n += m;
    });
    this.update(step);
    return nll / n;
  }

  /**
   * One Adam step with the batch split over the flow's threads: thread t
   * computes the gradient of rows [t·n/T, (t+1)·n/T) into its own buffer, in
   * chunk order; the buffers are summed in thread order, so a step is
   * deterministic for a given thread count and differs from one thread only
   * by the rounding of that sum.
   */
  private stepOnPool(batch: Numbers, context: Numbers | undefined): number {
    const f = this.flow, e = f.exports, mem = f.mem, man = f.manifest, pool = f.workers!;
    const D = f.eventSize, T = f.threads, S = f.stage, sz = f.sz;
    const n = f.checkBatch(batch, context, D, "batch");
    const step = this.stepCount + 1;
    // Threads 1… seed their noise (dequantize) from thread 0's RNG state, which carries on from step
    // to step and is what a checkpoint stores: a run is reproducible and resumable for a given T.
    const state = new Uint32Array(e.memory.buffer, mem.ws, 4);
    let nll = 0;
    for (let s0 = 0; s0 < n; s0 += S.rows) {
      const m = Math.min(S.rows, n - s0);
      f.copyIn(S.IN, batch, s0 * D, m * D);
      const cxB = f.stageContext(context, s0, m);
      const jobs: (Float64Array | null)[] = [];
      for (let t = 0; t < T; t++) {
        const r0 = Math.floor((t * m) / T), r1 = Math.floor(((t + 1) * m) / T);
        // The first round gives every thread rows (n ≥ T), so it zeroes every gradient buffer.
        jobs.push(r0 < r1 ? f.jobArgs(OP.train, t, r0, r1, f.chunk, { inB: S.IN, inRB: D * sz, cxB, scalar: 1 / n, seed: s0 === 0 && t > 0 ? threadSeed(state, t) : -1, zero: s0 === 0 ? man.paramCount : 0 }) : null);
      }
      const results: (JobResult | null)[] = pool.run(jobs);
      for (let t = 0; t < T; t++) {
        const r = results[t];
        if (!r) continue;
        if (r.failRow >= 0) {
          const where = f.firstNonFiniteLayer(r.failRows, f.threadBuffers(t).ws, S.IN + r.failRow * D * sz, cxB ? cxB + r.failRow * f.contextSize * sz : 0);
          const at = s0 + r.failRow;
          throw new NonFiniteError(
            `step ${step}: the loss is not finite` + (where ? `; the first non-finite value is in the output of layer ${where.layer} (${where.kind}), row ${Math.floor(where.index / Math.max(1, man.layers[where.layer].outShape.reduce((a, b) => a * b, 1))) + at}` : "; every layer's output is finite, so the base distribution's log-density overflowed") +
              " (a learning rate too high is the usual cause; try a lower --lr or --clip-norm)",
            step, where?.layer ?? null, where?.kind ?? null);
        }
        nll += r.sum;
      }
    }
    for (let t = 1; t < T; t++) e.add_buf(mem.G, f.threadBuffers(t).G, man.paramCount);
    this.update(step);
    return nll / n;
  }

  /**
   * One Adam step of variational inference by reverse KL (Rezende & Mohamed
   * 2015): draws n samples x = f⁻¹(ε) with ε from the base, and descends the
   * Monte-Carlo estimate of E_q[log q(x) − log p̃(x)] = KL(q‖p) − log Z (the
   * negative ELBO) by the reparameterisation gradient. Since
   * log q(x) = log p_base(ε) − log|det ∂x/∂ε| and ε does not depend on the
   * parameters, the gradient flows back from x (through −∇ₓ log p̃/n) and from
   * the inverse's log-det (−1/n) alone, by the module's `backward_inv`.
   * Needs every layer's inverse backward (`bwdInv` in the manifest), a base
   * without trainable parameters and no context. Draws from the workspace
   * RNG, so seed it (`flow.exports.seed`) for a reproducible run.
   *
   * `beta` < 1 descends E_q[log q − β·log p̃] instead, the annealed free
   * energy of Rezende & Mohamed (§6.1: β_t = min(1, 0.01 + t/10000)): a
   * flattened target keeps q spread over every mode early on, where the plain
   * reverse KL would settle on one.
   * Returns the batch's −ELBO estimate (nats, at β = 1); log Z − ELBO = KL(q‖p).
   */
  stepReverseKL(target: LogDensity, n: number = this.batchSize, opts: { beta?: number } = {}): number {
    const f = this.flow, e = f.exports, mem = f.mem, man = f.manifest;
    this.checkReverseKL(target, n);
    const beta = opts.beta ?? 1;
    if (!Number.isFinite(beta) || beta < 0) throw new FlowcInputError("FLOW665", `the inverse temperature beta must be a finite number ≥ 0, got ${beta}`);
    const D = f.eventSize, step = this.stepCount + 1;
    const rows = Math.min(n, f.chunk);
    if (!this.xs || this.xs.length < rows * D) {
      this.xs = new Float64Array(rows * D);
      this.gs = new Float64Array(rows * D);
    }
    const xs = this.xs, gs = this.gs!;
    const z = mem.ws + man.workspace.z, gz = mem.ws + man.workspace.gz;
    e.zero_buf(mem.G, man.paramCount);
    let total = 0;
    for (let s = 0; s < n; s += f.chunk) {
      const m = Math.min(f.chunk, n - s);
      e.sample(mem.P, mem.ws, mem.X, mem.OUT, m, 1.0, 0);
      const x = xs.subarray(0, m * D), g = gs.subarray(0, m * D);
      x.set(f.view(mem.X, m * D));
      const lq = f.view(mem.OUT, m);
      const badSample = firstBadRow(x, lq, m, D);
      if (badSample >= 0) {
        const where = this.firstNonFiniteInverse(m);
        throw new NonFiniteError(
          `step ${step}: sample ${s + badSample} or its log-density is not finite` +
            (where ? `; the first non-finite value comes out of layer ${where.layer} (${where.kind}) on the latent → data pass` : "; every layer's output is finite, so the log-determinant overflowed") +
            " (a learning rate too high is the usual cause; try a lower --lr or --clip-norm)",
          step, where?.layer ?? null, where?.kind ?? null);
      }
      g.fill(NaN); // a target that leaves a gradient unwritten is caught below, not trained on stale values
      const lp = target.logDensity(x, m, g);
      if (!lp || lp.length < m) throw new FlowcInputError("FLOW665", `the target's logDensity must return ${m} values for ${m} rows, got ${lp ? lp.length : String(lp)}`);
      const badTarget = firstBadRow(g, lp, m, D);
      if (badTarget >= 0) {
        const r = badTarget, row = Array.from(x.subarray(r * D, (r + 1) * D), (v) => v.toPrecision(6)).join(", ");
        throw new NonFiniteError(`step ${step}: the target's log-density${Number.isFinite(lp[r]) ? " gradient" : ""} is not finite at sample ${s + r}, x = [${row}] (log p̃ = ${lp[r]}); reverse KL needs log p̃ finite and differentiable wherever the flow puts mass`, step, null, null);
      }
      for (let r = 0; r < m; r++) total += lq[r] - lp[r];
      const gx = f.view(mem.GX, m * D);
      for (let k = 0; k < m * D; k++) gx[k] = (-beta * g[k]) / n;
      e.backward_inv(mem.P, mem.G, mem.ws, z, mem.X, mem.GX, -1 / n, gz, m, 0);
    }
    this.update(step);
    return total / n;
  }

  /** Host-side buffers for the samples and ∇ₓ log p̃ of one chunk (reverse KL). */
  private xs: Float64Array | null = null;
  private gs: Float64Array | null = null;

  /** Throws a FlowcInputError saying why, if `stepReverseKL(target, n)` cannot run on this flow. */
  checkReverseKL(target: LogDensity, n: number = this.batchSize): void {
    const f = this.flow, man = f.manifest;
    const no = (why: string) => new FlowcInputError("FLOW665", `reverse-KL training is unavailable: ${why}`);
    if (!Number.isInteger(n) || n < 1) throw new FlowcInputError("FLOW665", `the reverse-KL sample count must be a positive integer, got ${n}`);
    if (!target || typeof target.logDensity !== "function") throw new FlowcInputError("FLOW665", "the target must have a logDensity(x, n, grad) function");
    if (target.dim !== undefined && target.dim !== f.eventSize) {
      throw new FlowcInputError("FLOW665", `the target${target.name ? ` '${target.name}'` : ""} is ${target.dim}-dimensional but the flow's events have ${f.eventSize} values (event shape [${f.eventShape.join(", ")}])`);
    }
    if (f.contextSize > 0) throw no(`this flow takes a context of ${f.contextSize} values, and a target density with no context cannot condition on it`);
    const missing = man.layers.filter((l) => !l.bwdInv);
    if (missing.length) throw no(`${layerList(missing)} ${missing.length === 1 ? "has" : "have"} no backward of the inverse (latent → data) direction in this build of flowc`);
    if (!man.capabilities.sample) throw no("the flow cannot sample");
    const learned = man.params.filter((p) => p.layer === -1 && p.trainable);
    if (learned.length) {
      const base = ["base", man.base.kind, ...Object.values(man.base.opts).filter((v) => typeof v === "string" && v !== "standard")].join(" ");
      throw no(`\`${base}\` has trainable parameters (${learned.map((p) => p.name).join(", ")}), and the reparameterised samples ε do not carry their gradient; use \`base ${man.base.kind}\` and let the layers learn the location and scale`);
    }
    // `chunked` with no rows runs only its checks: the flow has parameters and needs no context.
    f.chunked(new Float64Array(0), undefined, f.eventSize, "samples", () => {});
  }

  /** The layer whose inverse first produced a non-finite value in the last `sample` (walking latent → data). */
  private firstNonFiniteInverse(m: number): { layer: number; kind: string } | null {
    const f = this.flow, man = f.manifest, e = f.exports;
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    for (let i = man.layers.length - 1; i >= 0; i--) {
      const l = man.layers[i];
      const out = i === 0 ? f.mem.X : f.mem.ws + man.layers[i - 1].act;
      if (e.first_nonfinite(out, m * size(l.inShape)) >= 0) return { layer: i, kind: l.kind };
    }
    return null;
  }

  /** Clip the gradient in G, check it, and take one Adam step (the step's number is `step`). */
  private update(step: number): void {
    const f = this.flow, e = f.exports, mem = f.mem, man = f.manifest;
    const count = man.trainableCount;
    const sq = e.grad_sqnorm(mem.G, count);
    const norm = Math.sqrt(sq);
    this.lastGradNorm = norm;
    if (!Number.isFinite(norm)) {
      const bad = e.first_nonfinite(mem.G, count);
      const p = man.params.find((q) => bad >= q.offset && bad < q.offset + q.size);
      throw new NonFiniteError(`step ${step}: the gradient of ${p ? p.name : "#" + bad} is not finite`, step, p?.layer ?? null, p && p.layer >= 0 ? man.layers[p.layer].kind : null);
    }
    if (this.clipNorm > 0 && norm > this.clipNorm) e.scale(mem.G, count, this.clipNorm / norm);
    const lr = this.warmup > 0 ? this.lr * Math.min(1, step / this.warmup) : this.lr;
    e.adam(mem.P, mem.G, mem.M, mem.V, count, lr, this.betas[0], this.betas[1], this.eps, this.weightDecay, step);
    this.stepCount = step;
  }

  /** Optimizer state for checkpoints. */
  getState(): { step: number; m: FloatArray; v: FloatArray } {
    const f = this.flow, c = f.manifest.paramCount;
    return { step: this.stepCount, m: f.view(f.mem.M, c).slice(), v: f.view(f.mem.V, c).slice() };
  }

  setState(s: { step: number; m: ArrayLike<number>; v: ArrayLike<number> }): void {
    const f = this.flow, c = f.manifest.paramCount;
    if (s.m.length !== c || s.v.length !== c) throw new FlowcInputError("FLOW674", `optimizer state has ${s.m.length} moments, the flow has ${c} parameters`);
    f.view(f.mem.M, c).set(s.m);
    f.view(f.mem.V, c).set(s.v);
    this.stepCount = s.step;
  }
}
