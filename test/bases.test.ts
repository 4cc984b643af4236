/**
 * @fileoverview The base distributions on tiny compiled flows: log p against
 * closed forms, the gradient of the training loss (through the base into its
 * own parameters and the layer before it) against central differences of
 * logProb in f64, and sample moments at temperatures 1 and 0.5.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../compiler/codegen/compile.ts";
import { layers } from "../compiler/layers/index.ts";
import { loadFlow, type Flow } from "../runtime-wasm/host/flow.ts";
import { gaussian, mulberry } from "../compiler/cli/numeric.ts";

const LOG_2PI = Math.log(2 * Math.PI);

async function build(source: string, precision: "f32" | "f64" = "f64", chunk = 8): Promise<Flow> {
  const res = await compile(source, { filename: "base.flow", precision, chunk });
  if (!res.wasm) throw new Error(res.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n"));
  return loadFlow(res.wasm);
}

/** Set named parameters (`layers.0.logs`, `base.loc`, …); others keep their values. */
function setParams(flow: Flow, values: Record<string, number[]>): void {
  const P = flow.getParams();
  for (const [name, v] of Object.entries(values)) {
    const p = flow.manifest.params.find((q) => q.name === name);
    if (!p) throw new Error(`no parameter ${name}`);
    expect(v.length).toBe(p.size);
    P.set(v, p.offset);
  }
  flow.setParams(P);
}

function randomParams(flow: Flow, seed: number, scale = 0.4): void {
  const g = gaussian(mulberry(seed));
  const P = flow.getParams();
  for (const p of flow.manifest.params) if (p.trainable) for (let k = 0; k < p.size; k++) P[p.offset + k] = scale * g();
  flow.setParams(P);
}

const param = (flow: Flow, name: string): number[] => {
  const p = flow.manifest.params.find((q) => q.name === name)!;
  return Array.from(flow.getParams().subarray(p.offset, p.offset + p.size));
};

const total = (v: ArrayLike<number>): number => Array.from(v).reduce((a, b) => a + b, 0);

function rows(n: number, d: number, seed: number, scale = 1.5): Float64Array {
  const g = gaussian(mulberry(seed));
  return Float64Array.from({ length: n * d }, () => scale * g());
}

/** z = x·exp(logs) + bias of the flow's first (affine) layer, and its log-det per row. */
function affineOf(flow: Flow, x: ArrayLike<number>, D: number) {
  const b = param(flow, "layers.0.bias"), s = param(flow, "layers.0.logs");
  const n = x.length / D;
  const z = new Float64Array(x.length), ld = new Float64Array(n);
  for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) {
    z[r * D + j] = x[r * D + j] * Math.exp(s[j]) + b[j];
    ld[r] += s[j];
  }
  return { z, ld };
}

const logStdNormal = (v: number) => -0.5 * v * v - 0.5 * LOG_2PI;
const logStdLogistic = (v: number) => -v - 2 * Math.log1p(Math.exp(-v));

/** ∂(Σ NLL)/∂θ from train_chunk, and the same by central differences of logProb. */
function gradients(flow: Flow, x: Float64Array, h = 1e-6): { analytic: number[]; numeric: number[] } {
  const e = flow.exports, mem = flow.mem, man = flow.manifest;
  const n = x.length / flow.eventSize;
  flow.view(mem.X, x.length).set(x);
  e.zero_buf(mem.G, man.paramCount);
  const nll = e.train_chunk(mem.P, mem.G, mem.ws, mem.X, n, 1, 0);
  const lp0 = total(flow.logProb(x));
  expect(nll).toBeCloseTo(-lp0, 9);
  const G = Array.from(flow.view(mem.G, man.trainableCount));
  const P = flow.getParams();
  const numeric: number[] = [];
  for (let k = 0; k < man.trainableCount; k++) {
    const old = P[k];
    P[k] = old + h;
    flow.setParams(P);
    const lp = total(flow.logProb(x));
    P[k] = old - h;
    flow.setParams(P);
    const lm = total(flow.logProb(x));
    P[k] = old;
    flow.setParams(P);
    numeric.push(-(lp - lm) / (2 * h));
  }
  return { analytic: G, numeric };
}

function expectClose(a: number[], b: number[], rel: number): void {
  let err = 0, scale = 1;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  expect(err / scale).toBeLessThan(rel);
}

function moments(x: ArrayLike<number>, D: number): { mean: number[]; std: number[] } {
  const n = x.length / D;
  const mean = new Array<number>(D).fill(0), std = new Array<number>(D).fill(0);
  for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) mean[j] += x[r * D + j] / n;
  for (let r = 0; r < n; r++) for (let j = 0; j < D; j++) std[j] += (x[r * D + j] - mean[j]) ** 2 / n;
  return { mean, std: std.map(Math.sqrt) };
}

describe("base normal", () => {
  it("standard: log p is the closed form", async () => {
    const flow = await build("input [3]\naffine\nbase normal\n");
    flow.initialize({ seed: 1 });
    randomParams(flow, 2);
    const x = rows(11, 3, 3);
    const lp = flow.logProb(x);
    const { z, ld } = affineOf(flow, x, 3);
    for (let r = 0; r < 11; r++) {
      let ref = ld[r];
      for (let j = 0; j < 3; j++) ref += logStdNormal(z[r * 3 + j]);
      expect(lp[r]).toBeCloseTo(ref, 11);
    }
  });

  it("learned: log p is the closed form", async () => {
    const flow = await build("input [3]\naffine\nbase normal learned\n");
    flow.initialize({ seed: 1 });
    expect(flow.manifest.params.map((p) => p.name)).toEqual(["layers.0.bias", "layers.0.logs", "base.loc", "base.log_scale"]);
    randomParams(flow, 4);
    const loc = param(flow, "base.loc"), ls = param(flow, "base.log_scale");
    const x = rows(13, 3, 5);
    const lp = flow.logProb(x);
    const { z, ld } = affineOf(flow, x, 3);
    for (let r = 0; r < 13; r++) {
      let ref = ld[r];
      for (let j = 0; j < 3; j++) ref += logStdNormal((z[r * 3 + j] - loc[j]) / Math.exp(ls[j])) - ls[j];
      expect(lp[r]).toBeCloseTo(ref, 11);
    }
  });

  it("starts as the standard normal", async () => {
    const a = await build("input [4]\naffine\nbase normal learned\n");
    const b = await build("input [4]\naffine\nbase normal\n");
    a.initialize({ seed: 1 });
    b.initialize({ seed: 1 });
    const x = rows(5, 4, 6);
    const la = a.logProb(x), lb = b.logProb(x);
    for (let r = 0; r < 5; r++) expect(la[r]).toBeCloseTo(lb[r], 12);
  });

  it.each(["standard", "learned"])("%s: the training gradient matches central differences", async (variant) => {
    const flow = await build(`input [3]\naffine\nbase normal ${variant}\n`);
    flow.initialize({ seed: 1 });
    randomParams(flow, 7);
    const { analytic, numeric } = gradients(flow, rows(6, 3, 8));
    expectClose(analytic, numeric, 1e-6);
  });

  it("learned: sample moments at temperature 1 and 0.5", async () => {
    const flow = await build("input [3]\naffine\nbase normal learned\n", "f64", 64);
    flow.initialize({ seed: 1 });
    const loc = [1, -2, 0.5], ls = [0, Math.log(2), Math.log(0.5)];
    setParams(flow, { "base.loc": loc, "base.log_scale": ls });
    const N = 40000;
    for (const temp of [1, 0.5]) {
      const m = moments(flow.sample(N, { seed: 9, temperature: temp }), 3);
      for (let j = 0; j < 3; j++) {
        const sd = temp * Math.exp(ls[j]);
        expect(Math.abs(m.mean[j] - loc[j])).toBeLessThan(5 * sd / Math.sqrt(N));
        expect(Math.abs(m.std[j] / sd - 1)).toBeLessThan(0.03);
      }
    }
    // τ = 0 collapses onto the mean.
    const x0 = flow.sample(3, { seed: 1, temperature: 0 });
    for (let r = 0; r < 3; r++) for (let j = 0; j < 3; j++) expect(x0[r * 3 + j]).toBe(loc[j]);
  });

  it("standard: sample moments at temperature 1 and 0.5, and the samples' log-density", async () => {
    const flow = await build("input [2]\naffine\nbase normal\n", "f64", 64);
    flow.initialize({ seed: 1 });
    setParams(flow, { "layers.0.bias": [0.5, -1], "layers.0.logs": [0, 0] });
    const N = 40000;
    for (const temp of [1, 0.5]) {
      const m = moments(flow.sample(N, { seed: 3, temperature: temp }), 2);
      // x = z − bias with z ~ N(0, τ²)
      expect(Math.abs(m.mean[0] + 0.5)).toBeLessThan(5 * temp / Math.sqrt(N));
      expect(Math.abs(m.mean[1] - 1)).toBeLessThan(5 * temp / Math.sqrt(N));
      for (const s of m.std) expect(Math.abs(s / temp - 1)).toBeLessThan(0.03);
    }
    const { x, logProb } = flow.sampleAndLogProb(20, { seed: 4 });
    const lp = flow.logProb(x);
    for (let r = 0; r < 20; r++) expect(logProb[r]).toBeCloseTo(lp[r], 10);
  });

  it("compiles and agrees with f64 in f32", async () => {
    for (const variant of ["standard", "learned"]) {
      const src = `input [5]\naffine\nbase normal ${variant}\n`;
      const f32 = await build(src, "f32"), f64 = await build(src, "f64");
      f64.initialize({ seed: 1 });
      randomParams(f64, 2);
      f32.initialize({ seed: 1 });
      f32.setParams(f64.getParams());
      const x = rows(9, 5, 3);
      const a = f32.logProb(Float32Array.from(x)), b = f64.logProb(Float32Array.from(x));
      for (let r = 0; r < 9; r++) expect(Math.abs(a[r] - b[r])).toBeLessThan(1e-4 * Math.max(1, Math.abs(b[r])));
      const s = f32.sample(100, { seed: 1, temperature: 0.7 });
      for (const v of s) expect(Number.isFinite(v)).toBe(true);
    }
  });
});

describe("base logistic", () => {
  it("log p is the closed form, finite far in the tails", async () => {
    const flow = await build("input [3]\naffine\nbase logistic\n");
    flow.initialize({ seed: 1 });
    randomParams(flow, 2);
    const x = rows(11, 3, 3);
    const lp = flow.logProb(x);
    const { z, ld } = affineOf(flow, x, 3);
    for (let r = 0; r < 11; r++) {
      let ref = ld[r];
      for (let j = 0; j < 3; j++) ref += logStdLogistic(z[r * 3 + j]);
      expect(lp[r]).toBeCloseTo(ref, 11);
    }
    setParams(flow, { "layers.0.bias": [0, 0, 0], "layers.0.logs": [0, 0, 0] });
    const far = flow.logProb([800, -800, 0]);
    expect(far[0]).toBeCloseTo(-1600 - 2 * Math.log(2), 9);
  });

  it("the training gradient matches central differences", async () => {
    const flow = await build("input [4]\naffine\nbase logistic\n");
    flow.initialize({ seed: 1 });
    randomParams(flow, 5);
    const { analytic, numeric } = gradients(flow, rows(7, 4, 6, 3));
    expectClose(analytic, numeric, 1e-6);
  });

  it("sample moments at temperature 1 and 0.5", async () => {
    const flow = await build("input [2]\naffine\nbase logistic\n", "f64", 64);
    flow.initialize({ seed: 1 });
    const N = 40000;
    for (const temp of [1, 0.5]) {
      const m = moments(flow.sample(N, { seed: 11, temperature: temp }), 2);
      const sd = (temp * Math.PI) / Math.sqrt(3);
      for (let j = 0; j < 2; j++) {
        expect(Math.abs(m.mean[j])).toBeLessThan(5 * sd / Math.sqrt(N));
        expect(Math.abs(m.std[j] / sd - 1)).toBeLessThan(0.03);
      }
    }
    const { x, logProb } = flow.sampleAndLogProb(20, { seed: 4 });
    const lp = flow.logProb(x);
    for (let r = 0; r < 20; r++) expect(logProb[r]).toBeCloseTo(lp[r], 10);
  });
});

// With a `split`, the base sees only the final part of each latent row; the module scores the rest.
describe.skipIf(!layers.split.emit)("bases after a split", () => {
  it.each(["normal learned", "logistic"])("base %s scores only the final part", async (base) => {
    const flow = await build(`input [4]\naffine\nsplit\nbase ${base}\n`);
    flow.initialize({ seed: 1 });
    randomParams(flow, 3, 0.2);
    const x = rows(5, 4, 2);
    const { z } = flow.forward(x);
    const { analytic, numeric } = gradients(flow, x);
    expectClose(analytic, numeric, 1e-6);
    expect(z.length).toBe(20);
    const s = flow.sampleAndLogProb(10, { seed: 2, temperature: 1 });
    const lp = flow.logProb(s.x);
    for (let r = 0; r < 10; r++) expect(s.logProb[r]).toBeCloseTo(lp[r], 9);
  });
});
