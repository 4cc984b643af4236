/**
 * @fileoverview Tests of the AssemblyScript runtime library
 * (runtime-wasm/assembly/*) in both precisions: each area gets a small
 * harness module that re-exports the library functions, and results are
 * compared with plain JavaScript references computed in f64.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { compileAssemblyScript, type Precision } from "../compiler/codegen/asc.ts";
import { convTmpSize } from "../compiler/layers/nets/conv.ts";
import { mulberry32 } from "../runtime-wasm/host/init.ts";

type Exports = Record<string, (...args: number[]) => number> & { memory: WebAssembly.Memory };

/** A compiled harness plus a bump allocator over its memory above heap_base. */
class Harness {
  readonly size: number;
  private next: number;
  private readonly base: number;

  constructor(readonly ex: Exports, readonly prec: Precision) {
    this.size = prec === "f32" ? 4 : 8;
    this.base = align(ex.heap_base());
    this.next = this.base;
  }

  reset(): void {
    this.next = this.base;
  }

  /** Reserves `count` F (16-byte aligned) and returns the byte address. */
  alloc(count: number): number {
    const p = this.next;
    this.next = align(p + Math.max(1, count) * this.size);
    const need = this.next - this.ex.memory.buffer.byteLength;
    if (need > 0) this.ex.memory.grow(Math.ceil(need / 65536));
    return p;
  }

  view(p: number, count: number): Float32Array | Float64Array {
    return this.prec === "f32" ? new Float32Array(this.ex.memory.buffer, p, count) : new Float64Array(this.ex.memory.buffer, p, count);
  }

  put(data: ArrayLike<number>): number {
    const p = this.alloc(data.length);
    this.view(p, data.length).set(data);
    return p;
  }

  get(p: number, count: number): number[] {
    return Array.from(this.view(p, count));
  }

  /** Rounds values to the harness precision, as storing them would. */
  round(data: number[]): number[] {
    return this.prec === "f32" ? Array.from(Float32Array.from(data)) : data;
  }
}

const align = (p: number) => (p + 15) & ~15;

async function harness(src: string, prec: Precision): Promise<Harness> {
  const full = `export function heap_base(): usize { return __heap_base; }\n${src}`;
  const { wasm, errors } = await compileAssemblyScript({ "main.ts": full }, "main.ts", prec);
  if (!wasm) throw new Error(errors);
  const module = await WebAssembly.compile(wasm as BufferSource);
  const env: Record<string, unknown> = { abort() { throw new Error("abort"); } };
  // Modules may import their memory (shared when built for threads): hand them one they accept.
  let memory: WebAssembly.Memory | null = null;
  if (WebAssembly.Module.imports(module).some((i) => i.kind === "memory")) {
    for (const shared of [false, true]) {
      const m = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared } as WebAssembly.MemoryDescriptor);
      try {
        new WebAssembly.Instance(module, { env: { ...env, memory: m } });
        memory = m;
        break;
      } catch (e) {
        if (!(e instanceof WebAssembly.LinkError)) throw e;
      }
    }
    env.memory = memory;
  }
  const instance = await WebAssembly.instantiate(module, { env } as WebAssembly.Imports);
  const ex = memory ? { ...instance.exports, memory } : instance.exports;
  return new Harness(ex as unknown as Exports, prec);
}

/** A tiny seeded generator for test data (the host's mulberry32). */
const rand = mulberry32;

function uniform(r: () => number, n: number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
}

const EPS: Record<Precision, number> = { f32: 1.2e-7, f64: 2.3e-16 };
const PRECS: Precision[] = ["f32", "f64"];

// ---------------------------------------------------------------------------
// dense
// ---------------------------------------------------------------------------

const DENSE_SRC = `
import { dense_fwd, dense_bwd_x, dense_bwd_w } from "./lib/dense";
export function fwd(W: usize, b: usize, x: usize, y: usize, n: i32, IN: i32, OUT: i32, xs: i32, ys: i32): void { dense_fwd(W, b, x, y, n, IN, OUT, xs, ys); }
export function bwd_x(W: usize, gy: usize, gx: usize, n: i32, IN: i32, OUT: i32, gys: i32, gxs: i32): void { dense_bwd_x(W, gy, gx, n, IN, OUT, gys, gxs); }
export function bwd_w(x: usize, gy: usize, gW: usize, gb: usize, n: i32, IN: i32, OUT: i32, xs: i32, gys: i32): void { dense_bwd_w(x, gy, gW, gb, n, IN, OUT, xs, gys); }
`;

/** Checks got ≈ want where `scale` bounds the magnitude of the summed terms. */
function close(got: number, want: number, scale: number, tol: number): boolean {
  return Math.abs(got - want) <= tol * (scale + 1e-30);
}

describe.each(PRECS)("dense (%s)", (prec) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(DENSE_SRC, prec);
  });

  const SIZES = [1, 2, 3, 5, 8, 17, 64];
  const ROWS = [1, 3, 7, 64];

  it("forward, backward-x and backward-w match references for every shape", () => {
    const r = rand(1);
    let checked = 0;
    for (const IN of SIZES) {
      for (const OUT of SIZES) {
        for (const n of ROWS) {
          for (const bias of [true, false]) {
            h.reset();
            // Strides wider than the rows; the padding must never be written.
            const xs = IN + 3, ys = OUT + 2;
            const W = h.round(uniform(r, OUT * IN));
            const b = h.round(uniform(r, OUT));
            const x = h.round(uniform(r, n * xs));
            const pad = -777.25;
            const y0 = new Array(n * ys).fill(pad);
            const pW = h.put(W), pb = bias ? h.put(b) : 0, px = h.put(x), py = h.put(y0);
            h.ex.fwd(pW, pb, px, py, n, IN, OUT, xs, ys);
            const y = h.get(py, n * ys);
            const tol = (IN + 2) * EPS[prec] * 4;
            for (let row = 0; row < n; row++) {
              for (let o = 0; o < ys; o++) {
                const got = y[row * ys + o];
                if (o >= OUT) { if (got !== pad) expect.fail(`fwd wrote padding at r=${row} o=${o}`); continue; }
                let s = bias ? b[o] : 0, m = Math.abs(s);
                for (let i = 0; i < IN; i++) { s += W[o * IN + i] * x[row * xs + i]; m += Math.abs(W[o * IN + i] * x[row * xs + i]); }
                if (!close(got, s, m, tol)) expect.fail(`fwd IN=${IN} OUT=${OUT} n=${n} r=${row} o=${o}: ${got} vs ${s}`);
              }
            }

            // bwd_x overwrites gx, so start from NaN to prove every entry is written.
            const gys = OUT + 1, gxs = IN + 5;
            const gy = h.round(uniform(r, n * gys));
            const gx0 = Array.from({ length: n * gxs }, (_, k) => (k % gxs < IN ? NaN : pad));
            const pgy = h.put(gy), pgx = h.put(gx0);
            h.ex.bwd_x(pW, pgy, pgx, n, IN, OUT, gys, gxs);
            const gx = h.get(pgx, n * gxs);
            for (let row = 0; row < n; row++) {
              for (let i = 0; i < gxs; i++) {
                const got = gx[row * gxs + i];
                if (i >= IN) { if (got !== pad) expect.fail(`bwd_x wrote padding at r=${row} i=${i}`); continue; }
                let s = 0, m = 0;
                for (let o = 0; o < OUT; o++) { s += gy[row * gys + o] * W[o * IN + i]; m += Math.abs(gy[row * gys + o] * W[o * IN + i]); }
                if (!close(got, s, m, (OUT + 2) * EPS[prec] * 4)) expect.fail(`bwd_x IN=${IN} OUT=${OUT} n=${n} r=${row} i=${i}: ${got} vs ${s}`);
              }
            }

            // bwd_w accumulates into whatever gW and gb hold.
            const gW0 = h.round(uniform(r, OUT * IN)), gb0 = h.round(uniform(r, OUT));
            const pgW = h.put(gW0), pgb = bias ? h.put(gb0) : 0;
            h.ex.bwd_w(px, pgy, pgW, pgb, n, IN, OUT, xs, gys);
            const gW = h.get(pgW, OUT * IN);
            const wtol = (n + 2) * EPS[prec] * 4;
            for (let o = 0; o < OUT; o++) {
              for (let i = 0; i < IN; i++) {
                let s = gW0[o * IN + i], m = Math.abs(s);
                for (let row = 0; row < n; row++) { s += gy[row * gys + o] * x[row * xs + i]; m += Math.abs(gy[row * gys + o] * x[row * xs + i]); }
                if (!close(gW[o * IN + i], s, m, wtol)) expect.fail(`bwd_w IN=${IN} OUT=${OUT} n=${n} o=${o} i=${i}: ${gW[o * IN + i]} vs ${s}`);
              }
            }
            if (bias) {
              const gb = h.get(pgb, OUT);
              for (let o = 0; o < OUT; o++) {
                let s = gb0[o], m = Math.abs(s);
                for (let row = 0; row < n; row++) { s += gy[row * gys + o]; m += Math.abs(gy[row * gys + o]); }
                if (!close(gb[o], s, m, wtol)) expect.fail(`bwd_b IN=${IN} OUT=${OUT} n=${n} o=${o}: ${gb[o]} vs ${s}`);
              }
            }
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(SIZES.length * SIZES.length * ROWS.length * 2);
  });

  it("handles contiguous rows and a zero-row chunk", () => {
    h.reset();
    const r = rand(2);
    const IN = 6, OUT = 9, n = 5;
    const W = h.round(uniform(r, OUT * IN)), x = h.round(uniform(r, n * IN));
    const pW = h.put(W), px = h.put(x), py = h.alloc(n * OUT);
    h.ex.fwd(pW, 0, px, py, n, IN, OUT, IN, OUT);
    const y = h.get(py, n * OUT);
    for (let row = 0; row < n; row++) {
      for (let o = 0; o < OUT; o++) {
        let s = 0;
        for (let i = 0; i < IN; i++) s += W[o * IN + i] * x[row * IN + i];
        expect(Math.abs(y[row * OUT + o] - s)).toBeLessThan(1e-5);
      }
    }
    const before = h.get(py, n * OUT);
    h.ex.fwd(pW, 0, px, py, 0, IN, OUT, IN, OUT);
    expect(h.get(py, n * OUT)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------
// convolutions
// ---------------------------------------------------------------------------

const CONV_SRC = `
import { conv_fwd, conv_bwd_x, conv_bwd_w, conv_tmp_size, conv_pack, conv_packed_size, conv_fwd_packed } from "./lib/conv";
export function tmp_size(CIN: i32, COUT: i32, H: i32, W: i32, K: i32): i32 { return conv_tmp_size(CIN, COUT, H, W, K); }
export function packed_size(CIN: i32, COUT: i32, K: i32): i32 { return conv_packed_size(CIN, COUT, K); }
export function pack(W: usize, Wp: usize, CIN: i32, COUT: i32, K: i32, flip: i32): void { conv_pack(W, Wp, CIN, COUT, K, flip != 0); }
export function fwd(W: usize, b: usize, x: usize, y: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, xs: i32, ys: i32, tmp: usize): void { conv_fwd(W, b, x, y, n, CIN, COUT, H, W_, K, xs, ys, tmp); }
export function fwd_packed(Wp: usize, b: usize, x: usize, y: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, xs: i32, ys: i32, tmp: usize): void { conv_fwd_packed(Wp, b, x, y, n, CIN, COUT, H, W_, K, xs, ys, tmp); }
export function bwd_x(W: usize, gy: usize, gx: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, gys: i32, gxs: i32, tmp: usize): void { conv_bwd_x(W, gy, gx, n, CIN, COUT, H, W_, K, gys, gxs, tmp); }
export function bwd_w(x: usize, gy: usize, gW: usize, gb: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, xs: i32, gys: i32, tmp: usize): void { conv_bwd_w(x, gy, gW, gb, n, CIN, COUT, H, W_, K, xs, gys, tmp); }
`;

/** out[o][h][w] = Σ W[o][c][ky][kx]·x[c][h+ky−p][w+kx−p] (zero outside), with |terms| summed alongside. */
function convRef(W: number[], x: number[], xo: number, CIN: number, COUT: number, H: number, Wd: number, K: number): { s: number[]; m: number[] } {
  const p = K >> 1, s = new Array(COUT * H * Wd).fill(0), m = new Array(COUT * H * Wd).fill(0);
  for (let o = 0; o < COUT; o++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < Wd; w++)
        for (let c = 0; c < CIN; c++)
          for (let ky = 0; ky < K; ky++)
            for (let kx = 0; kx < K; kx++) {
              const ih = h + ky - p, iw = w + kx - p;
              if (ih < 0 || ih >= H || iw < 0 || iw >= Wd) continue;
              const t = W[((o * CIN + c) * K + ky) * K + kx] * x[xo + (c * H + ih) * Wd + iw];
              s[(o * H + h) * Wd + w] += t;
              m[(o * H + h) * Wd + w] += Math.abs(t);
            }
  return { s, m };
}

describe.each(PRECS)("conv (%s)", (prec) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(CONV_SRC, prec);
  });

  // [CIN, COUT, H, W, K]: channel counts on both sides of every tile width (1–5, 8, 9, 13),
  // widths below, at and past a pixel run, planes whose size is and is not a multiple of 4.
  const SHAPES: [number, number, number, number, number][] = [
    [1, 1, 1, 1, 1], [1, 1, 1, 1, 3], [3, 5, 4, 6, 3], [2, 7, 5, 3, 3], [5, 6, 7, 7, 1], [4, 9, 6, 5, 1],
    [3, 4, 8, 8, 1], [2, 3, 6, 7, 5], [6, 2, 3, 9, 3], [9, 13, 7, 7, 3], [4, 8, 14, 14, 3], [13, 3, 2, 17, 3],
    [8, 16, 5, 5, 1], [1, 12, 10, 11, 3],
  ];

  it("the emitters reserve exactly the scratch the kernels use", () => {
    for (const [CIN, COUT, H, Wd, K] of [...SHAPES, [2, 128, 14, 14, 3], [128, 128, 7, 7, 1], [128, 8, 7, 7, 3]] as const) {
      expect(convTmpSize(CIN, COUT, H, Wd, K), `${CIN}→${COUT} ${H}×${Wd} K=${K}`).toBe(h.ex.tmp_size(CIN, COUT, H, Wd, K));
    }
  });

  it("forward (plain and packed), backward-x and backward-w match references", () => {
    const r = rand(5);
    for (const [CIN, COUT, H, Wd, K] of SHAPES) {
      for (const n of [1, 3]) {
        h.reset();
        const HW = H * Wd, T = CIN * K * K;
        const xs = CIN * HW + 3, ys = COUT * HW + 2;
        const W = h.round(uniform(r, COUT * T)), b = h.round(uniform(r, COUT));
        const x = h.round(uniform(r, n * xs));
        const tmp = h.alloc(Math.max(h.ex.tmp_size(CIN, COUT, H, Wd, K), h.ex.tmp_size(COUT, CIN, H, Wd, K)) + 1);
        const pad = -777.25;
        const pW = h.put(W), pb = h.put(b), px = h.put(x);
        const tol = (T + 2) * EPS[prec] * 4;
        const name = `CIN=${CIN} COUT=${COUT} ${H}×${Wd} K=${K} n=${n}`;
        const check = (label: string, got: number[], stride: number, C: number, want: (row: number) => { s: number[]; m: number[] }, t: number) => {
          for (let row = 0; row < n; row++) {
            const ref = want(row);
            for (let i = 0; i < stride; i++) {
              const g = got[row * stride + i];
              if (i >= C * HW) { if (g !== pad) expect.fail(`${label} ${name}: wrote padding at r=${row} i=${i}`); continue; }
              if (!close(g, ref.s[i], ref.m[i], t)) expect.fail(`${label} ${name}: r=${row} i=${i}: ${g} vs ${ref.s[i]}`);
            }
          }
        };
        const fwdRef = (withBias: boolean) => (row: number) => {
          const ref = convRef(W, x, row * xs, CIN, COUT, H, Wd, K);
          if (withBias) for (let i = 0; i < COUT * HW; i++) { const o = Math.floor(i / HW); ref.s[i] += b[o]; ref.m[i] += Math.abs(b[o]); }
          return ref;
        };
        for (const bias of [true, false]) {
          const py = h.put(new Array(n * ys).fill(pad));
          h.ex.fwd(pW, bias ? pb : 0, px, py, n, CIN, COUT, H, Wd, K, xs, ys, tmp);
          check(`fwd${bias ? "" : " (no bias)"}`, h.get(py, n * ys), ys, COUT, fwdRef(bias), tol);
        }
        const pWp = h.alloc(h.ex.packed_size(CIN, COUT, K));
        h.ex.pack(pW, pWp, CIN, COUT, K, 0);
        const pyp = h.put(new Array(n * ys).fill(pad));
        h.ex.fwd_packed(pWp, pb, px, pyp, n, CIN, COUT, H, Wd, K, xs, ys, tmp);
        check("fwd_packed", h.get(pyp, n * ys), ys, COUT, fwdRef(true), tol);

        // Input gradient: the adjoint, so Σ gx·x = Σ gy·conv(x) holds entry by entry through the transposed reference.
        const gys = COUT * HW + 1, gxs = CIN * HW + 5;
        const gy = h.round(uniform(r, n * gys));
        const Wt = new Array(CIN * COUT * K * K);
        for (let o = 0; o < COUT; o++) for (let c = 0; c < CIN; c++) for (let q = 0; q < K * K; q++) Wt[(c * COUT + o) * K * K + (K * K - 1 - q)] = W[(o * CIN + c) * K * K + q];
        const bxRef = (row: number) => convRef(Wt, gy, row * gys, COUT, CIN, H, Wd, K);
        const pgy = h.put(gy);
        const pgx = h.put(Array.from({ length: n * gxs }, (_, k) => (k % gxs < CIN * HW ? NaN : pad)));
        h.ex.bwd_x(pW, pgy, pgx, n, CIN, COUT, H, Wd, K, gys, gxs, tmp);
        const btol = (COUT * K * K + 2) * EPS[prec] * 4;
        check("bwd_x", h.get(pgx, n * gxs), gxs, CIN, bxRef, btol);
        const pWt = h.alloc(h.ex.packed_size(COUT, CIN, K));
        h.ex.pack(pW, pWt, CIN, COUT, K, 1);
        const pgx2 = h.put(Array.from({ length: n * gxs }, (_, k) => (k % gxs < CIN * HW ? NaN : pad)));
        h.ex.fwd_packed(pWt, 0, pgy, pgx2, n, COUT, CIN, H, Wd, K, gys, gxs, tmp);
        check("bwd_x (packed flip)", h.get(pgx2, n * gxs), gxs, CIN, bxRef, btol);

        // Weight gradient accumulates into whatever gW and gb hold.
        const gW0 = h.round(uniform(r, COUT * T)), gb0 = h.round(uniform(r, COUT));
        const pgW = h.put(gW0), pgb = h.put(gb0);
        h.ex.bwd_w(px, pgy, pgW, pgb, n, CIN, COUT, H, Wd, K, xs, gys, tmp);
        const gW = h.get(pgW, COUT * T), gb = h.get(pgb, COUT);
        const p = K >> 1, wtol = (n * HW + 2) * EPS[prec] * 4;
        for (let o = 0; o < COUT; o++) {
          let sb = gb0[o], mb = Math.abs(sb);
          for (let row = 0; row < n; row++) for (let q = 0; q < HW; q++) { const g = gy[row * gys + o * HW + q]; sb += g; mb += Math.abs(g); }
          if (!close(gb[o], sb, mb, wtol)) expect.fail(`bwd_b ${name} o=${o}: ${gb[o]} vs ${sb}`);
          for (let c = 0; c < CIN; c++)
            for (let ky = 0; ky < K; ky++)
              for (let kx = 0; kx < K; kx++) {
                const j = ((o * CIN + c) * K + ky) * K + kx;
                let s = gW0[j], m = Math.abs(s);
                for (let row = 0; row < n; row++)
                  for (let hh = 0; hh < H; hh++)
                    for (let w = 0; w < Wd; w++) {
                      const ih = hh + ky - p, iw = w + kx - p;
                      if (ih < 0 || ih >= H || iw < 0 || iw >= Wd) continue;
                      const t = gy[row * gys + o * HW + hh * Wd + w] * x[row * xs + (c * H + ih) * Wd + iw];
                      s += t; m += Math.abs(t);
                    }
                if (!close(gW[j], s, m, wtol)) expect.fail(`bwd_w ${name} o=${o} c=${c} ky=${ky} kx=${kx}: ${gW[j]} vs ${s}`);
              }
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------
// math and activations
// ---------------------------------------------------------------------------

const ACT_SRC = `
import { F } from "./lib/prec";
import { act_fwd, act_bwd, act_s, act_ds } from "./lib/act";
import { erf_, erfc_, sigmoid_, softplus_, logsigmoid_, exp_, log1p_, expm1_ } from "./lib/math";
export function fwd(kind: i32, x: usize, y: usize, count: i32): void { act_fwd(kind, x, y, count); }
export function bwd(kind: i32, x: usize, gy: usize, gx: usize, count: i32): void { act_bwd(kind, x, gy, gx, count); }
export function s(kind: i32, v: f64): f64 { return <f64>act_s(kind, <F>v); }
export function ds(kind: i32, v: f64): f64 { return <f64>act_ds(kind, <F>v); }
export function erf(v: f64): f64 { return <f64>erf_(<F>v); }
export function erfc(v: f64): f64 { return <f64>erfc_(<F>v); }
export function sigmoid(v: f64): f64 { return <f64>sigmoid_(<F>v); }
export function softplus(v: f64): f64 { return <f64>softplus_(<F>v); }
export function logsigmoid(v: f64): f64 { return <f64>logsigmoid_(<F>v); }
export function exp(v: f64): f64 { return <f64>exp_(<F>v); }
export function log1p(v: f64): f64 { return <f64>log1p_(<F>v); }
export function expm1(v: f64): f64 { return <f64>expm1_(<F>v); }
`;

// [x, erf(x), erfc(x)], computed to 40 digits.
const ERF_TABLE: [number, number, number][] = [
  [-9.0, -1.0, 2.0],
  [-6.5, -1.0, 2.0],
  [-5.2, -0.9999999999998075, 1.9999999999998075],
  [-4.0, -0.9999999845827421, 1.999999984582742],
  [-3.3, -0.9999969422902035, 1.9999969422902035],
  [-2.5, -0.999593047982555, 1.999593047982555],
  [-1.7, -0.9837904585907745, 1.9837904585907746],
  [-1.0, -0.8427007929497149, 1.8427007929497148],
  [-0.999, -0.8422852702064969, 1.842285270206497],
  [-0.6, -0.6038560908479259, 1.6038560908479258],
  [-0.25, -0.27632639016823696, 1.276326390168237],
  [-0.001, -0.0011283787909692365, 1.0011283787909693],
  [0.0, 0.0, 1.0],
  [1e-8, 1.1283791670955126e-8, 0.9999999887162083],
  [0.1, 0.1124629160182849, 0.887537083981715],
  [0.5, 0.5204998778130465, 0.4795001221869535],
  [0.9, 0.7969082124228322, 0.20309178757716786],
  [1.0, 0.8427007929497149, 0.15729920705028513],
  [1.01, 0.8468104962282768, 0.1531895037717233],
  [1.5, 0.9661051464753108, 0.033894853524689274],
  [1.99, 0.995111413199617, 0.004888586800383003],
  [2.0, 0.9953222650189527, 0.004677734981047266],
  [2.7, 0.9998656672600594, 0.0001343327399405242],
  [3.5, 0.9999992569016276, 7.430983723414128e-7],
  [4.4, 0.999999999510829, 4.891710270605872e-10],
  [5.9, 0.9999999999999999, 7.190409783550478e-17],
  [6.0, 1.0, 2.1519736712498913e-17],
  [6.3, 1.0, 5.124221687395715e-19],
  [8.0, 1.0, 1.1224297172982926e-29],
  [12.0, 1.0, 1.3562611692059042e-64],
  [26.0, 1.0, 5.663192408856143e-296],
];

const ACTS = { relu: 0, tanh: 1, elu: 2, gelu: 3, none: 4 } as const;

describe.each(PRECS)("math and activations (%s)", (prec) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(ACT_SRC, prec);
  });

  it("erf and erfc match 40-digit values", () => {
    for (const [x, e, c] of ERF_TABLE) {
      const xr = h.round([x])[0];
      if (prec === "f32" && xr !== x) continue;
      expect(Math.abs(h.ex.erf(x) - e), `erf(${x})`).toBeLessThanOrEqual(prec === "f64" ? 2.3e-16 : 1.2e-7);
      // erfc keeps relative accuracy in the tail (f32 until it underflows).
      const rel = prec === "f64" ? 4e-15 : 2e-6;
      if (prec === "f32" && c < 1e-37) { expect(h.ex.erfc(x)).toBeLessThan(1e-36); continue; }
      expect(Math.abs(h.ex.erfc(x) - c) / c, `erfc(${x})`).toBeLessThanOrEqual(rel);
    }
  });

  it("erf is odd and monotone on a fine grid", () => {
    let prev = -1;
    for (let k = -700; k <= 700; k++) {
      const x = k / 100;
      const v = h.ex.erf(x);
      expect(v + h.ex.erf(-x)).toBe(0);
      expect(v).toBeGreaterThanOrEqual(prev);
      prev = v;
    }
  });

  it("sigmoid, softplus and logsigmoid stay finite and exact at large |x|", () => {
    expect(h.ex.sigmoid(200)).toBe(1);
    expect(h.ex.sigmoid(-200)).toBe(prec === "f64" ? Math.exp(-200) : 0);
    expect(h.ex.sigmoid(0)).toBe(0.5);
    expect(h.ex.softplus(500)).toBe(500);
    expect(h.ex.softplus(-50) / Math.exp(-50)).toBeCloseTo(1, 5);
    expect(h.ex.logsigmoid(-500)).toBe(-500);
    expect(h.ex.logsigmoid(50)).toBeLessThan(0);
    for (const x of [-3, -0.5, 0.25, 2]) {
      const s = 1 / (1 + Math.exp(-x));
      expect(h.ex.sigmoid(x)).toBeCloseTo(s, prec === "f64" ? 14 : 6);
      expect(h.ex.softplus(x)).toBeCloseTo(Math.log1p(Math.exp(x)), prec === "f64" ? 14 : 6);
      expect(h.ex.logsigmoid(x)).toBeCloseTo(Math.log(s), prec === "f64" ? 14 : 6);
      expect(h.ex.exp(x)).toBeCloseTo(Math.exp(x), prec === "f64" ? 14 : 5);
      expect(h.ex.expm1(x)).toBeCloseTo(Math.expm1(x), prec === "f64" ? 14 : 6);
      expect(h.ex.log1p(Math.abs(x))).toBeCloseTo(Math.log1p(Math.abs(x)), prec === "f64" ? 14 : 6);
    }
  });

  const REF: Record<string, (v: number) => number> = {
    relu: (v) => Math.max(v, 0),
    tanh: Math.tanh,
    elu: (v) => (v > 0 ? v : Math.expm1(v)),
    none: (v) => v,
  };

  it.each(Object.keys(ACTS))("%s: array forms agree with scalar forms and references", (name) => {
    h.reset();
    const kind = ACTS[name as keyof typeof ACTS];
    const count = 37; // not a multiple of the vector width
    const x = h.round(uniform(rand(3), count, -6, 6).map((v, i) => (i === 5 ? 0 : v)));
    const gy = h.round(uniform(rand(4), count));
    const px = h.put(x), py = h.alloc(count), pgy = h.put(gy), pgx = h.alloc(count);
    h.ex.fwd(kind, px, py, count);
    h.ex.bwd(kind, px, pgy, pgx, count);
    const y = h.get(py, count), gx = h.get(pgx, count);
    const tol = prec === "f64" ? 1e-15 : 1e-6;
    for (let i = 0; i < count; i++) {
      expect(y[i]).toBe(h.round([h.ex.s(kind, x[i])])[0]);
      expect(Math.abs(gx[i] - gy[i] * h.ex.ds(kind, x[i]))).toBeLessThanOrEqual(tol * Math.abs(gy[i]) + 1e-300);
      if (REF[name]) expect(Math.abs(y[i] - REF[name](x[i]))).toBeLessThanOrEqual(tol * (1 + Math.abs(x[i])));
    }
    // In place: gx may alias gy, and y may alias x.
    h.ex.bwd(kind, px, pgy, pgy, count);
    expect(h.get(pgy, count)).toEqual(gx);
    h.ex.fwd(kind, px, px, count);
    expect(h.get(px, count)).toEqual(y);
  });

  it("gelu is x·Φ(x), accurate in the lower tail", () => {
    // With x = −t·√2, Φ(x) = erfc(t)/2; f32 cannot hold x exactly, so it is
    // compared with the f64 module below instead.
    if (prec === "f32") return;
    for (const [t, , c] of ERF_TABLE) {
      const x = -t * Math.SQRT2;
      const want = x * 0.5 * c;
      // Relative condition number of erfc(t) in t is about 2t².
      expect(Math.abs(h.ex.s(ACTS.gelu, x) - want), `gelu(${x})`).toBeLessThanOrEqual(1e-15 * (2 + 2 * t * t) * Math.abs(want) + 1e-300);
    }
  });

  if (prec === "f64") {
    it.each(["tanh", "elu", "gelu", "relu"])("%s derivative matches central differences", (name) => {
      const kind = ACTS[name as keyof typeof ACTS];
      const eps = 1e-6;
      for (let k = -60; k <= 60; k++) {
        const x = k / 10 + 0.0123;
        const fd = (h.ex.s(kind, x + eps) - h.ex.s(kind, x - eps)) / (2 * eps);
        const an = h.ex.ds(kind, x);
        expect(Math.abs(fd - an), `${name}'(${x})`).toBeLessThanOrEqual(1e-8 * (1 + Math.abs(an)));
      }
    });
  } else {
    it("derivatives agree with the f64 module", async () => {
      const g = await harness(ACT_SRC, "f64");
      for (const kind of [0, 1, 2, 3]) {
        for (let k = -40; k <= 40; k++) {
          const x = Math.fround(k / 8 + 0.0123);
          expect(Math.abs(h.ex.ds(kind, x) - g.ex.ds(kind, x))).toBeLessThanOrEqual(3e-7);
          expect(Math.abs(h.ex.s(kind, x) - g.ex.s(kind, x))).toBeLessThanOrEqual(6e-7 * (1 + Math.abs(x)));
        }
      }
    });
  }
});

// ---------------------------------------------------------------------------
// rng
// ---------------------------------------------------------------------------

const RNG_SRC = `
import { rng_seed, rng_u32, rng_uniform, rng_normal, rng_logistic } from "./lib/rng";
export function seed(s: usize, v: u32): void { rng_seed(s, v); }
export function u32_(s: usize): u32 { return rng_u32(s); }
export function fill(kind: i32, s: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    const v = kind == 0 ? rng_uniform(s) : kind == 1 ? rng_normal(s) : rng_logistic(s);
    store<f64>(out + (<usize>i << 3), v);
  }
}
`;

describe("rng", () => {
  const mods: Record<string, Harness> = {};
  beforeAll(async () => {
    for (const p of PRECS) mods[p] = await harness(RNG_SRC, p);
  });

  function draws(h: Harness, seed: number, kind: number, n: number): Float64Array {
    h.reset();
    const st = h.alloc(4);
    h.ex.seed(st, seed);
    const out = h.alloc(n * (8 / h.size));
    h.ex.fill(kind, st, out, n);
    return new Float64Array(h.ex.memory.buffer.slice(out, out + n * 8));
  }

  it("is reproducible per seed, the same in both precisions, and differs across seeds", () => {
    for (const kind of [0, 1, 2]) {
      const a = draws(mods.f32, 42, kind, 1000), b = draws(mods.f32, 42, kind, 1000), c = draws(mods.f64, 42, kind, 1000);
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(Array.from(a)).toEqual(Array.from(c));
      const d = draws(mods.f32, 43, kind, 1000);
      expect(Array.from(a)).not.toEqual(Array.from(d));
    }
  });

  it("never starts from the all-zero state", () => {
    const h = mods.f32;
    h.reset();
    const st = h.alloc(4);
    for (const s of [0, 1, 0xffffffff]) {
      h.ex.seed(st, s);
      expect(Array.from(new Uint32Array(h.ex.memory.buffer, st, 4)).some((w) => w !== 0)).toBe(true);
      const u = new Set(Array.from({ length: 64 }, () => h.ex.u32_(st) >>> 0));
      expect(u.size).toBeGreaterThan(60);
    }
  });

  it("has the right moments", () => {
    const n = 100_000;
    const m = (a: Float64Array, f: (v: number) => number) => a.reduce((s, v) => s + f(v), 0) / a.length;
    const u = draws(mods.f32, 7, 0, n);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(m(u, (v) => v) - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(m(u, (v) => (v - 0.5) ** 2) - 1 / 12)).toBeLessThan(0.002);
    const z = draws(mods.f32, 8, 1, n);
    const mean = m(z, (v) => v);
    expect(Math.abs(mean)).toBeLessThan(0.015);
    expect(Math.abs(m(z, (v) => (v - mean) ** 2) - 1)).toBeLessThan(0.02);
    expect(Math.abs(m(z, (v) => v ** 3))).toBeLessThan(0.05);
    expect(Math.abs(m(z, (v) => v ** 4) - 3)).toBeLessThan(0.1);
    const l = draws(mods.f32, 9, 2, n);
    expect(Math.abs(m(l, (v) => v))).toBeLessThan(0.03);
    expect(Math.abs(m(l, (v) => v * v) - Math.PI ** 2 / 3)).toBeLessThan(0.08);
    expect(l.every(Number.isFinite)).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// adam and vector utilities
// ---------------------------------------------------------------------------

const ADAM_SRC = `
import { adam_step, sqnorm, scale_inplace, zero, copy, axpy, first_nonfinite, sum } from "./lib/adam";
export function adam(P: usize, G: usize, M: usize, V: usize, count: i32, lr: f64, b1: f64, b2: f64, eps: f64, wd: f64, t: i32): void { adam_step(P, G, M, V, count, lr, b1, b2, eps, wd, t); }
export function sq(p: usize, c: i32): f64 { return sqnorm(p, c); }
export function sm(p: usize, c: i32): f64 { return sum(p, c); }
export function scale(p: usize, c: i32, s: f64): void { scale_inplace(p, c, s); }
export function zero_(p: usize, c: i32): void { zero(p, c); }
export function copy_(d: usize, s: usize, c: i32): void { copy(d, s, c); }
export function axpy_(y: usize, x: usize, c: i32, a: f64): void { axpy(y, x, c, a); }
export function fnf(p: usize, c: i32): i32 { return first_nonfinite(p, c); }
`;

describe.each(PRECS)("adam and vector utilities (%s)", (prec) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(ADAM_SRC, prec);
  });

  it.each([0, 0.01])("AdamW step matches the reference (wd=%s)", (wd) => {
    h.reset();
    const r = rand(11);
    const count = 37;
    let P = h.round(uniform(r, count)), M = new Array(count).fill(0), V = new Array(count).fill(0);
    const pP = h.put(P), pG = h.alloc(count), pM = h.put(M), pV = h.put(V);
    const lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (let t = 1; t <= 5; t++) {
      const G = h.round(uniform(r, count, -2, 2));
      h.view(pG, count).set(G);
      h.ex.adam(pP, pG, pM, pV, count, lr, b1, b2, eps, wd, t);
      const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
      P = P.map((p, i) => {
        M[i] = b1 * M[i] + (1 - b1) * G[i];
        V[i] = b2 * V[i] + (1 - b2) * G[i] * G[i];
        const q = p * (1 - lr * wd);
        return q - (lr / bc1) * (M[i] / (Math.sqrt(V[i]) / Math.sqrt(bc2) + eps));
      });
      const got = h.get(pP, count);
      const tol = prec === "f64" ? 1e-13 : 2e-6;
      for (let i = 0; i < count; i++) expect(Math.abs(got[i] - P[i]), `t=${t} i=${i}`).toBeLessThanOrEqual(tol);
      // Keep the reference on the module's rounding so errors do not compound.
      P = got;
      M = h.get(pM, count);
      V = h.get(pV, count);
    }
  });

  it("sqnorm and sum are accurate for large counts", () => {
    h.reset();
    const n = 1_000_003;
    const r = rand(12);
    const data = h.round(uniform(r, n, 0, 2));
    const p = h.put(data);
    let s = 0, q = 0, cs = 0, cq = 0;
    for (const v of data) {
      // Kahan in f64 is plenty for the reference.
      let y = v - cs; let t = s + y; cs = t - s - y; s = t;
      y = v * v - cq; t = q + y; cq = t - q - y; q = t;
    }
    expect(Math.abs(h.ex.sm(p, n) - s) / s).toBeLessThan(1e-13);
    expect(Math.abs(h.ex.sq(p, n) - q) / q).toBeLessThan(prec === "f64" ? 1e-13 : 1e-7);
    expect(h.ex.sm(p, 0)).toBe(0);
    expect(h.ex.sq(p, 3)).toBeCloseTo(data[0] ** 2 + data[1] ** 2 + data[2] ** 2, 6);
  });

  it("scale, axpy, zero and copy", () => {
    h.reset();
    const r = rand(13);
    const n = 23;
    const a = h.round(uniform(r, n)), b = h.round(uniform(r, n));
    const pa = h.put(a), pb = h.put(b);
    h.ex.scale(pa, n, 0.5);
    expect(h.get(pa, n)).toEqual(a.map((v) => v * 0.5));
    h.ex.axpy_(pa, pb, n, 2);
    const want = h.round(a.map((v, i) => h.round([v * 0.5])[0] + h.round([2 * b[i]])[0]));
    const got = h.get(pa, n);
    for (let i = 0; i < n; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(EPS[prec] * 4);
    h.ex.copy_(pa, pb, n);
    expect(h.get(pa, n)).toEqual(b);
    h.ex.zero_(pa, n - 1);
    expect(h.get(pa, n)).toEqual([...new Array(n - 1).fill(0), b[n - 1]]);
  });

  it("first_nonfinite finds the first NaN or infinity", () => {
    const n = 41;
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, 1, 3, 4, 17, 38, 40]) {
        h.reset();
        const data = new Array(n).fill(1.5);
        data[at] = bad;
        data[Math.min(n - 1, at + 2)] = NaN;
        const p = h.put(data);
        expect(h.ex.fnf(p, n)).toBe(at);
        expect(h.ex.fnf(p, at)).toBe(-1);
      }
    }
    h.reset();
    const big = prec === "f32" ? 3.4e38 : 1.7e308;
    expect(h.ex.fnf(h.put([big, -big, 0, -0, 1e-40, 5e-324].slice(0, prec === "f32" ? 5 : 6)), prec === "f32" ? 5 : 6)).toBe(-1);
    expect(h.ex.fnf(h.alloc(1), 0)).toBe(-1);
  });
});

// ---------------------------------------------------------------------------
// triangular solves
// ---------------------------------------------------------------------------

const LINALG_SRC = `
import { solve_lower_unit, solve_upper, matvec_lower_unit, matvec_upper, matvec_lower_unit_t, matvec_upper_t, outer_lower_acc, outer_upper_acc } from "./lib/linalg";
export function sl(L: usize, x: usize, n: i32, D: i32, xs: i32): void { solve_lower_unit(L, x, n, D, xs); }
export function su(U: usize, d: usize, x: usize, n: i32, D: i32, xs: i32): void { solve_upper(U, d, x, n, D, xs); }
export function ml(L: usize, x: usize, y: usize, n: i32, D: i32, xs: i32, ys: i32): void { matvec_lower_unit(L, x, y, n, D, xs, ys); }
export function mu(U: usize, d: usize, x: usize, y: usize, n: i32, D: i32, xs: i32, ys: i32): void { matvec_upper(U, d, x, y, n, D, xs, ys); }
export function mlt(L: usize, x: usize, y: usize, n: i32, D: i32, xs: i32, ys: i32): void { matvec_lower_unit_t(L, x, y, n, D, xs, ys); }
export function mut(U: usize, d: usize, x: usize, y: usize, n: i32, D: i32, xs: i32, ys: i32): void { matvec_upper_t(U, d, x, y, n, D, xs, ys); }
export function ol(G: usize, a: usize, b: usize, n: i32, D: i32, as_: i32, bs: i32): void { outer_lower_acc(G, a, b, n, D, as_, bs); }
export function ou(G: usize, a: usize, b: usize, n: i32, D: i32, as_: i32, bs: i32): void { outer_upper_acc(G, a, b, n, D, as_, bs); }
`;

describe.each(PRECS)("triangular algebra (%s)", (prec) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(LINALG_SRC, prec);
  });

  /** Dense [D, D] matrix of (I + strict_lower(L)) or (strict_upper(U) + diag). */
  function lowerM(L: number[], D: number): number[][] {
    return Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => (j < i ? L[i * D + j] : j === i ? 1 : 0)));
  }
  function upperM(U: number[], d: number[], D: number): number[][] {
    return Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => (j > i ? U[i * D + j] : j === i ? d[i] : 0)));
  }
  const mv = (A: number[][], v: number[]) => A.map((row) => row.reduce((s, a, j) => s + a * v[j], 0));
  const tr = (A: number[][]) => A[0].map((_, j) => A.map((row) => row[j]));

  const tol = prec === "f64" ? 1e-12 : 2e-5;

  it.each([1, 2, 3, 5, 9, 20])("products, transposes and solves agree with dense references (D=%i)", (D) => {
    const r = rand(100 + D);
    const n = 5, xs = D + 2;
    // Entries scaled by 1/D keep the solves well conditioned.
    const L = h.round(uniform(r, D * D).map((v) => v / D)), U = h.round(uniform(r, D * D).map((v) => v / D));
    const d = h.round(uniform(r, D, 0.5, 1.5).map((v, i) => (i % 2 ? -v : v)));
    const x = h.round(uniform(r, n * xs));
    const A = lowerM(L, D), B = upperM(U, d, D);
    const rowOf = (buf: number[], k: number, s: number) => buf.slice(k * s, k * s + D);
    const check = (got: number[], want: (k: number) => number[], stride: number, label: string) => {
      for (let k = 0; k < n; k++) {
        const w = want(k);
        for (let i = 0; i < D; i++) expect(Math.abs(got[k * stride + i] - w[i]), `${label} row ${k} i ${i}`).toBeLessThanOrEqual(tol * (1 + Math.abs(w[i])));
        for (let i = D; i < stride; i++) expect(got[k * stride + i]).toBe(x[k * stride + i]);
      }
    };
    const cases: [string, (pL: number, pU: number, pd: number, px: number, py: number, same: boolean) => void, (k: number) => number[]][] = [
      ["ml", (pL, _pU, _pd, px, py) => h.ex.ml(pL, px, py, n, D, xs, xs), (k) => mv(A, rowOf(x, k, xs))],
      ["mu", (_pL, pU, pd, px, py) => h.ex.mu(pU, pd, px, py, n, D, xs, xs), (k) => mv(B, rowOf(x, k, xs))],
      ["mlt", (pL, _pU, _pd, px, py) => h.ex.mlt(pL, px, py, n, D, xs, xs), (k) => mv(tr(A), rowOf(x, k, xs))],
      ["mut", (_pL, pU, pd, px, py) => h.ex.mut(pU, pd, px, py, n, D, xs, xs), (k) => mv(tr(B), rowOf(x, k, xs))],
    ];
    for (const [label, run, want] of cases) {
      for (const inPlace of [false, true]) {
        h.reset();
        const pL = h.put(L), pU = h.put(U), pd = h.put(d), px = h.put(x);
        const py = inPlace ? px : h.put(x);
        run(pL, pU, pd, px, py, inPlace);
        check(h.get(py, n * xs), want, xs, `${label}${inPlace ? " in place" : ""}`);
      }
    }
    // Solves invert the products.
    h.reset();
    const pL = h.put(L), pU = h.put(U), pd = h.put(d), px = h.put(x);
    h.ex.sl(pL, px, n, D, xs);
    const sol = h.get(px, n * xs);
    for (let k = 0; k < n; k++) {
      const back = mv(A, rowOf(sol, k, xs));
      for (let i = 0; i < D; i++) expect(Math.abs(back[i] - x[k * xs + i])).toBeLessThanOrEqual(tol);
    }
    h.view(px, n * xs).set(x);
    h.ex.su(pU, pd, px, n, D, xs);
    const sol2 = h.get(px, n * xs);
    for (let k = 0; k < n; k++) {
      const back = mv(B, rowOf(sol2, k, xs));
      for (let i = 0; i < D; i++) expect(Math.abs(back[i] - x[k * xs + i])).toBeLessThanOrEqual(tol * 4);
      for (let i = D; i < xs; i++) expect(sol2[k * xs + i]).toBe(x[k * xs + i]);
    }
  });

  it("triangular outer-product accumulation touches only its triangle", () => {
    h.reset();
    const r = rand(7);
    const D = 6, n = 4, as_ = 7, bs = 9;
    const a = h.round(uniform(r, n * as_)), b = h.round(uniform(r, n * bs));
    const G0 = h.round(uniform(r, D * D));
    const pa = h.put(a), pb = h.put(b), pG = h.put(G0), pH = h.put(G0);
    h.ex.ol(pG, pa, pb, n, D, as_, bs);
    h.ex.ou(pH, pa, pb, n, D, as_, bs);
    const G = h.get(pG, D * D), H = h.get(pH, D * D);
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < D; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[k * as_ + i] * b[k * bs + j];
        const g0 = G0[i * D + j];
        expect(Math.abs(G[i * D + j] - (j < i ? g0 + s : g0))).toBeLessThanOrEqual(tol);
        expect(Math.abs(H[i * D + j] - (j > i ? g0 + s : g0))).toBeLessThanOrEqual(tol);
      }
    }
  });
});
