/**
 * @fileoverview Toy densities: exact row counts, determinism, and the
 * geometry each definition implies (moments, radii, the checkerboard's
 * parity, the two spiral arms' symmetry).
 */
import { describe, expect, it } from "vitest";
import { sampleToy, toyNames, type ToyName } from "../runtime-wasm/host/toys.ts";
import { FLOW6, FlowcInputError } from "../runtime-wasm/host/errors.ts";

function mean(a: Float64Array): [number, number] {
  let x = 0, y = 0;
  const n = a.length / 2;
  for (let i = 0; i < n; i++) {
    x += a[2 * i];
    y += a[2 * i + 1];
  }
  return [x / n, y / n];
}

function radii(a: Float64Array): Float64Array {
  return Float64Array.from({ length: a.length / 2 }, (_, i) => Math.hypot(a[2 * i], a[2 * i + 1]));
}

describe("sampleToy", () => {
  it.each(toyNames.map((t) => [t]))("%s: n × 2, finite, deterministic, seed- and stream-dependent", (name) => {
    for (const n of [0, 1, 7, 1001]) {
      const a = sampleToy(name as ToyName, n, 3);
      expect(a).toBeInstanceOf(Float64Array);
      expect(a.length).toBe(2 * n);
      expect(a.every(Number.isFinite)).toBe(true);
    }
    const a = sampleToy(name as ToyName, 500, 3);
    expect(Array.from(sampleToy(name as ToyName, 500, 3))).toEqual(Array.from(a));
    expect(Array.from(sampleToy(name as ToyName, 500, 4))).not.toEqual(Array.from(a));
    expect(Array.from(sampleToy(name as ToyName, 500, 3, "test"))).not.toEqual(Array.from(a));
  });

  it("moons: sklearn's make_moons geometry, mean ≈ (0.5, 0.25)", () => {
    const a = sampleToy("moons", 40_000, 1);
    const [mx, my] = mean(a);
    expect(mx).toBeCloseTo(0.5, 1);
    expect(my).toBeCloseTo(0.25, 1);
    expect(Math.abs(mx - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(my - 0.25)).toBeLessThan(0.02);
    // Every point lies near the unit circle around (0, 0) or around (1, 0.5).
    let outer = 0, far = 0;
    for (let i = 0; i < a.length / 2; i++) {
      const x = a[2 * i], y = a[2 * i + 1];
      const d0 = Math.abs(Math.hypot(x, y) - 1);
      const d1 = Math.abs(Math.hypot(x - 1, y - 0.5) - 1);
      if (Math.min(d0, d1) >= 0.35) far++;
      if (d0 < d1) outer++;
    }
    expect(far).toBe(0);
    expect(outer / (a.length / 2)).toBeCloseTo(0.5, 1);
  });

  it("8gaussians: modes at radius 4/1.414 with sd 0.5/1.414", () => {
    const a = sampleToy("8gaussians", 40_000, 2);
    const [mx, my] = mean(a);
    expect(Math.abs(mx)).toBeLessThan(0.05);
    expect(Math.abs(my)).toBeLessThan(0.05);
    const r = radii(a);
    const mr = r.reduce((s, v) => s + v, 0) / r.length;
    expect(mr).toBeGreaterThan(2.75);
    expect(mr).toBeLessThan(2.95);
    // Angles cluster at multiples of 45°.
    let near = 0;
    for (let i = 0; i < r.length; i++) {
      const ang = Math.atan2(a[2 * i + 1], a[2 * i]);
      const off = Math.abs(ang / (Math.PI / 4) - Math.round(ang / (Math.PI / 4))) * (Math.PI / 4);
      if (off < 0.3) near++;
    }
    expect(near / r.length).toBeGreaterThan(0.85);
  });

  it("checkerboard: points in [-4, 4)² on the dark squares only", () => {
    const a = sampleToy("checkerboard", 20_000, 3);
    const seen = new Set<string>();
    let bad = 0;
    for (let i = 0; i < a.length / 2; i++) {
      const x = a[2 * i], y = a[2 * i + 1];
      if (!(x >= -4 && x < 4 && y >= -4 && y < 4)) bad++;
      const cx = Math.floor(x / 2), cy = Math.floor(y / 2);
      if ((((cx + cy) % 2) + 2) % 2 !== 0) bad++;
      seen.add(`${cx},${cy}`);
    }
    expect(bad).toBe(0);
    expect(seen.size).toBe(8);
  });

  it("rings: four circles of radius 3, 2.25, 1.5, 0.75 in equal shares", () => {
    const a = sampleToy("rings", 20_000, 4);
    const counts = [0, 0, 0, 0];
    const r = radii(a);
    let bad = 0;
    for (const v of r) {
      const k = Math.round(v / 0.75) - 1;
      if (k < 0 || k > 3) bad++;
      else counts[k]++;
    }
    expect(bad).toBe(0);
    for (const c of counts) expect(Math.abs(c - 5000)).toBeLessThan(300);
    const [mx, my] = mean(a);
    expect(Math.abs(mx)).toBeLessThan(0.02);
    expect(Math.abs(my)).toBeLessThan(0.02);
  });

  it("pinwheel: five arms around the origin", () => {
    const a = sampleToy("pinwheel", 20_000, 5);
    const [mx, my] = mean(a);
    expect(Math.abs(mx)).toBeLessThan(0.05);
    expect(Math.abs(my)).toBeLessThan(0.05);
    const r = radii(a);
    const mr = r.reduce((s, v) => s + v, 0) / r.length;
    expect(mr).toBeGreaterThan(1.8);
    expect(mr).toBeLessThan(2.3);
  });

  it("spirals: two arms reflected through the origin, radius up to about π", () => {
    const a = sampleToy("spirals", 20_000, 6);
    const [mx, my] = mean(a);
    expect(Math.abs(mx)).toBeLessThan(0.03);
    expect(Math.abs(my)).toBeLessThan(0.03);
    const r = radii(a);
    expect(Math.max(...r)).toBeGreaterThan(3);
    expect(Math.max(...r)).toBeLessThan(3.8);
  });

  it("rejects unknown names and bad counts", () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as FlowcInputError;
      }
      throw new Error("no error");
    };
    const e1 = err(() => sampleToy("swissroll" as ToyName, 10, 0));
    expect(e1).toBeInstanceOf(FlowcInputError);
    expect(e1.code).toBe(FLOW6.unknownToy);
    expect(e1.message).toContain("moons");
    expect(err(() => sampleToy("moons", -1, 0)).code).toBe(FLOW6.badArgument);
    expect(err(() => sampleToy("moons", 2.5, 0)).code).toBe(FLOW6.badArgument);
  });
});
