/**
 * @fileoverview Numerical proof of a compiled flow, layer by layer (DESIGN §10):
 * inverse(forward(x)) ≈ x with log-dets summing to 0, the log-det against a
 * finite-difference Jacobian, and input and parameter gradients against
 * central differences. Shared by `flowc verify` and the generic layer suite,
 * so users get the same proof the tests have. Best run on an f64 build.
 */
import type { Flow, FloatArray } from "../../runtime-wasm/host/flow.ts";
import { mulberry32 } from "../../runtime-wasm/host/init.ts";

export interface LayerCheckResult {
  index: number;
  kind: string;
  text: string;
  /** max |x − inverse(forward(x))| */
  inverseErr: number;
  /** max |ld_forward + ld_inverse| */
  logdetSumErr: number;
  /** max relative error of the log-det against log|det J| of a finite-difference Jacobian (NaN if skipped). */
  logdetErr: number;
  /** relative error of ∂L/∂x against central differences */
  gradInputErr: number;
  /** relative error of ∂L/∂θ against central differences (NaN if the layer has no parameters) */
  gradParamErr: number;
  /** Largest off-diagonal Jacobian entry (for checking elementwise-at-init), NaN if not computed. */
  offDiagonal: number;
}

export interface CheckOptions {
  rows?: number;
  seed?: number;
  /** Finite-difference step. */
  h?: number;
  /** Skip the Jacobian for layers wider than this. */
  maxJacobian?: number;
  /** Check at most this many entries per parameter tensor. */
  maxParamEntries?: number;
  /** Compute the off-diagonal Jacobian magnitude. */
  offDiagonal?: boolean;
  /** Context rows (n × contextSize) for conditional flows; random if absent. */
  context?: ArrayLike<number>;
}

/** Small seeded PRNG for test inputs (not the flow's RNG). */
export const mulberry = mulberry32;

export function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12), v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** log|det A| of a dense n×n matrix (row-major) by LU with partial pivoting. */
export function logAbsDet(a: Float64Array, n: number): number {
  const m = Float64Array.from(a);
  let s = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]) > Math.abs(m[p * n + k])) p = i;
    const piv = m[p * n + k];
    if (piv === 0) return -Infinity;
    if (p !== k) for (let j = 0; j < n; j++) { const t = m[k * n + j]; m[k * n + j] = m[p * n + j]; m[p * n + j] = t; }
    s += Math.log(Math.abs(piv));
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k] / piv;
      if (f !== 0) for (let j = k + 1; j < n; j++) m[i * n + j] -= f * m[k * n + j];
    }
  }
  return s;
}

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Relative error with a floor of 1 on the scale, as in the suite's tolerances. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(1, den);
}

/**
 * Check layer `i` of a loaded flow on input rows `x` (n × the layer's input size).
 * Uses the module's per-layer exports; works in f32 too, with looser results.
 */
export function checkLayer(flow: Flow, i: number, x: ArrayLike<number>, opts: CheckOptions = {}): LayerCheckResult {
  const e = flow.exports, mem = flow.mem, man = flow.manifest;
  const L = man.layers[i];
  const Din = prod(L.inShape), Dout = prod(L.outShape);
  const n = x.length / Din;
  if (n > flow.chunk) throw new Error(`at most ${flow.chunk} rows per check`);
  const h = opts.h ?? (flow.precision === "f64" ? 1e-6 : 1e-2);
  const rand = mulberry(opts.seed ?? 1), gauss = gaussian(rand);
  const zl = mem.ws + man.workspace.z, gzl = mem.ws + man.workspace.gz;
  const latentN = n * man.latentSize;
  const seedWs = () => e.seed(mem.ws, 12345);
  // Conditional flows: a fixed random context (zeros would hide context bugs).
  let cx = 0;
  if (flow.contextSize > 0) {
    const k = flow.contextSize;
    const c = opts.context ?? Float64Array.from({ length: n * k }, gauss);
    flow.view(mem.CX, n * k).set(c as FloatArray);
    cx = mem.CX;
  }

  // Buffers: X (input), Z (output y), LD, GX, GZ (gy), OUT reused.
  const X = mem.X, Y = mem.Z, LD = mem.LD, GY = mem.GZ, GX = mem.GX;
  const put = (ptr: number, v: ArrayLike<number>) => flow.view(ptr, v.length).set(v as FloatArray);
  const get = (ptr: number, count: number) => Float64Array.from(flow.view(ptr, count));

  const fwd = (xs: ArrayLike<number>) => {
    put(X, xs);
    flow.view(LD, n).fill(0);
    flow.view(zl, latentN).fill(0);
    seedWs();
    e.layer_fwd(i, mem.P, mem.ws, X, Y, LD, n, cx);
    return { y: get(Y, n * Dout), ld: get(LD, n), z: get(zl, latentN) };
  };

  // 1. inverse
  const f0 = fwd(x);
  put(Y, f0.y);
  flow.view(LD, n).fill(0);
  e.layer_inv(i, mem.P, mem.ws, Y, X, LD, n, cx);
  const xr = get(X, n * Din), ldi = get(LD, n);
  let inverseErr = 0, logdetSumErr = 0;
  for (let k = 0; k < xr.length; k++) inverseErr = Math.max(inverseErr, Math.abs(xr[k] - x[k]));
  for (let r = 0; r < n; r++) logdetSumErr = Math.max(logdetSumErr, Math.abs(f0.ld[r] + ldi[r]));

  // 2. log-det against the finite-difference Jacobian (square layers only; split changes the width)
  let logdetErr = NaN, offDiagonal = NaN;
  if (Din === Dout && Din <= (opts.maxJacobian ?? 64)) {
    logdetErr = 0;
    offDiagonal = 0;
    const J = new Float64Array(Din * Din);
    for (let r = 0; r < Math.min(n, 3); r++) {
      for (let j = 0; j < Din; j++) {
        const xp = Float64Array.from(x), xm = Float64Array.from(x);
        xp[r * Din + j] += h;
        xm[r * Din + j] -= h;
        const yp = fwd(xp).y, ym = fwd(xm).y;
        for (let o = 0; o < Din; o++) {
          const v = (yp[r * Dout + o] - ym[r * Dout + o]) / (2 * h);
          J[o * Din + j] = v;
          if (o !== j) offDiagonal = Math.max(offDiagonal, Math.abs(v));
        }
      }
      const ref = logAbsDet(J, Din);
      logdetErr = Math.max(logdetErr, Math.abs(ref - f0.ld[r]) / Math.max(1, Math.abs(ref)));
    }
  }

  // 3. gradients of L = Σ gy·y + gld·Σ ld + Σ gz·zl against central differences
  const gy = Float64Array.from({ length: n * Dout }, gauss);
  const gz = Float64Array.from({ length: latentN }, gauss);
  const gld = 0.7;
  const loss = (xs: ArrayLike<number>) => {
    const f = fwd(xs);
    let s = 0;
    for (let k = 0; k < f.y.length; k++) s += gy[k] * f.y[k];
    for (let r = 0; r < n; r++) s += gld * f.ld[r];
    for (let k = 0; k < f.z.length; k++) s += gz[k] * f.z[k];
    return s;
  };
  fwd(x);
  put(GY, gy);
  put(gzl, gz);
  e.zero_buf(mem.G, man.paramCount);
  e.layer_bwd(i, mem.P, mem.G, mem.ws, X, Y, GY, GX, gld, n, cx);
  const gx = get(GX, n * Din);
  const G = get(mem.G, man.paramCount);
  const fdx = new Float64Array(n * Din);
  for (let k = 0; k < n * Din; k++) {
    const xp = Float64Array.from(x), xm = Float64Array.from(x);
    xp[k] += h;
    xm[k] -= h;
    fdx[k] = (loss(xp) - loss(xm)) / (2 * h);
  }
  const gradInputErr = relErr(gx, fdx);

  const gradParamErr = paramGradErr(flow, i, G, () => loss(x), h, opts.maxParamEntries ?? 48, rand);
  return { index: i, kind: L.kind, text: L.text, inverseErr, logdetSumErr, logdetErr, gradInputErr, gradParamErr, offDiagonal };
}

/** Inputs of every layer for data rows x, by running the flow forward layer by layer. */
export function layerInputs(flow: Flow, x: ArrayLike<number>, context?: ArrayLike<number>): Float64Array[] {
  const e = flow.exports, mem = flow.mem, man = flow.manifest;
  const inputs: Float64Array[] = [Float64Array.from(x)];
  const n = x.length / man.eventSize;
  let cx = 0;
  if (flow.contextSize > 0 && context) {
    flow.view(mem.CX, n * flow.contextSize).set(context as FloatArray);
    cx = mem.CX;
  }
  let cur = Float64Array.from(x);
  for (const L of man.layers) {
    flow.view(mem.X, cur.length).set(cur);
    flow.view(mem.LD, n).fill(0);
    e.seed(mem.ws, 12345);
    e.layer_fwd(L.index, mem.P, mem.ws, mem.X, mem.Z, mem.LD, n, cx);
    cur = Float64Array.from(flow.view(mem.Z, n * prod(L.outShape)));
    inputs.push(cur);
  }
  return inputs;
}

export interface InverseCheckResult {
  index: number;
  kind: string;
  /** relative error of ∂L/∂y through the inverse against central differences */
  gradLatentErr: number;
  /** relative error of ∂L/∂θ through the inverse (NaN if no parameters) */
  gradParamErr: number;
  /** max relative error of the inverse's log-det against log|det| of its finite-difference Jacobian */
  logdetErr: number;
}

/**
 * Check the backward of layer i's *inverse* (used by reverse-KL training):
 * L = Σ gx·x(y) + gld·Σ ld_inv(y) + Σ gz·ε against central differences,
 * where y is the layer's output side (n × its output size).
 */
export function checkLayerInverse(flow: Flow, i: number, y: ArrayLike<number>, opts: CheckOptions = {}): InverseCheckResult {
  const e = flow.exports, mem = flow.mem, man = flow.manifest;
  const L = man.layers[i];
  const Din = prod(L.inShape), Dout = prod(L.outShape);
  const n = y.length / Dout;
  const h = opts.h ?? (flow.precision === "f64" ? 1e-6 : 1e-2);
  const rand = mulberry(opts.seed ?? 7), gauss = gaussian(rand);
  const zl = mem.ws + man.workspace.z, gzl = mem.ws + man.workspace.gz;
  const latentN = n * man.latentSize;
  let cx = 0;
  if (flow.contextSize > 0) {
    const c = opts.context ?? Float64Array.from({ length: n * flow.contextSize }, gauss);
    flow.view(mem.CX, n * flow.contextSize).set(c as FloatArray);
    cx = mem.CX;
  }
  // The latent part a split reads on its inverse: fixed random ε.
  const eps = Float64Array.from({ length: latentN }, gauss);
  const put = (ptr: number, v: ArrayLike<number>) => flow.view(ptr, v.length).set(v as FloatArray);
  const get = (ptr: number, count: number) => Float64Array.from(flow.view(ptr, count));
  const inv = (ys: ArrayLike<number>, z: ArrayLike<number> = eps) => {
    put(mem.Z, ys);
    put(zl, z);
    flow.view(mem.LD, n).fill(0);
    e.seed(mem.ws, 12345);
    e.layer_inv(i, mem.P, mem.ws, mem.Z, mem.X, mem.LD, n, cx);
    return { x: get(mem.X, n * Din), ld: get(mem.LD, n) };
  };
  const gx = Float64Array.from({ length: n * Din }, gauss);
  const gld = 0.6;
  const loss = (ys: ArrayLike<number>, z: ArrayLike<number> = eps) => {
    const r = inv(ys, z);
    let s = 0;
    for (let k = 0; k < r.x.length; k++) s += gx[k] * r.x[k];
    for (let k = 0; k < n; k++) s += gld * r.ld[k];
    return s;
  };
  inv(y);
  put(mem.GX, gx);
  flow.view(gzl, latentN).fill(0);
  e.zero_buf(mem.G, man.paramCount);
  e.layer_bwd_inv(i, mem.P, mem.G, mem.ws, mem.Z, mem.X, mem.GX, mem.GZ, gld, n, cx);
  const gy = get(mem.GZ, n * Dout);
  const gz = get(gzl, latentN);
  const G = get(mem.G, man.paramCount);
  const fdy = new Float64Array(n * Dout);
  for (let k = 0; k < n * Dout; k++) {
    const yp = Float64Array.from(y), ym = Float64Array.from(y);
    yp[k] += h; ym[k] -= h;
    fdy[k] = (loss(yp) - loss(ym)) / (2 * h);
  }
  let gradLatentErr = relErr(gy, fdy);
  if (Din !== Dout) {
    // A split: the inverse also reads ε from the latent.
    const fdz = new Float64Array(latentN);
    for (let k = 0; k < latentN; k++) {
      const zp = Float64Array.from(eps), zm = Float64Array.from(eps);
      zp[k] += h; zm[k] -= h;
      fdz[k] = (loss(y, zp) - loss(y, zm)) / (2 * h);
    }
    gradLatentErr = Math.max(gradLatentErr, relErr(gz, fdz));
  }
  const gradParamErr = paramGradErr(flow, i, G, () => loss(y), h, opts.maxParamEntries ?? 48, rand);
  let logdetErr = NaN;
  if (Din === Dout && Din <= (opts.maxJacobian ?? 64)) {
    logdetErr = 0;
    const base = inv(y);
    const J = new Float64Array(Din * Din);
    for (let r = 0; r < Math.min(n, 3); r++) {
      for (let j = 0; j < Dout; j++) {
        const yp = Float64Array.from(y), ym = Float64Array.from(y);
        yp[r * Dout + j] += h; ym[r * Dout + j] -= h;
        const xp = inv(yp).x, xm = inv(ym).x;
        for (let o = 0; o < Din; o++) J[o * Din + j] = (xp[r * Din + o] - xm[r * Din + o]) / (2 * h);
      }
      const ref = logAbsDet(J, Din);
      logdetErr = Math.max(logdetErr, Math.abs(ref - base.ld[r]) / Math.max(1, Math.abs(ref)));
    }
  }
  return { index: i, kind: L.kind, gradLatentErr, gradParamErr, logdetErr };
}

/**
 * Relative error between the analytic gradient G of layer i's trainable parameters and central
 * differences of `loss` (at most `max` entries per tensor, drawn with `rand`); NaN without parameters.
 */
function paramGradErr(flow: Flow, i: number, G: ArrayLike<number>, loss: () => number, h: number, max: number, rand: () => number): number {
  const man = flow.manifest, P = flow.mem.P;
  const params = man.params.filter((p) => p.layer === i && p.trainable);
  if (!params.length) return NaN;
  const a: number[] = [], b: number[] = [];
  for (const p of params) {
    const idx = p.size <= max ? [...Array(p.size).keys()] : Array.from({ length: max }, () => Math.floor(rand() * p.size));
    for (const k of idx) {
      const at = p.offset + k;
      // A fresh view each time: the loss runs the module, whose memory may have grown.
      const old = flow.view(P, man.paramCount)[at];
      flow.view(P, man.paramCount)[at] = old + h;
      const lp = loss();
      flow.view(P, man.paramCount)[at] = old - h;
      const lm = loss();
      flow.view(P, man.paramCount)[at] = old;
      a.push(G[at]);
      b.push((lp - lm) / (2 * h));
    }
  }
  return relErr(a, b);
}
