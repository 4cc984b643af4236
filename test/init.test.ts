/**
 * @fileoverview Parameter init: the PRNG is deterministic and well spread,
 * every init kind fills its slice as documented, rotations are orthogonal
 * with det +1, LU parts multiply back to that rotation, and seeded
 * permutations match the ones the checker analyses.
 */
import { describe, expect, it } from "vitest";
import { determinant, initParams, luDecompose, randomRotation, Rng, type InitParam, type InitSpec } from "../runtime-wasm/host/init.ts";
import { FLOW6, FlowcInputError } from "../runtime-wasm/host/errors.ts";
import type { InitSpec as CompilerInitSpec } from "../compiler/layers/types.ts";
import { randomPermutation } from "../compiler/layers/permute.ts";

// The host mirrors the compiler's InitSpec; these fail to type-check if the two drift apart.
const toHost = (x: CompilerInitSpec): InitSpec => x;
const toCompiler = (x: InitSpec): CompilerInitSpec => x;
void toHost;
void toCompiler;

function matmul(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * n + k] * b[k * n + j];
  return c;
}

function transpose(a: ArrayLike<number>, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

function maxAbsDiffFromIdentity(a: ArrayLike<number>, n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m = Math.max(m, Math.abs(a[i * n + j] - (i === j ? 1 : 0)));
  return m;
}

/** Params of a `linear lu` layer at `prefix`, laid out from `offset`. */
function luLayer(prefix: string, n: number, offset: number, group = "w"): InitParam[] {
  const parts: ["P" | "L" | "U" | "sign" | "logs", number[]][] = [["P", [n, n]], ["L", [n, n]], ["U", [n, n]], ["sign", [n]], ["logs", [n]]];
  const out: InitParam[] = [];
  for (const [part, shape] of parts) {
    const size = shape.reduce((a, b) => a * b, 1);
    out.push({ name: `${prefix}${part}`, shape, offset, size, init: { kind: "lu-rotation", n, part, group } });
    offset += size;
  }
  return out;
}

/** W = P @ (L + I) @ (U + diag(sign * exp(logs))) from a filled buffer. */
function composeLU(buf: ArrayLike<number>, params: InitParam[], n: number): Float64Array {
  const get = (part: string) => {
    const p = params.find((q) => q.name.endsWith(`.${part}`))!;
    return Array.from({ length: p.size }, (_, i) => buf[p.offset + i]);
  };
  const P = get("P");
  const L = get("L");
  const U = get("U");
  const sign = get("sign");
  const logs = get("logs");
  const Lf = new Float64Array(n * n);
  const Uf = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (j < i) Lf[i * n + j] = L[i * n + j];
      if (j > i) Uf[i * n + j] = U[i * n + j];
    }
    Lf[i * n + i] = 1;
    Uf[i * n + i] = sign[i] * Math.exp(logs[i]);
  }
  return matmul(P, matmul(Lf, Uf, n), n);
}

describe("Rng", () => {
  it("is deterministic per (seed, stream) and differs across them", () => {
    const seq = (seed: number, stream = "") => {
      const r = new Rng(seed, stream);
      return Array.from({ length: 8 }, () => r.nextU32());
    };
    expect(seq(1)).toEqual(seq(1));
    expect(seq(1)).not.toEqual(seq(2));
    expect(seq(1, "a")).not.toEqual(seq(1, "b"));
    expect(seq(2 ** 40)).not.toEqual(seq(0));
    expect(seq(-1)).toEqual(seq(-1));
    for (const v of seq(3)) expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
  });

  it("has the right moments", () => {
    const r = new Rng(123);
    const n = 200_000;
    let su = 0, sn = 0, sn2 = 0, sn4 = 0, outside = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      if (!(u >= 0 && u < 1)) outside++;
      su += u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
      sn4 += z ** 4;
    }
    expect(outside).toBe(0);
    expect(su / n).toBeCloseTo(0.5, 2);
    expect(sn / n).toBeCloseTo(0, 2);
    expect(sn2 / n).toBeCloseTo(1, 1);
    expect(Math.abs(sn4 / n - 3)).toBeLessThan(0.1);
  });

  it("draws unbiased integers", () => {
    const r = new Rng(9);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[r.int(7)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it("rejects non-integer seeds", () => {
    expect(() => new Rng(1.5)).toThrow(FlowcInputError);
    expect(() => new Rng(NaN)).toThrow(FlowcInputError);
  });
});

describe("rotations and LU", () => {
  it.each([1, 2, 3, 8, 33])("randomRotation(%i) is orthogonal with det +1", (n) => {
    for (let s = 0; s < 5; s++) {
      const w = randomRotation(n, new Rng(s));
      expect(maxAbsDiffFromIdentity(matmul(w, transpose(w, n), n), n)).toBeLessThan(1e-12);
      expect(determinant(w, n)).toBeCloseTo(1, 10);
    }
  });

  it("luDecompose gives A = P L U", () => {
    const n = 6;
    const r = new Rng(4);
    const a = Float64Array.from({ length: n * n }, () => r.normal());
    const { lu, perm } = luDecompose(a, n);
    const P = new Float64Array(n * n);
    const L = new Float64Array(n * n);
    const U = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      P[perm[i] * n + i] = 1;
      for (let j = 0; j < n; j++) {
        if (j < i) L[i * n + j] = lu[i * n + j];
        else U[i * n + j] = lu[i * n + j];
      }
      L[i * n + i] = 1;
    }
    const back = matmul(P, matmul(L, U, n), n);
    for (let k = 0; k < n * n; k++) expect(back[k]).toBeCloseTo(a[k], 12);
  });
});

describe("initParams", () => {
  it("fills zeros, const, normal and uniform", () => {
    const n = 50_000;
    const params: InitParam[] = [
      { name: "a.zeros", shape: [4], offset: 0, size: 4, init: { kind: "zeros" } },
      { name: "a.const", shape: [4], offset: 4, size: 4, init: { kind: "const", value: 2.5 } },
      { name: "a.normal", shape: [n], offset: 8, size: n, init: { kind: "normal", std: 0.05 } },
      { name: "a.uniform", shape: [n], offset: 8 + n, size: n, init: { kind: "uniform", bound: 0.3 } },
    ];
    const buf = new Float64Array(8 + 2 * n).fill(NaN);
    initParams(params, buf, 1);
    expect(Array.from(buf.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(buf.subarray(4, 8))).toEqual([2.5, 2.5, 2.5, 2.5]);
    const normal = buf.subarray(8, 8 + n);
    const mean = normal.reduce((a, b) => a + b, 0) / n;
    const std = Math.sqrt(normal.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeCloseTo(0.05, 3);
    const uni = buf.subarray(8 + n);
    expect(Math.min(...uni)).toBeGreaterThanOrEqual(-0.3);
    expect(Math.max(...uni)).toBeLessThan(0.3);
    expect(Math.max(...uni)).toBeGreaterThan(0.29);
    expect(Math.abs(uni.reduce((a, b) => a + b, 0) / n)).toBeLessThan(0.005);
  });

  it("gives the same numbers for the same seed, in f32 and f64", () => {
    const params: InitParam[] = [
      { name: "layers.0.weight", shape: [3, 4], offset: 0, size: 12, init: { kind: "normal", std: 1 } },
      ...luLayer("layers.1.", 4, 12),
      { name: "layers.2.w", shape: [3, 3], offset: 12 + 56, size: 9, init: { kind: "rotation", n: 3 } },
    ];
    const a = new Float64Array(77);
    const b = new Float64Array(77);
    const c = new Float32Array(77);
    const d = new Float64Array(77);
    initParams(params, a, 5);
    initParams(params, b, 5);
    initParams(params, c, 5);
    initParams(params, d, 6);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(c)).toEqual(Array.from(Float32Array.from(a)));
    expect(Array.from(a)).not.toEqual(Array.from(d));
  });

  it("draws each parameter from its own stream, independent of the others", () => {
    const w: InitParam = { name: "layers.1.weight", shape: [5], offset: 0, size: 5, init: { kind: "normal", std: 1 } };
    const alone = new Float64Array(5);
    initParams([w], alone, 3);
    const withOthers = new Float64Array(15);
    initParams([
      { name: "layers.0.weight", shape: [10], offset: 0, size: 10, init: { kind: "uniform", bound: 1 } },
      { ...w, offset: 10 },
    ], withOthers, 3);
    expect(Array.from(withOthers.subarray(10))).toEqual(Array.from(alone));
  });

  it.each([1, 2, 4, 16])("lu-rotation parts of size %i multiply back to a rotation", (n) => {
    const params = luLayer("layers.3.", n, 0);
    const buf = new Float64Array(3 * n * n + 2 * n);
    initParams(params, buf, 11);
    const w = composeLU(buf, params, n);
    expect(maxAbsDiffFromIdentity(matmul(w, transpose(w, n), n), n)).toBeLessThan(1e-12);
    const det = determinant(w, n);
    expect(Math.abs(Math.abs(det) - 1)).toBeLessThan(1e-12);
    expect(det).toBeCloseTo(1, 12);
    // Σ logs = log|det U| = log|det W| = 0 for a rotation.
    const logs = buf.subarray(3 * n * n + n);
    expect(logs.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 10);

    // Stored parts follow the documented conventions.
    const P = buf.subarray(0, n * n);
    for (let i = 0; i < n; i++) {
      let row = 0, col = 0;
      for (let j = 0; j < n; j++) {
        row += P[i * n + j];
        col += P[j * n + i];
        expect([0, 1]).toContain(P[i * n + j]);
        if (j >= i) expect(buf[n * n + i * n + j]).toBe(0); // L strictly lower
        if (j <= i) expect(buf[2 * n * n + i * n + j]).toBe(0); // U strictly upper
      }
      expect(row).toBe(1);
      expect(col).toBe(1);
      expect([-1, 1]).toContain(buf[3 * n * n + i]);
    }
    // Partial pivoting keeps |L| ≤ 1.
    for (let k = n * n; k < 2 * n * n; k++) expect(Math.abs(buf[k])).toBeLessThanOrEqual(1 + 1e-12);
  });

  it("lu-rotation in f32 still multiplies back to a near-rotation", () => {
    const n = 8;
    const params = luLayer("layers.0.", n, 0);
    const buf = new Float32Array(3 * n * n + 2 * n);
    initParams(params, buf, 2);
    const w = composeLU(buf, params, n);
    expect(maxAbsDiffFromIdentity(matmul(w, transpose(w, n), n), n)).toBeLessThan(1e-5);
  });

  it("shares one rotation per (layer, group) and not across layers", () => {
    const n = 4;
    const a = luLayer("layers.0.", n, 0);
    const b = luLayer("layers.1.", n, 56);
    const buf = new Float64Array(112);
    initParams([...a, ...b], buf, 1);
    const wa = composeLU(buf, a, n);
    const wb = composeLU(buf, b, n);
    expect(Array.from(wa)).not.toEqual(Array.from(wb));
    // Parts listed in another order, with other params in between, give the same layer weights.
    const shuffled = [a[3], a[0], { name: "layers.0.bias", shape: [n], offset: 112, size: n, init: { kind: "zeros" } as const }, a[4], a[2], a[1]];
    const buf2 = new Float64Array(116);
    initParams(shuffled, buf2, 1);
    expect(Array.from(composeLU(buf2, a, n))).toEqual(Array.from(wa));
  });

  it("rotation init is orthogonal with det +1", () => {
    const n = 5;
    const buf = new Float32Array(n * n);
    initParams([{ name: "layers.0.weight", shape: [n, n], offset: 0, size: n * n, init: { kind: "rotation", n } }], buf, 0);
    expect(maxAbsDiffFromIdentity(matmul(buf, transpose(buf, n), n), n)).toBeLessThan(1e-6);
    expect(determinant(Float64Array.from(buf), n)).toBeCloseTo(1, 5);
  });

  it("permutations: reverse, seeded (as the checker computes them) and unseeded", () => {
    const n = 10;
    const buf = new Float64Array(3 * n);
    const params: InitParam[] = [
      { name: "layers.0.perm", shape: [n], offset: 0, size: n, init: { kind: "permutation", n, reverse: true } },
      { name: "layers.1.perm", shape: [n], offset: n, size: n, init: { kind: "permutation", n, seed: 42 } },
      { name: "layers.2.perm", shape: [n], offset: 2 * n, size: n, init: { kind: "permutation", n } },
    ];
    initParams(params, buf, 0);
    expect(Array.from(buf.subarray(0, n))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(Array.from(buf.subarray(n, 2 * n))).toEqual(randomPermutation(n, 42));
    const other = new Float64Array(3 * n);
    initParams(params, other, 99);
    // A permutation's own seed wins over the init seed.
    expect(Array.from(other.subarray(n, 2 * n))).toEqual(Array.from(buf.subarray(n, 2 * n)));
    for (const p of [buf.subarray(n, 2 * n), buf.subarray(2 * n), other.subarray(2 * n)]) {
      expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    expect(Array.from(other.subarray(2 * n))).not.toEqual(Array.from(buf.subarray(2 * n)));
    for (const seed of [0, 1, 7, 4294967295]) {
      const b = new Float64Array(33);
      initParams([{ name: "p", shape: [33], offset: 0, size: 33, init: { kind: "permutation", n: 33, seed } }], b, 0);
      expect(Array.from(b)).toEqual(randomPermutation(33, seed));
    }
  });

  it("reports inconsistent descriptors as FLOW654 naming the parameter", () => {
    const cases: [InitParam, number][] = [
      [{ name: "layers.0.w", shape: [3, 3], offset: 0, size: 8, init: { kind: "zeros" } }, 16],
      [{ name: "layers.0.w", shape: [4], offset: 14, size: 4, init: { kind: "zeros" } }, 16],
      [{ name: "layers.0.w", shape: [2, 2], offset: 0, size: 4, init: { kind: "rotation", n: 3 } }, 16],
      [{ name: "layers.0.w", shape: [4], offset: 0, size: 4, init: { kind: "lu-rotation", n: 2, part: "sign", group: "w" } }, 16],
      [{ name: "layers.0.w", shape: [4], offset: 0, size: 4, init: { kind: "permutation", n: 5 } }, 16],
      [{ name: "layers.0.w", shape: [4], offset: 0, size: 4, init: { kind: "orthogonal" } as unknown as InitSpec }, 16],
      [{ name: "layers.0.w", shape: [4], offset: 0, size: 4, init: { kind: "normal", std: NaN } }, 16],
    ];
    for (const [p, len] of cases) {
      let err: unknown;
      try {
        initParams([p], new Float64Array(len), 0);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FlowcInputError);
      expect((err as FlowcInputError).code).toBe(FLOW6.paramInit);
      expect((err as FlowcInputError).tensor).toBe("layers.0.w");
      expect((err as Error).message).toContain("layers.0.w");
    }
  });
});
