/**
 * @fileoverview Deterministic parameter initialisation from the manifest's
 * init descriptors, in plain JavaScript so it runs wherever the host does.
 *
 * Randomness: a seeded xoshiro128** generator (32-bit integer ops only,
 * seeded through splitmix32). Each parameter draws from its own stream,
 * derived from the seed and the parameter's name, so adding or reordering
 * parameters never changes the others' values. An LU group derives its
 * stream from the layer prefix and the group name. A permutation with its
 * own `seed` ignores the init seed entirely, so `permute random seed=3`
 * means the same permutation in every run.
 *
 * Conventions of the stored parts (row-major, PyTorch layouts):
 *  - `rotation`: W [n, n], orthogonal, det W = +1.
 *  - `lu-rotation` (Glow, Kingma & Dhariwal 2018, as in the PyTorch port):
 *        W = P @ (L + I) @ (U + diag(sign * exp(logs)))
 *    P [n, n] is a permutation matrix of 0/1 floats; L [n, n] holds the
 *    strictly lower triangle (zeros on and above the diagonal, the unit
 *    diagonal is implied); U [n, n] holds the strictly upper triangle
 *    (zeros on and below the diagonal); sign [n] is ±1 and logs [n] is
 *    log|diag|. W is a random rotation, so det W = +1 and Σ logs ≈ 0.
 *  - `permutation`: perm [n] of float indices, output j = input perm[j].
 *    `reverse` gives perm[j] = n − 1 − j; with a `seed`, the Fisher–Yates
 *    shuffle driven by mulberry32(seed) that compiler/layers/permute.ts
 *    also runs; without one, a shuffle from the init seed's stream.
 */
import { FLOW6, fmtShape, inputError } from "./errors.ts";
import type { InitDesc } from "./manifest.ts";

/** The init descriptors of the manifest (the compiler's `InitSpec` is this type). */
export type InitSpec = InitDesc;

/** A parameter as the manifest lists it; offset and size count elements of the flat buffer. */
export interface InitParam {
  name: string;
  shape: number[];
  offset: number;
  size: number;
  init: InitSpec;
}

// ---------------------------------------------------------------- PRNG

/** splitmix32 step: a well-mixed 32-bit output from a Weyl sequence. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over UTF-16 code units: a stable stream label. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const TWO_PI = 2 * Math.PI;

/** xoshiro128** (Blackman & Vigna) with a Box–Muller `normal()`. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  /** `seed` is any safe integer (negative and > 2^32 included); `stream` selects an independent sequence. */
  constructor(seed: number, stream = "") {
    if (!Number.isSafeInteger(seed)) throw inputError(FLOW6.badArgument, { what: "seed", expected: "an integer", got: seed });
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    const st = { s: lo };
    // Fold the high word and the stream label into the splitmix state so that each changes every output.
    st.s = (splitmix32(st) ^ hi) | 0;
    st.s = (splitmix32(st) ^ hashLabel(stream)) | 0;
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is a fixed point
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const b = this.b;
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal draw (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(TWO_PI * u2);
    return r * Math.cos(TWO_PI * u2);
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (n <= 1) return 0;
    if (n > 2 ** 32) return Math.floor(this.uniform() * n);
    const limit = 2 ** 32 - (2 ** 32 % n);
    let x: number;
    do x = this.nextU32();
    while (x >= limit);
    return x % n;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

// ---------------------------------------------------------------- linear algebra (f64, row-major)

/**
 * A random rotation of size n (row-major [n, n], det +1), Haar-distributed:
 * orthonormalise the columns of a Gaussian matrix (Gram–Schmidt, each column
 * projected twice for stability, equivalent to QR with a positive R
 * diagonal), then negate the first column if the determinant is −1.
 */
export function randomRotation(n: number, rng: Rng): Float64Array {
  const cols: Float64Array[] = [];
  for (let j = 0; j < n; j++) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = rng.normal();
    for (let pass = 0; pass < 2; pass++) {
      for (const q of cols) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i] * v[i];
        for (let i = 0; i < n; i++) v[i] -= dot * q[i];
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    if (!(norm > 1e-12)) {
      // A dependent Gaussian column has probability zero; redraw rather than divide by ~0.
      j--;
      continue;
    }
    for (let i = 0; i < n; i++) v[i] /= norm;
    cols.push(v);
  }
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) w[i * n + j] = cols[j][i];
  if (determinant(w, n) < 0) for (let i = 0; i < n; i++) w[i * n] = -w[i * n];
  return w;
}

/**
 * LU with partial pivoting, `A = P @ L @ U`: `perm[i]` is the row of A that
 * became row i, so P[perm[i], i] = 1. `lu` holds L below the diagonal (unit
 * diagonal implied) and U on and above it. `swaps` counts row exchanges.
 */
export function luDecompose(a: Float64Array, n: number): { lu: Float64Array; perm: Int32Array; swaps: number } {
  const lu = Float64Array.from(a);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  let swaps = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    let best = Math.abs(lu[k * n + k]);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(lu[i * n + k]);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = lu[k * n + j];
        lu[k * n + j] = lu[p * n + j];
        lu[p * n + j] = t;
      }
      const t = perm[k];
      perm[k] = perm[p];
      perm[p] = t;
      swaps++;
    }
    const pivot = lu[k * n + k];
    if (pivot === 0) continue; // singular: leave the column; callers only pass rotations
    for (let i = k + 1; i < n; i++) {
      const f = (lu[i * n + k] /= pivot);
      if (f !== 0) for (let j = k + 1; j < n; j++) lu[i * n + j] -= f * lu[k * n + j];
    }
  }
  return { lu, perm, swaps };
}

/** det A via LU (f64). */
export function determinant(a: Float64Array, n: number): number {
  const { lu, swaps } = luDecompose(a, n);
  let det = swaps % 2 === 0 ? 1 : -1;
  for (let i = 0; i < n; i++) det *= lu[i * n + i];
  return det;
}

interface LuParts {
  P: Float64Array;
  L: Float64Array;
  U: Float64Array;
  sign: Float64Array;
  logs: Float64Array;
}

/** The five stored parts of a random rotation's PLU decomposition (see the file comment). */
export function luRotationParts(n: number, rng: Rng): LuParts {
  const { lu, perm } = luDecompose(randomRotation(n, rng), n);
  const P = new Float64Array(n * n);
  const L = new Float64Array(n * n);
  const U = new Float64Array(n * n);
  const sign = new Float64Array(n);
  const logs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    P[perm[i] * n + i] = 1;
    for (let j = 0; j < i; j++) L[i * n + j] = lu[i * n + j];
    for (let j = i + 1; j < n; j++) U[i * n + j] = lu[i * n + j];
    const d = lu[i * n + i];
    sign[i] = d < 0 ? -1 : 1;
    logs[i] = Math.log(Math.abs(d));
  }
  return { P, L, U, sign, logs };
}

/**
 * mulberry32. In the flow itself it drives only `permute random seed=N`: the
 * checker rebuilds the same permutation at compile time
 * (compiler/layers/permute.ts) to analyse which features each layer touches,
 * so both sides must run this exact procedure. The CLI, the benchmarks and the
 * tests use it too wherever they want a small seeded generator.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates from the identity: for i = n−1 down to 1, swap i with ⌊rand()·(i+1)⌋. */
function shuffled(n: number, rand: () => number): Float64Array {
  const perm = new Float64Array(n);
  for (let j = 0; j < n; j++) perm[j] = j;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm;
}

/** `permute random seed=N`: float indices, output j = input perm[j]. */
export function seededPermutation(n: number, seed: number): Float64Array {
  return shuffled(n, mulberry32(seed));
}

/** `permute reverse`: perm[j] = n − 1 − j. */
export function reversePermutation(n: number): Float64Array {
  const perm = new Float64Array(n);
  for (let j = 0; j < n; j++) perm[j] = n - 1 - j;
  return perm;
}

// ---------------------------------------------------------------- initParams

/** The layer a parameter belongs to: its name up to and including the last `.` (`layers.3.`). */
function layerPrefix(name: string): string {
  return name.slice(0, name.lastIndexOf(".") + 1);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0;
}

/**
 * Fill every parameter's slice of `buf` from its init descriptor.
 * Same params and seed → the same numbers, in f32 and f64 alike (up to rounding).
 */
export function initParams(params: InitParam[], buf: Float32Array | Float64Array, seed: number): void {
  // Validate the seed up front so an empty list still rejects a bad one.
  new Rng(seed);
  const luGroups = new Map<string, LuParts>();

  for (const p of params) {
    const bad = (problem: string) => inputError(FLOW6.paramInit, { tensor: p.name, problem }, { tensor: p.name });
    if (!Number.isSafeInteger(p.offset) || p.offset < 0 || !Number.isSafeInteger(p.size) || p.size < 0) {
      throw bad(`offset ${p.offset} and size ${p.size} must be non-negative integers`);
    }
    if (p.offset + p.size > buf.length) {
      throw bad(`elements [${p.offset}, ${p.offset + p.size}) lie outside the ${buf.length}-element parameter buffer`);
    }
    const count = p.shape.reduce((a, b) => a * b, 1);
    if (count !== p.size) throw bad(`shape ${fmtShape(p.shape)} has ${count} elements but size is ${p.size}`);
    const out = buf.subarray(p.offset, p.offset + p.size);
    const init = p.init as InitSpec | undefined;
    const expectSize = (want: number, what: string) => {
      if (p.size !== want) throw bad(`${what} needs ${want} elements but the parameter has ${p.size}`);
    };

    switch (init?.kind) {
      case "zeros":
        out.fill(0);
        break;
      case "const":
        if (typeof init.value !== "number" || !Number.isFinite(init.value)) throw bad(`const init needs a finite value, got ${init.value}`);
        out.fill(init.value);
        break;
      case "normal": {
        if (!(init.std >= 0) || !Number.isFinite(init.std)) throw bad(`normal init needs a finite std ≥ 0, got ${init.std}`);
        const rng = new Rng(seed, p.name);
        for (let i = 0; i < out.length; i++) out[i] = init.std * rng.normal();
        break;
      }
      case "uniform": {
        if (!(init.bound >= 0) || !Number.isFinite(init.bound)) throw bad(`uniform init needs a finite bound ≥ 0, got ${init.bound}`);
        const rng = new Rng(seed, p.name);
        for (let i = 0; i < out.length; i++) out[i] = init.bound * (2 * rng.uniform() - 1);
        break;
      }
      case "rotation": {
        if (!isPositiveInt(init.n)) throw bad(`rotation init needs a positive n, got ${init.n}`);
        expectSize(init.n * init.n, `a ${init.n}×${init.n} rotation`);
        out.set(randomRotation(init.n, new Rng(seed, p.name)));
        break;
      }
      case "lu-rotation": {
        const n = init.n;
        if (!isPositiveInt(n)) throw bad(`lu-rotation init needs a positive n, got ${n}`);
        if (!["P", "L", "U", "sign", "logs"].includes(init.part)) throw bad(`unknown lu-rotation part '${init.part}'`);
        const key = `${layerPrefix(p.name)}\u0000${String(init.group)}\u0000${n}`;
        let parts = luGroups.get(key);
        if (!parts) {
          parts = luRotationParts(n, new Rng(seed, `lu:${layerPrefix(p.name)}${String(init.group)}`));
          luGroups.set(key, parts);
        }
        const vector = init.part === "sign" || init.part === "logs";
        expectSize(vector ? n : n * n, `lu-rotation part ${init.part} of size ${n}`);
        out.set(parts[init.part]);
        break;
      }
      case "permutation": {
        if (!isPositiveInt(init.n)) throw bad(`permutation init needs a positive n, got ${init.n}`);
        expectSize(init.n, `a permutation of ${init.n}`);
        if (init.reverse) {
          out.set(reversePermutation(init.n));
        } else if (init.seed !== undefined) {
          if (!Number.isSafeInteger(init.seed) || init.seed < 0 || init.seed > 0xffffffff) {
            throw bad(`permutation seed must be an integer in [0, 2^32), got ${init.seed}`);
          }
          out.set(seededPermutation(init.n, init.seed));
        } else {
          // No seed of its own: follow the init seed.
          const rng = new Rng(seed, p.name);
          out.set(shuffled(init.n, () => rng.uniform()));
        }
        break;
      }
      default:
        throw bad(`unknown init kind '${String((init as { kind?: unknown } | undefined)?.kind)}'`);
    }
  }
}
