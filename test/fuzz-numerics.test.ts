/**
 * @fileoverview Numerical robustness in f32: sampling at temperature 0 gives
 * the flow's image of the zero latent for every row, and 1e-3 stays next to
 * it; inputs far in the tails (|x| = 1e4) through RealNVP-, NICE- and
 * MAF-style flows give finite log-probabilities, and flows with a bounded
 * input domain refuse them with FLOW662; `conv1x1 plain`, whose log-det and
 * inverse are computed in f64, inverts an ill-conditioned weight accurately;
 * a deep stack keeps finite log-densities.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { compile } from "../compiler/index.ts";
import { loadFlow, type Flow } from "../runtime-wasm/host/flow.ts";
import { FlowcInputError } from "../runtime-wasm/host/errors.ts";
import { sampleToy } from "../runtime-wasm/host/toys.ts";

async function trained(source: string, data: Float64Array, steps = 30): Promise<Flow> {
  const r = await compile(source, { filename: "numerics.flow" });
  if (!r.wasm) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const flow = await loadFlow(r.wasm);
  flow.initialize({ seed: 1, data });
  const t = flow.trainer({ lr: 3e-3, batchSize: 128 });
  for (let i = 0; i < steps; i++) t.step(data.subarray((i % 4) * 128 * flow.eventSize, ((i % 4) + 1) * 128 * flow.eventSize));
  return flow;
}

const spec = (name: string) => readFileSync(new URL(`../spec-examples/${name}`, import.meta.url), "utf8");

/** Points far in the tails: every sign pattern at |x| = 1e4, and mixed with ordinary values. */
function tails(D: number): Float32Array {
  const rows: number[][] = [];
  for (let mask = 0; mask < Math.min(1 << D, 16); mask++) rows.push(Array.from({ length: D }, (_, j) => ((mask >> (j % 4)) & 1 ? 1e4 : -1e4)));
  rows.push(Array.from({ length: D }, (_, j) => (j === 0 ? 1e4 : 0.5)));
  rows.push(Array.from({ length: D }, (_, j) => (j === D - 1 ? -1e4 : -0.25)));
  return Float32Array.from(rows.flat());
}

describe("temperature", () => {
  it("temperature 0 gives the image of the zero latent for every row; 1e-3 stays within a hair of it", async () => {
    const flow = await trained(spec("moons.flow"), sampleToy("moons", 512, 1));
    const n = 300;
    const x0 = flow.sample(n, { seed: 3, temperature: 0 });
    const image = flow.inverse(new Float32Array(flow.latentSize)).x;
    for (let r = 0; r < n; r++) for (let j = 0; j < 2; j++) expect(x0[r * 2 + j]).toBe(image[j]);
    const x1 = flow.sample(n, { seed: 3, temperature: 1e-3 });
    let spread = 0;
    for (let k = 0; k < x1.length; k++) {
      expect(Number.isFinite(x1[k])).toBe(true);
      spread = Math.max(spread, Math.abs(x1[k] - image[k % 2]));
    }
    expect(spread).toBeGreaterThan(0);
    expect(spread).toBeLessThan(0.05);
    const both = flow.sampleAndLogProb(10, { seed: 3, temperature: 0 });
    for (const v of both.logProb) expect(Number.isFinite(v)).toBe(true);
  });
});

describe("the tails", () => {
  for (const name of ["moons.flow", "nice.flow", "maf-tabular.flow"]) {
    it(`${name}: |x| = 1e4 gives finite log-probabilities, or FLOW662 naming the row and the layer, never a silent NaN`, async () => {
      const source = spec(name);
      const D = Number(/input \[(\d+)\]/.exec(source)![1]);
      const data = D === 2 ? sampleToy("moons", 512, 2) : Float64Array.from({ length: 512 * D }, (_, i) => Math.sin(i * 0.7) + Math.cos(i * 0.13));
      const flow = await trained(source, data, 10);
      const x = tails(D);
      try {
        const lp = flow.logProb(x);
        for (const v of lp) expect(Number.isFinite(v), `log p = ${v}`).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(FlowcInputError);
        expect((e as FlowcInputError).code).toBe("FLOW662");
        expect((e as Error).message).toMatch(/^data row \d+, column \d+ is -?10000; log p is (NaN|-?Infinity) there: (layer \d+ \(`[^`]+`\) is the first whose output is not finite|every layer's output is finite)/);
        const row = (e as FlowcInputError).row!;
        // Every row before the one named scores finite on its own.
        if (row > 0) for (const v of flow.logProb(x.subarray(0, row * D))) expect(Number.isFinite(v)).toBe(true);
      }
    });
  }

  it("a flow with a bounded input domain refuses |x| = 1e4 with FLOW662 naming row, feature and layer", async () => {
    const flow = await trained("input [4]\nlogit alpha=0.05\ncoupling affine mask=half net=mlp(hidden=8, depth=1)\nbase normal\n", Float64Array.from({ length: 512 * 4 }, (_, i) => ((i * 0.6180339) % 1) * 0.9 + 0.05), 5);
    let err: unknown;
    try {
      flow.logProb(Float32Array.from([0.5, 0.5, 0.5, 0.5, 0.5, 1e4, 0.5, 0.5]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FlowcInputError);
    expect((err as FlowcInputError).code).toBe("FLOW662");
    expect((err as FlowcInputError).message).toMatch(/row 1, feature 1 is 10000, outside .*logit/);
  });

  it("property: any finite input up to |x| = 1e4 through moons.flow scores finite", async () => {
    const flow = await trained(spec("moons.flow"), sampleToy("moons", 512, 4), 10);
    fc.assert(
      fc.property(fc.array(fc.float({ min: -1e4, max: 1e4, noNaN: true }), { minLength: 2, maxLength: 64 }).filter((a) => a.length % 2 === 0), (xs) => {
        for (const v of flow.logProb(Float32Array.from(xs))) expect(Number.isFinite(v)).toBe(true);
      }),
      { numRuns: Number(process.env.FLOWC_FUZZ_RUNS) || 100, seed: 5 },
    );
  });
});

describe("conv1x1 plain and deep stacks", () => {
  it("conv1x1 plain inverts an ill-conditioned weight accurately in f32 (its inverse is computed in f64)", async () => {
    const r = await compile("input [4, 2, 2]\nconv1x1 plain\nbase normal\n", { filename: "c.flow" });
    const flow = await loadFlow(r.wasm!);
    // W = I + a nearly rank-one update: condition number about 1e4.
    const C = 4, W = new Float64Array(C * C);
    for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) W[i * C + j] = (i === j ? 1e-3 : 0) + 1 + 0.01 * i * j;
    flow.setParams(W);
    const x = Float32Array.from({ length: 3 * 16 }, (_, i) => Math.sin(i));
    const { z, logDet } = flow.forward(x);
    const back = flow.inverse(z);
    let err = 0;
    for (let k = 0; k < x.length; k++) err = Math.max(err, Math.abs(back.x[k] - x[k]));
    expect(err).toBeLessThan(2e-2);
    // log|det W| in f64 on the host, times the 4 pixels.
    const m = Array.from({ length: C }, (_, i) => Array.from(W.subarray(i * C, (i + 1) * C)));
    let ld = 0;
    for (let k = 0; k < C; k++) {
      let p = k;
      for (let i = k + 1; i < C; i++) if (Math.abs(m[i][k]) > Math.abs(m[p][k])) p = i;
      [m[k], m[p]] = [m[p], m[k]];
      ld += Math.log(Math.abs(m[k][k]));
      for (let i = k + 1; i < C; i++) {
        const f = m[i][k] / m[k][k];
        for (let j = k; j < C; j++) m[i][j] -= f * m[k][j];
      }
    }
    for (const v of logDet) expect(v).toBeCloseTo(4 * ld, 3);
    for (let r2 = 0; r2 < 3; r2++) expect(back.logDet[r2]).toBeCloseTo(-4 * ld, 3);
  });

  it("a 48-layer stack keeps finite log-densities for ordinary and tail inputs", async () => {
    const source = `input [6]\nrepeat 16 { actnorm; coupling affine mask=alternate net=mlp(hidden=16, depth=1); linear lu }\nbase normal\n`;
    const data = Float64Array.from({ length: 512 * 6 }, (_, i) => Math.sin(i * 0.37) * 3);
    const flow = await trained(source, data, 20);
    const lp = flow.logProb(Float32Array.from([...data.subarray(0, 60), ...tails(6)]));
    for (const v of lp) expect(Number.isFinite(v)).toBe(true);
  });
});
