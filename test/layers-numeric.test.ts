/**
 * @fileoverview The one shared numeric suite (DESIGN §10) that drives every
 * registered layer kind with kernels, at each kind's test cases (or default
 * shapes), in f64: inverse(forward(x)) ≈ x with log-dets summing to 0,
 * the log-det against a finite-difference Jacobian, input and parameter
 * gradients against central differences, and — for conditioner layers — that
 * the zero-initialised net makes the layer elementwise at init. Then the
 * same round trip at f32 tolerances on the default build. A new layer joins
 * by having `emit`; it needs no test file of its own.
 */
import { describe, expect, it } from "vitest";
import { layers } from "../compiler/layers/index.ts";
import type { LayerKind, LayerTestCase } from "../compiler/layers/types.ts";
import { compile } from "../compiler/codegen/compile.ts";
import { loadFlow, type Flow } from "../runtime-wasm/host/flow.ts";
import { checkLayer, checkLayerInverse, gaussian, layerInputs, mulberry } from "../compiler/cli/numeric.ts";

function defaultCases(kind: LayerKind): LayerTestCase[] {
  const shapes = kind.accepts === "vector" ? [[3], [6]] : kind.accepts === "image" ? [[2, 4, 4], [3, 2, 4]] : [[3], [2, 4, 4]];
  const texts = kind.variants?.length ? kind.variants[0].values.map((v) => `${kind.name} ${v}`) : [kind.name];
  return shapes.flatMap((input) => texts.map((text) => ({ input, text })));
}

function specOf(c: LayerTestCase): string {
  return `input [${c.input.join(", ")}]\n${c.context ? `context [${c.context}]\n` : ""}${c.text.split(";").map((s) => s.trim()).join("\n")}\n`;
}

async function build(c: LayerTestCase, precision: "f32" | "f64"): Promise<Flow> {
  const res = await compile(specOf(c), { filename: "case.flow", precision, chunk: 8 });
  if (!res.wasm) throw new Error(`${c.text} on [${c.input}] does not compile:\n${res.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n")}`);
  return loadFlow(res.wasm);
}

/** Random rows inside the flow's input domain. */
function inputs(flow: Flow, rows: number, seed: number): Float64Array {
  const rand = mulberry(seed), g = gaussian(rand);
  const dom = flow.manifest.inputDomain;
  return Float64Array.from({ length: rows * flow.eventSize }, () => {
    if (!dom) return g();
    if (dom.integer) return Math.floor(dom.lo + rand() * (dom.hi - dom.lo));
    return dom.lo + (0.05 + 0.9 * rand()) * (dom.hi - dom.lo);
  });
}

function perturb(flow: Flow, seed: number, scale = 0.1): void {
  const g = gaussian(mulberry(seed));
  const P = flow.getParams();
  for (const p of flow.manifest.params) if (p.trainable) for (let k = 0; k < p.size; k++) P[p.offset + k] += scale * g();
  flow.setParams(P);
}

const kinds = Object.values(layers).filter((k) => k.emit);

describe.each(kinds.map((k) => [k.name, k] as const))("layer %s", (_name, kind) => {
  const cases = kind.testCases ?? defaultCases(kind);
  it.each(cases.map((c) => [`${c.text} on [${c.input.join(",")}]`, c] as const))("f64 numerics: %s", async (_label, c) => {
    const flow = await build(c, "f64");
    flow.initialize({ seed: 1 });
    const x = inputs(flow, 4, 2);
    if (kind.zeroInitElementwise && flow.manifest.layers.every((m) => m.direction.forward.kind !== "none")) {
      for (const l of flow.manifest.layers) {
        if (l.kind !== kind.name) continue;
        const r = checkLayer(flow, l.index, layerInputs(flow, x)[l.index], { offDiagonal: true });
        expect(r.offDiagonal, `layer ${l.index} is elementwise at init`).toBeLessThan(1e-8);
      }
    }
    // Large perturbations: with small ones a conditioner barely moves ∂L/∂x, and gradient bugs hide.
    perturb(flow, 3, 0.5);
    const context = flow.contextSize ? Float64Array.from({ length: 4 * flow.contextSize }, gaussian(mulberry(9))) : undefined;
    const allForward = flow.manifest.layers.every((m) => m.direction.forward.kind !== "none");
    const xs = allForward ? layerInputs(flow, x, context) : [];
    for (const l of flow.manifest.layers) {
      const where = `layer ${l.index} (${l.text})`;
      // Layers defined in the generative direction (planar, radial) have no forward to check.
      if (l.direction.forward.kind !== "none") {
        const r = checkLayer(flow, l.index, xs[l.index], { seed: 4 + l.index, context });
        expect(r.inverseErr, `${where}: inverse`).toBeLessThan(1e-9);
        expect(r.logdetSumErr, `${where}: log-dets sum to 0`).toBeLessThan(1e-9);
        if (!Number.isNaN(r.logdetErr)) expect(r.logdetErr, `${where}: log-det vs Jacobian`).toBeLessThan(1e-6);
        expect(r.gradInputErr, `${where}: ∂L/∂x`).toBeLessThan(1e-5);
        if (!Number.isNaN(r.gradParamErr)) expect(r.gradParamErr, `${where}: ∂L/∂θ`).toBeLessThan(1e-5);
      }
      if (l.bwdInv) {
        const y = allForward
          ? xs[l.index + 1]
          : Float64Array.from({ length: 4 * l.outShape.reduce((a, b) => a * b, 1) }, gaussian(mulberry(11 + l.index)));
        const r = checkLayerInverse(flow, l.index, y, { seed: 5 + l.index, context });
        expect(r.gradLatentErr, `${where}: inverse ∂L/∂y`).toBeLessThan(1e-5);
        if (!Number.isNaN(r.gradParamErr)) expect(r.gradParamErr, `${where}: inverse ∂L/∂θ`).toBeLessThan(1e-5);
        if (!Number.isNaN(r.logdetErr)) expect(r.logdetErr, `${where}: inverse log-det vs Jacobian`).toBeLessThan(1e-6);
      }
    }
  });

  it.each(cases.slice(0, 2).map((c) => [`${c.text} on [${c.input.join(",")}]`, c] as const))("f32 round trip: %s", async (_label, c) => {
    const flow = await build(c, "f32");
    flow.initialize({ seed: 1 });
    perturb(flow, 3, 0.05);
    if (flow.manifest.layers.some((m) => m.direction.forward.kind === "none")) {
      // Generative-direction layers: sampling with log-densities is what they offer.
      const { x, logProb } = flow.sampleAndLogProb(16, { seed: 3 });
      for (const v of [...x, ...logProb]) expect(Number.isFinite(v)).toBe(true);
      return;
    }
    const x = inputs(flow, 16, 5);
    const { z, logDet } = flow.forward(x);
    const back = flow.inverse(z);
    let err = 0, ldErr = 0;
    for (let k = 0; k < x.length; k++) err = Math.max(err, Math.abs(back.x[k] - x[k]) / Math.max(1, Math.abs(x[k])));
    for (let r = 0; r < logDet.length; r++) ldErr = Math.max(ldErr, Math.abs(logDet[r] + back.logDet[r]) / Math.max(1, Math.abs(logDet[r])));
    expect(err).toBeLessThan(1e-4);
    expect(ldErr).toBeLessThan(1e-4);
    const lp = flow.logProb(x);
    for (const v of lp) expect(Number.isFinite(v)).toBe(true);
  });
});

it("the suite covers at least one layer kind", () => {
  expect(kinds.length).toBeGreaterThan(0);
});
