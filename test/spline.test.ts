/**
 * @fileoverview Tests of the rational-quadratic spline library
 * (runtime-wasm/assembly/spline.ts) on its own, in f64 and f32: agreement
 * with a plain JavaScript reference, monotonicity, inverse(forward(x)) = x,
 * the log-derivative and every gradient against central differences, strided
 * parameters, and finiteness at ±B, at the knots and far outside. Last, the
 * f32 round trip of a compiled `coupling spline` flow (the generic layer
 * suite runs its f32 round trip on coupling's first cases only).
 */
import { describe, it, expect, beforeAll } from "vitest";
import { compileAssemblyScript, type Precision } from "../compiler/codegen/asc.ts";
import { compile } from "../compiler/codegen/compile.ts";
import { loadFlow } from "../runtime-wasm/host/flow.ts";

type Fn = (...args: number[]) => number;
interface Exports { memory: WebAssembly.Memory; heap_base: () => number; fwd: Fn; inv: Fn; bwd: Fn }

const SRC = `export function heap_base(): usize { return __heap_base; }
import { rqs_fwd, rqs_inv, rqs_bwd } from "./lib/spline";
import { F } from "./lib/prec";
export function fwd(x: f64, p: usize, s: i32, K: i32, B: f64, yp: usize): f64 { return <f64>rqs_fwd(<F>x, p, s, K, <F>B, yp); }
export function inv(y: f64, p: usize, s: i32, K: i32, B: f64, xp: usize): f64 { return <f64>rqs_inv(<F>y, p, s, K, <F>B, xp); }
export function bwd(x: f64, p: usize, s: i32, K: i32, B: f64, gy: f64, gl: f64, gp: usize): f64 { return <f64>rqs_bwd(<F>x, p, s, K, <F>B, <F>gy, <F>gl, gp); }
`;

/** One compiled harness with fixed buffers: parameters at P, their gradient at G, a scalar at OUT. */
class Spline {
  readonly size: number;
  readonly P: number;
  readonly G: number;
  readonly OUT: number;

  constructor(readonly ex: Exports, readonly prec: Precision) {
    this.size = prec === "f32" ? 4 : 8;
    const base = (ex.heap_base() + 15) & ~15;
    this.OUT = base;
    this.P = base + 64;
    this.G = this.P + 8 * 4096;
    const need = this.G + 8 * 4096 - ex.memory.buffer.byteLength;
    if (need > 0) ex.memory.grow(Math.ceil(need / 65536));
  }

  view(p: number, count: number): Float32Array | Float64Array {
    return this.prec === "f32" ? new Float32Array(this.ex.memory.buffer, p, count) : new Float64Array(this.ex.memory.buffer, p, count);
  }

  /** Stores the parameters with stride s; the gaps hold NaN, which must never be read. */
  setParams(theta: number[], s = 1): void {
    const v = this.view(this.P, theta.length * s);
    v.fill(NaN);
    theta.forEach((t, i) => { v[i * s] = t; });
  }

  round(v: number): number {
    return this.prec === "f32" ? Math.fround(v) : v;
  }

  fwd(x: number, K: number, B: number, s = 1): { y: number; ld: number } {
    const ld = this.ex.fwd(x, this.P, s, K, B, this.OUT);
    return { y: this.view(this.OUT, 1)[0], ld };
  }

  inv(y: number, K: number, B: number, s = 1): { x: number; ld: number } {
    const ld = this.ex.inv(y, this.P, s, K, B, this.OUT);
    return { x: this.view(this.OUT, 1)[0], ld };
  }

  /** ∂L/∂x and ∂L/∂θ (unstrided) for L = gy·y + gl·log dy/dx; the gradient buffer starts as NaN. */
  bwd(x: number, K: number, B: number, gy: number, gl: number, s = 1): { gx: number; g: number[] } {
    const n = 3 * K - 1;
    const v = this.view(this.G, n * s);
    v.fill(NaN);
    const gx = this.ex.bwd(x, this.P, s, K, B, gy, gl, this.G);
    return { gx, g: Array.from({ length: n }, (_, i) => v[i * s]) };
  }
}

async function build(prec: Precision): Promise<Spline> {
  const { wasm, errors } = await compileAssemblyScript({ "main.ts": SRC }, "main.ts", prec);
  if (!wasm) throw new Error(errors);
  // flowc modules import their memory (so that threads can share it).
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
  const { instance } = await WebAssembly.instantiate(wasm as BufferSource, { env: { memory, abort() { throw new Error("abort"); } } });
  return new Spline({ ...instance.exports, memory } as unknown as Exports, prec);
}

/** mulberry32 with Box–Muller normals. */
function rng(seed: number): { u: () => number; n: () => number } {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const n = () => Math.sqrt(-2 * Math.log(Math.max(u(), 1e-12))) * Math.cos(2 * Math.PI * u());
  return { u, n };
}

// ---------------------------------------------------------------------------
// A plain f64 reference, written the textbook way (arrays, searchsorted).
// ---------------------------------------------------------------------------

const MIN = 1e-3;
const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

function knots(logits: number[], B: number): number[] {
  const K = logits.length, m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const S = e.reduce((a, b) => a + b, 0);
  const out = [-B];
  let c = 0;
  for (let k = 0; k < K - 1; k++) {
    c += MIN + (1 - MIN * K) * (e[k] / S);
    out.push(-B + 2 * B * c);
  }
  out.push(B);
  return out;
}

function reference(x: number, theta: number[], K: number, B: number): { y: number; ld: number } {
  if (!(x >= -B && x <= B)) return { y: x, ld: 0 };
  const cw = knots(theta.slice(0, K), B), ch = knots(theta.slice(K, 2 * K), B);
  const d = [1, ...theta.slice(2 * K).map((u) => MIN + softplus(u)), 1];
  let k = 0;
  while (k < K - 1 && cw[k + 1] <= x) k++;
  const w = cw[k + 1] - cw[k], h = ch[k + 1] - ch[k], sl = h / w, xi = (x - cw[k]) / w, t = xi * (1 - xi);
  const den = sl + (d[k + 1] + d[k] - 2 * sl) * t;
  const y = ch[k] + (h * (sl * xi * xi + d[k] * t)) / den;
  const dy = (sl * sl * (d[k + 1] * xi * xi + 2 * sl * t + d[k] * (1 - xi) ** 2)) / (den * den);
  return { y, ld: Math.log(dy) };
}

/** Random parameters: logits of spread `scale` (so bins differ a lot), derivative pre-activations too. */
function params(K: number, seed: number, scale = 1.5): number[] {
  const r = rng(seed);
  return Array.from({ length: 3 * K - 1 }, () => scale * r.n());
}

const CASES: { K: number; B: number }[] = [
  { K: 2, B: 1 },
  { K: 3, B: 3 },
  { K: 8, B: 3 },
  { K: 8, B: 0.5 },
  { K: 32, B: 5 },
  { K: 128, B: 2 },
];

/** Absolute errors per unit of B (y) and per unit of B·dx/dy (the inverse: rounding y costs
 *  ulp(y)·dx/dy), relative for log-derivatives. f32 log-derivatives in narrow bins carry the
 *  rounding of the knots (≈ ulp(B)) relative to the bin width. */
const TOL: Record<Precision, { y: number; inv: number; ld: number }> = {
  f64: { y: 1e-12, inv: 1e-13, ld: 1e-10 },
  f32: { y: 1e-5, inv: 2e-6, ld: 1e-3 },
};

describe.each(["f64", "f32"] as const)("rational-quadratic spline (%s)", (prec) => {
  let S: Spline;
  beforeAll(async () => {
    S = await build(prec);
  });
  const tol = TOL[prec];

  /** Inputs spread over [−1.3B, 1.3B]: inside and both tails. */
  const xsFor = (B: number, seed: number, count = 60) => {
    const r = rng(seed);
    return Array.from({ length: count }, () => S.round((2 * r.u() - 1) * 1.3 * B));
  };

  it.each(CASES)("matches the reference and inverts (K=$K, B=$B)", ({ K, B }) => {
    for (let seed = 1; seed <= 4; seed++) {
      const theta = params(K, seed).map((v) => S.round(v));
      S.setParams(theta);
      for (const x of xsFor(B, seed)) {
        const f = S.fwd(x, K, B), ref = reference(x, theta, K, B);
        expect(Math.abs(f.y - ref.y), `y at ${x}`).toBeLessThan(tol.y * Math.max(1, B));
        expect(Math.abs(f.ld - ref.ld), `ld at ${x}`).toBeLessThan(tol.ld * Math.max(1, Math.abs(ref.ld)));
        const b = S.inv(f.y, K, B);
        expect(Math.abs(b.x - x), `inverse at ${x}`).toBeLessThan(tol.inv * Math.max(1, B) * Math.max(1, Math.exp(-ref.ld)));
        expect(Math.abs(b.ld + f.ld), `log-dets sum to 0 at ${x}`).toBeLessThan(tol.ld * Math.max(1, Math.abs(f.ld)));
        if (Math.abs(x) > B) {
          expect(f.y).toBe(x);
          expect(f.ld).toBe(0);
        }
      }
    }
  });

  it.each(CASES)("is monotone, maps [−B, B] onto itself and joins the tails (K=$K, B=$B)", ({ K, B }) => {
    const theta = params(K, 7, 2.5).map((v) => S.round(v));
    S.setParams(theta);
    expect(Math.abs(S.fwd(-B, K, B).y + B)).toBeLessThan(tol.y * B);
    expect(Math.abs(S.fwd(B, K, B).y - B)).toBeLessThan(tol.y * B);
    // The boundary derivatives are 1, so the log-derivative vanishes at ±B.
    expect(Math.abs(S.fwd(-B, K, B).ld)).toBeLessThan(tol.ld);
    expect(Math.abs(S.fwd(B, K, B).ld)).toBeLessThan(tol.ld);
    let prev = -Infinity;
    const steps = 4000;
    for (let i = 0; i <= steps; i++) {
      const x = S.round(-1.2 * B + (2.4 * B * i) / steps);
      const { y, ld } = S.fwd(x, K, B);
      expect(Number.isFinite(y) && Number.isFinite(ld)).toBe(true);
      if (prec === "f64") expect(y, `increasing at ${x}`).toBeGreaterThan(prev);
      else expect(y, `non-decreasing at ${x}`).toBeGreaterThanOrEqual(prev);
      prev = y;
    }
  });

  it("reads parameters with a stride and ignores what lies between them", () => {
    const K = 5, B = 2, theta = params(K, 11).map((v) => S.round(v));
    for (const x of xsFor(B, 12, 20)) {
      S.setParams(theta, 1);
      const a = S.fwd(x, K, B), ga = S.bwd(x, K, B, 0.3, -0.8);
      const ia = S.inv(a.y, K, B);
      S.setParams(theta, 3);
      const b = S.fwd(x, K, B, 3), gb = S.bwd(x, K, B, 0.3, -0.8, 3);
      const ib = S.inv(a.y, K, B, 3);
      expect([b.y, b.ld, ib.x, ib.ld, gb.gx, ...gb.g]).toEqual([a.y, a.ld, ia.x, ia.ld, ga.gx, ...ga.g]);
    }
  });

  it("stays finite at ±B, at and next to every knot, and far outside", () => {
    /** The k-th representable neighbour of v in the harness precision (k < 0: below). */
    const ulps = (v: number, k: number) => {
      if (v === 0) return k * (prec === "f32" ? 1.401298464324817e-45 : 5e-324);
      if (prec === "f32") {
        const b = new Float32Array([v]), i = new Int32Array(b.buffer);
        i[0] += v > 0 ? k : -k;
        return b[0];
      }
      const b = new Float64Array([v]), i = new BigInt64Array(b.buffer);
      i[0] += BigInt(v > 0 ? k : -k);
      return b[0];
    };
    for (const { K, B } of CASES) {
      // Ordinary and extreme parameters: logits far apart, huge and tiny derivatives.
      const sets = [params(K, 21), params(K, 22, 30), params(K, 23, 0).map((_, i) => (i % 2 ? 60 : -60))];
      for (const raw of sets) {
        const theta = raw.map((v) => S.round(v));
        S.setParams(theta);
        const pts = [-B, B, ...knots(theta.slice(0, K), B)];
        const xs: number[] = [-1e4, 1e4, ulps(S.round(-B), -1), ulps(S.round(B), 1)];
        for (const p of pts) for (let k = -3; k <= 3; k++) xs.push(ulps(S.round(p), k));
        for (const x of xs) {
          const f = S.fwd(x, K, B);
          const i = S.inv(f.y, K, B);
          const g = S.bwd(x, K, B, 1.1, 0.7);
          const all = [f.y, f.ld, i.x, i.ld, g.gx, ...g.g];
          expect(all.every(Number.isFinite), `finite at x=${x} (K=${K}, B=${B})`).toBe(true);
          if (!(x >= -B && x <= B)) {
            expect([f.y, f.ld, i.x, i.ld, g.gx]).toEqual([x, 0, x, 0, S.round(1.1)]);
            expect(g.g.every((v) => v === 0)).toBe(true);
          } else {
            // Extreme parameters make slopes near 1e-6, where rounding y alone moves x by ulp(y)·dx/dy.
            const cond = Math.max(1, Math.exp(-f.ld));
            expect(Math.abs(i.x - x), `round trip at x=${x} (K=${K}, B=${B}, dx/dy=${cond})`).toBeLessThan(10 * tol.inv * B * cond);
          }
        }
        // The knots of the heights are where the inverse changes bin.
        for (const p of knots(theta.slice(K, 2 * K), B)) {
          for (let k = -2; k <= 2; k++) {
            const y = ulps(S.round(p), k);
            const i = S.inv(y, K, B);
            expect(Number.isFinite(i.x) && Number.isFinite(i.ld), `inverse finite at y=${y}`).toBe(true);
          }
        }
      }
    }
  });

  it.each(CASES)("log-derivative and gradients match central differences (K=$K, B=$B)", ({ K, B }) => {
    // f64: tight differences; f32: a coarse step, loose tolerance (the f64 module is the precise check).
    const h = prec === "f64" ? 1e-6 : 2e-3;
    const rel = prec === "f64" ? 2e-6 : 3e-2;
    const gy = 0.9, gl = -0.6;
    for (let seed = 30; seed < 33; seed++) {
      const theta = params(K, seed).map((v) => S.round(v));
      S.setParams(theta);
      const cw = knots(theta.slice(0, K), B);
      // Keep clear of knots: the second derivative jumps there.
      const xs = xsFor(B, seed, 12).filter((x) => cw.every((c) => Math.abs(x - c) > 20 * h) && Math.abs(Math.abs(x) - B) > 20 * h);
      for (const x of xs) {
        const f0 = S.fwd(x, K, B);
        const fp = S.fwd(x + h, K, B), fm = S.fwd(x - h, K, B);
        const dydx = (fp.y - fm.y) / (2 * h);
        expect(Math.abs(f0.ld - Math.log(dydx)), `log-derivative at ${x}`).toBeLessThan(rel * Math.max(1, Math.abs(f0.ld)));
        const loss = (v: { y: number; ld: number }) => gy * v.y + gl * v.ld;
        const { gx, g } = S.bwd(x, K, B, gy, gl);
        const fdx = (loss(fp) - loss(fm)) / (2 * h);
        const scale = Math.max(1, Math.abs(fdx), ...g.map(Math.abs));
        expect(Math.abs(gx - fdx), `∂L/∂x at ${x}`).toBeLessThan(rel * scale);
        for (let i = 0; i < theta.length; i++) {
          const tp = theta.slice(), tm = theta.slice();
          tp[i] += h;
          tm[i] -= h;
          S.setParams(tp);
          const lp = loss(S.fwd(x, K, B));
          S.setParams(tm);
          const lm = loss(S.fwd(x, K, B));
          const fd = (lp - lm) / (2 * h);
          expect(Math.abs(g[i] - fd), `∂L/∂θ[${i}] at x=${x}`).toBeLessThan(rel * scale);
        }
        S.setParams(theta);
      }
    }
  });
});

describe("f32 against f64", () => {
  let s32: Spline, s64: Spline;
  beforeAll(async () => {
    [s32, s64] = await Promise.all([build("f32"), build("f64")]);
  });

  it.each(CASES)("forward, inverse and backward agree (K=$K, B=$B)", ({ K, B }) => {
    for (let seed = 40; seed < 44; seed++) {
      const theta = params(K, seed).map(Math.fround);
      s32.setParams(theta);
      s64.setParams(theta);
      const r = rng(seed);
      for (let i = 0; i < 40; i++) {
        const x = Math.fround((2 * r.u() - 1) * 1.3 * B);
        const a = s32.fwd(x, K, B), b = s64.fwd(x, K, B);
        expect(Math.abs(a.y - b.y)).toBeLessThan(1e-5 * Math.max(1, B));
        expect(Math.abs(a.ld - b.ld)).toBeLessThan(1e-3 * Math.max(1, Math.abs(b.ld)));
        const ia = s32.inv(Math.fround(b.y), K, B), ib = s64.inv(Math.fround(b.y), K, B);
        expect(Math.abs(ia.x - ib.x)).toBeLessThan(2e-6 * Math.max(1, B) * Math.max(1, Math.exp(-b.ld)));
        const ga = s32.bwd(x, K, B, 0.8, 0.5), gb = s64.bwd(x, K, B, 0.8, 0.5);
        const scale = Math.max(1, Math.abs(gb.gx), ...gb.g.map(Math.abs));
        expect(Math.abs(ga.gx - gb.gx)).toBeLessThan(3e-3 * scale);
        for (let k = 0; k < gb.g.length; k++) expect(Math.abs(ga.g[k] - gb.g[k]), `∂θ[${k}]`).toBeLessThan(3e-3 * scale);
      }
    }
  });
});

describe("coupling spline in f32", () => {
  it.each([
    ["input [5]\ncoupling spline bins=8 tail=1 mask=alternate net=mlp(hidden=8, depth=1)\ncoupling spline bins=4 tail=1 mask=alternate net=mlp(hidden=8, depth=1)\n"],
    ["input [2, 3, 4]\ncoupling spline bins=4 tail=1 mask=checker net=conv(hidden=8, kernel=3)\n"],
  ])("round-trips inside and outside the tails and stays finite far out: %s", async (spec) => {
    const res = await compile(spec, { filename: "s.flow", precision: "f32", chunk: 8 });
    expect(res.wasm, res.diagnostics.map((d) => d.message).join("\n")).toBeTruthy();
    const flow = await loadFlow(res.wasm!);
    flow.initialize({ seed: 1 });
    const r = rng(5);
    const P = flow.getParams();
    for (const p of flow.manifest.params) if (p.trainable) for (let k = 0; k < p.size; k++) P[p.offset + k] += 0.3 * r.n();
    flow.setParams(P);
    const rows = 24, D = flow.eventSize;
    const x = Float32Array.from({ length: rows * D }, () => 1.5 * r.n());
    for (let k = 0; k < D; k++) x[(rows - 1) * D + k] = k % 2 ? 1e4 : -1e4;
    const { z, logDet } = flow.forward(x);
    const back = flow.inverse(z);
    for (let k = 0; k < x.length; k++) expect(Math.abs(back.x[k] - x[k]) / Math.max(1, Math.abs(x[k])), `x[${k}]`).toBeLessThan(1e-4);
    for (let i = 0; i < rows; i++) {
      expect(Number.isFinite(logDet[i])).toBe(true);
      expect(Math.abs(logDet[i] + back.logDet[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(logDet[i])));
    }
    const lp = flow.logProb(x);
    expect(Array.from(lp).every(Number.isFinite)).toBe(true);
    const trainer = flow.trainer({ lr: 1e-3, batchSize: rows });
    expect(Number.isFinite(trainer.step(x.subarray(0, (rows - 1) * D)))).toBe(true);
    expect(Array.from(flow.getParams()).every(Number.isFinite)).toBe(true);
  });
});
