/**
 * @fileoverview What the generic numeric suite cannot see for the per-feature
 * layers: actnorm's data-dependent init (zero mean and unit variance per
 * channel, finite on constant channels, exact on large offsets in f32), the
 * logit's input domain and finite ends, the sigmoid's finite log-det far in
 * the tails, leaky_relu against its closed form, and permute moving exactly
 * the features (or channels) its `perm` buffer names.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../compiler/codegen/compile.ts";
import { loadFlow, type Flow } from "../runtime-wasm/host/flow.ts";
import { FlowcInputError } from "../runtime-wasm/host/errors.ts";
import { gaussian, mulberry } from "../compiler/cli/numeric.ts";

async function build(source: string, precision: "f32" | "f64" = "f64", chunk = 64): Promise<Flow> {
  const res = await compile(source, { filename: "layer.flow", precision, chunk });
  if (!res.wasm) throw new Error(res.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n"));
  return loadFlow(res.wasm);
}

const param = (flow: Flow, name: string): number[] => {
  const p = flow.manifest.params.find((q) => q.name === name)!;
  return Array.from(flow.getParams().subarray(p.offset, p.offset + p.size));
};

/** Per-channel mean and population std of rows shaped [C, HW]. */
function channelStats(x: ArrayLike<number>, C: number, HW: number): { mean: number[]; std: number[] } {
  const n = x.length / (C * HW);
  const mean = new Array<number>(C).fill(0), std = new Array<number>(C).fill(0);
  for (let r = 0; r < n; r++) for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) mean[c] += x[(r * C + c) * HW + p] / (n * HW);
  for (let r = 0; r < n; r++) for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) std[c] += (x[(r * C + c) * HW + p] - mean[c]) ** 2 / (n * HW);
  return { mean, std: std.map(Math.sqrt) };
}

describe("actnorm data-dependent init", () => {
  it("normalises each channel of an image, and a constant channel stays finite", async () => {
    const flow = await build("input [3, 2, 3]\nactnorm\n");
    const g = gaussian(mulberry(1));
    const n = 40, C = 3, HW = 6;
    const x = new Float64Array(n * C * HW);
    for (let r = 0; r < n; r++) for (let p = 0; p < HW; p++) {
      x[(r * C + 0) * HW + p] = 5 + 3 * g();
      x[(r * C + 1) * HW + p] = 0.25; // constant channel
      x[(r * C + 2) * HW + p] = -2 + 0.01 * g();
    }
    flow.initialize({ seed: 1, data: x });
    const bias = param(flow, "layers.0.bias"), logs = param(flow, "layers.0.logs");
    for (const v of [...bias, ...logs]) expect(Number.isFinite(v)).toBe(true);
    const ref = channelStats(x, C, HW);
    for (let c = 0; c < C; c++) {
      expect(bias[c]).toBeCloseTo(-ref.mean[c], 12);
      if (c !== 1) expect(logs[c]).toBeCloseTo(-Math.log(ref.std[c] + 1e-6), 9);
    }
    expect(logs[1]).toBe(-Math.log(1e-6));
    const { z, logDet } = flow.forward(x);
    for (const v of z) expect(Number.isFinite(v)).toBe(true);
    const out = channelStats(z, C, HW);
    for (const c of [0, 2]) {
      expect(Math.abs(out.mean[c])).toBeLessThan(1e-9);
      expect(out.std[c]).toBeCloseTo(ref.std[c] / (ref.std[c] + 1e-6), 9);
    }
    expect(out.std[1]).toBe(0);
    expect(logDet[0]).toBeCloseTo(HW * logs.reduce((a, b) => a + b, 0), 9);
    expect(Number.isFinite(flow.logProb(x)[0])).toBe(true);
  });

  it("normalises each feature of a vector", async () => {
    const flow = await build("input [4]\nactnorm\n");
    const g = gaussian(mulberry(2));
    const x = Float64Array.from({ length: 50 * 4 }, (_, k) => (k % 4) * 10 + (1 + (k % 4)) * g());
    flow.initialize({ seed: 1, data: x });
    const out = channelStats(flow.forward(x).z, 4, 1);
    for (let j = 0; j < 4; j++) {
      expect(Math.abs(out.mean[j])).toBeLessThan(1e-9);
      expect(out.std[j]).toBeCloseTo(1, 5);
    }
  });

  it("takes its statistics from every row given, not one chunk, at every depth (Glow's first-batch init)", async () => {
    // chunk 16 and 100 rows: an init that saw only the first chunk would leave the other rows off.
    const flow = await build("input [2, 4, 4]\nactnorm\nconv1x1 lu\nactnorm\nsqueeze\nactnorm\n", "f64", 16);
    expect(flow.chunk).toBe(16);
    const g = gaussian(mulberry(4));
    const n = 100, D = 32;
    // Rows drift, so that the first 16 rows' statistics differ from all rows'.
    const x = Float64Array.from({ length: n * D }, (_, k) => (k % 32 < 16 ? 2 : -1) + Math.floor(k / D) * 0.05 + (1 + (k % 2)) * g());
    flow.initialize({ seed: 1, data: x });
    const out = channelStats(flow.forward(x).z, 8, 4);
    for (let c = 0; c < 8; c++) {
      expect(Math.abs(out.mean[c])).toBeLessThan(1e-9);
      expect(out.std[c]).toBeCloseTo(1, 5);
    }
  });

  it("uses f64 statistics, so a large offset does not swamp the variance in f32", async () => {
    const flow = await build("input [2, 4, 4]\nactnorm\n", "f32");
    const g = gaussian(mulberry(3));
    const x = Float32Array.from({ length: 60 * 32 }, () => 3000 + 0.05 * g());
    flow.initialize({ seed: 1, data: x });
    const out = channelStats(flow.forward(x).z, 2, 16);
    for (let c = 0; c < 2; c++) {
      expect(Math.abs(out.mean[c])).toBeLessThan(1e-2);
      expect(Math.abs(out.std[c] - 1)).toBeLessThan(1e-2);
    }
  });
});

describe("logit domain", () => {
  it("alpha > 0 accepts the closed interval with finite values at its ends", async () => {
    const flow = await build("input [2]\nlogit alpha=0.05\n");
    expect(flow.manifest.inputDomain).toMatchObject({ lo: 0, hi: 1, loClosed: true, hiClosed: true });
    flow.initialize({ seed: 1 });
    const lp = flow.logProb([0, 1, 1, 0, 0.5, 0.5]);
    for (const v of lp) expect(Number.isFinite(v)).toBe(true);
    const { z, logDet } = flow.forward([0, 1]);
    expect(z[0]).toBeCloseTo(Math.log(0.05 / 0.95), 12);
    expect(z[1]).toBeCloseTo(Math.log(0.95 / 0.05), 12);
    expect(logDet[0]).toBeCloseTo(2 * (Math.log(0.9) - Math.log(0.05) - Math.log(0.95)), 12);
    expect(() => flow.logProb([1.01, 0.5])).toThrow(FlowcInputError);
    expect(() => flow.logProb([0.5, -0.01])).toThrow(/outside values in \[0, 1\]/);
  });

  it("alpha = 0 needs the open interval", async () => {
    const flow = await build("input [2]\nlogit alpha=0\n");
    expect(flow.manifest.inputDomain).toMatchObject({ lo: 0, hi: 1, loClosed: false, hiClosed: false });
    flow.initialize({ seed: 1 });
    expect(() => flow.logProb([0, 0.5])).toThrow(FlowcInputError);
    expect(() => flow.logProb([0.5, 1])).toThrow(FlowcInputError);
    const { z } = flow.forward([0.25, 1e-12]);
    expect(z[0]).toBeCloseTo(Math.log(1 / 3), 12);
    expect(z[1]).toBeCloseTo(Math.log(1e-12), 9);
  });

  it("inverts through sigmoid back into the unit interval", async () => {
    const flow = await build("input [3]\nlogit alpha=0.1\n");
    flow.initialize({ seed: 1 });
    const back = flow.inverse([-30, 0, 30]);
    expect(back.x[1]).toBeCloseTo(0.5, 14);
    for (const v of back.x) expect(Number.isFinite(v)).toBe(true);
    for (const v of back.logDet) expect(Number.isFinite(v)).toBe(true);
  });
});

describe("sigmoid", () => {
  it.each(["f32", "f64"] as const)("has a finite log-det far in the tails (%s)", async (precision) => {
    const flow = await build("input [4]\nsigmoid\n", precision);
    flow.initialize({ seed: 1 });
    const x = [-60, 60, 0, 2];
    const { z, logDet } = flow.forward(x);
    const ref = x.reduce((s, v) => s - Math.abs(v) - 2 * Math.log1p(Math.exp(-Math.abs(v))), 0);
    expect(Number.isFinite(logDet[0])).toBe(true);
    expect(Math.abs(logDet[0] - ref)).toBeLessThan(precision === "f64" ? 1e-12 : 1e-4 * Math.abs(ref));
    expect(z[2]).toBe(0.5);
    expect(z[1]).toBe(1);
    expect(z[0]).toBeGreaterThan(0);
  });
});

describe("leaky_relu", () => {
  it("matches the closed form", async () => {
    const flow = await build("input [4]\nleaky_relu slope=0.2\n");
    flow.initialize({ seed: 1 });
    const x = [-1, 2, -3, 0, 5, 6, 7, -0.5];
    const { z, logDet } = flow.forward(x);
    expect(Array.from(z)).toEqual(x.map((v) => (v < 0 ? 0.2 * v : v)));
    expect(logDet[0]).toBeCloseTo(2 * Math.log(0.2), 14);
    expect(logDet[1]).toBeCloseTo(Math.log(0.2), 14);
  });
});

describe("permute", () => {
  it.each(["reverse", "random seed=5"])("moves vector features as its perm buffer says (%s)", async (order) => {
    const flow = await build(`input [9]\npermute ${order}\n`);
    flow.initialize({ seed: 123 });
    const perm = param(flow, "layers.0.perm");
    const x = Float64Array.from({ length: 18 }, (_, k) => k + 0.5);
    const { z, logDet } = flow.forward(x);
    for (let r = 0; r < 2; r++) for (let j = 0; j < 9; j++) expect(z[r * 9 + j]).toBe(x[r * 9 + perm[j]]);
    expect(Array.from(logDet)).toEqual([0, 0]);
    if (order === "reverse") expect(perm).toEqual([8, 7, 6, 5, 4, 3, 2, 1, 0]);
    else expect([...perm].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("moves whole channels of an image, each pixel keeping its place", async () => {
    const C = 5, HW = 6;
    const flow = await build(`input [${C}, 2, 3]\npermute random seed=2\n`);
    flow.initialize({ seed: 1 });
    const perm = param(flow, "layers.0.perm");
    const x = Float64Array.from({ length: 3 * C * HW }, (_, k) => k);
    const { z } = flow.forward(x);
    for (let r = 0; r < 3; r++) for (let c = 0; c < C; c++) for (let p = 0; p < HW; p++) {
      expect(z[(r * C + c) * HW + p]).toBe(x[(r * C + perm[c]) * HW + p]);
    }
    expect(Array.from(flow.inverse(z).x)).toEqual(Array.from(x));
  });
});

describe("f32 kernels against f64 references", () => {
  // The f32 builds use four-lane exp and log; these sweep their ranges.
  const sweep = (lo: number, hi: number, count: number) => Float32Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));

  it("sigmoid: outputs, log-dets and inverse", async () => {
    const D = 64;
    const flow = await build(`input [${D}]\nsigmoid\n`, "f32");
    flow.initialize({ seed: 1 });
    const x = sweep(-40, 40, D * 50);
    const { z, logDet } = flow.forward(x);
    for (let k = 0; k < x.length; k++) {
      const ref = 1 / (1 + Math.exp(-x[k]));
      expect(Math.abs(z[k] - ref)).toBeLessThanOrEqual(3e-7 * ref);
    }
    for (let r = 0; r < 50; r++) {
      let ref = 0;
      for (let j = 0; j < D; j++) { const a = Math.abs(x[r * D + j]); ref -= a + 2 * Math.log1p(Math.exp(-a)); }
      expect(Math.abs(logDet[r] - ref)).toBeLessThan(2e-6 * Math.max(1, Math.abs(ref)));
    }
    const y = sweep(1e-6, 1 - 1e-6, D * 20);
    const back = flow.inverse(y);
    for (let k = 0; k < y.length; k++) {
      const u = y[k], ref = Math.log(u) - Math.log1p(-u);
      expect(Math.abs(back.x[k] - ref)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref)));
    }
    for (let r = 0; r < 20; r++) {
      let ref = 0;
      for (let j = 0; j < D; j++) { const u = y[r * D + j]; ref -= Math.log(u) + Math.log1p(-u); }
      expect(Math.abs(back.logDet[r] - ref)).toBeLessThan(2e-6 * Math.max(1, Math.abs(ref)));
    }
  });

  it("logit: outputs and log-dets over [0, 1], tiny values included", async () => {
    const D = 32;
    const flow = await build(`input [${D}]\nlogit alpha=0\n`, "f32");
    flow.initialize({ seed: 1 });
    const x = sweep(1e-3, 1 - 1e-3, D * 40);
    for (let k = 0; k < D; k++) x[k] = 1e-30 * (k + 1); // small values
    x[D] = 1e-40; // subnormal in f32: the scalar fallback of the four-lane log
    x[D + 5] = 1 - 2 ** -24;
    const { z, logDet } = flow.forward(x);
    for (let k = 0; k < x.length; k++) {
      const v = x[k], ref = Math.log(v) - Math.log(1 - v);
      expect(Math.abs(z[k] - ref)).toBeLessThan(2e-6 * Math.max(1, Math.abs(ref)));
    }
    for (let r = 0; r < 40; r++) {
      let ref = 0;
      for (let j = 0; j < D; j++) { const v = x[r * D + j]; ref -= Math.log(v) + Math.log(1 - v); }
      expect(Math.abs(logDet[r] - ref)).toBeLessThan(2e-6 * Math.max(1, Math.abs(ref)));
    }
  });

  it("logistic base: log p far into both tails", async () => {
    const D = 16;
    const flow = await build(`input [${D}]\naffine\nbase logistic\n`, "f32");
    flow.initialize({ seed: 1 });
    const x = sweep(-120, 120, D * 30);
    const lp = flow.logProb(x);
    for (let r = 0; r < 30; r++) {
      let ref = 0;
      for (let j = 0; j < D; j++) { const a = Math.abs(x[r * D + j]); ref -= a + 2 * Math.log1p(Math.exp(-a)); }
      expect(Math.abs(lp[r] - ref)).toBeLessThan(2e-6 * Math.max(1, Math.abs(ref)));
    }
  });
});
