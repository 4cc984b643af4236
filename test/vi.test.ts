/**
 * @fileoverview Variational inference: the built-in target densities and
 * their gradients, log Z on a grid, reverse-KL training through the host
 * (`Trainer.stepReverseKL`) lowering KL(q‖p) = log Z − ELBO far below its
 * value at init (on the two-mode U1, below the log 2 of a one-mode fit, with
 * annealing), the refusals (learned bases, layers without the inverse's
 * backward, scoring with a forward-less flow), and the CLI side: a run
 * directory from `trainReverseKL`, `flowc eval --target`, user target files.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../compiler/codegen/compile.ts";
import { loadFlow, type Flow } from "../runtime-wasm/host/flow.ts";
import { FlowcInputError } from "../runtime-wasm/host/errors.ts";
import { getTarget, gridLogZ, targets } from "../runtime-wasm/host/targets.ts";
import { annealedBeta, estimateElbo, loadTarget, targetLogZ, trainReverseKL } from "../compiler/cli/train-kl.ts";
import { gaussian, mulberry } from "../compiler/cli/numeric.ts";

const root = join(import.meta.dirname, "..");
const flowc = (...args: string[]) => spawnSync(process.execPath, [join(root, "bin/flowc.mjs"), ...args], { encoding: "utf8", cwd: root, timeout: 300_000 });

const compiled = new Map<string, Promise<Uint8Array>>();

/** A fresh flow of `source`; each spec is compiled once per file (32 planar layers take seconds). */
async function build(source: string): Promise<Flow> {
  if (!compiled.has(source)) {
    compiled.set(source, compile(source, { filename: "vi.flow" }).then((res) => {
      if (!res.wasm) throw new Error(res.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n"));
      return res.wasm;
    }));
  }
  return loadFlow(await compiled.get(source)!);
}

const planarSpec = readFileSync(join(root, "spec-examples/planar-vi.flow"), "utf8");

describe("targets", () => {
  it("gradients match central differences", () => {
    const g = gaussian(mulberry(5));
    for (const t of Object.values(targets)) {
      const n = 64;
      // Spread over the box, past the U2–U4 walls at |z1| = 4; the funnel's x kept where its scale is sane.
      const x = Float64Array.from({ length: 2 * n }, (_, k) => (k % 2 === 0 ? 2.5 * g() : t.name === "funnel" ? 0.5 * g() : 2.5 * g()));
      const grad = new Float64Array(2 * n);
      const lp = t.logDensity(x, n, grad);
      expect(lp.length).toBe(n);
      const h = 1e-6;
      for (let k = 0; k < 2 * n; k++) {
        const xp = Float64Array.from(x), xm = Float64Array.from(x);
        xp[k] += h;
        xm[k] -= h;
        const r = k >> 1;
        const fd = (t.logDensity(xp, n, null)[r] - t.logDensity(xm, n, null)[r]) / (2 * h);
        expect(Math.abs(fd - grad[k]), `${t.name} row ${r} coordinate ${k % 2}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(fd)));
      }
    }
  });

  it("grid log Z: exact for the banana, converged for U1–U4", () => {
    expect(Math.abs(gridLogZ(targets.banana).logZ - 0)).toBeLessThan(1e-6);
    for (const name of ["u1", "u2", "u3", "u4"]) {
      const fine = gridLogZ(targets[name], { points: 1201 }).logZ, coarse = gridLogZ(targets[name], { points: 601 }).logZ;
      expect(Math.abs(fine - coarse), name).toBeLessThan(1e-4);
    }
    // U1: a ring of radius 2 and radial width 0.4, weighted by two bumps on z1: Z ≈ 6.5.
    expect(gridLogZ(targets.u1, { points: 801 }).logZ).toBeCloseTo(1.8775, 3);
  });

  it("unknown names list the known ones", () => {
    expect(() => getTarget("bananna")).toThrow(/u1, u2, u3, u4, banana, funnel/);
  });
});

describe("reverse-KL training", () => {
  it("lowers KL(q‖p) far below its value at init (planar ×32 on the banana)", async () => {
    const flow = await build(planarSpec);
    flow.initialize({ seed: 1 });
    flow.exports.seed(flow.mem.ws, 1);
    const t = targets.banana;
    const kl = () => t.logZ! - estimateElbo(flow, t, 20000, 7).elbo;
    const before = kl();
    const trainer = flow.trainer({ lr: 5e-3, batchSize: 128 });
    let loss = NaN;
    for (let s = 0; s < 400; s++) loss = trainer.stepReverseKL(t, 128);
    const after = kl();
    expect(Number.isFinite(loss)).toBe(true);
    expect(before).toBeGreaterThan(5);
    expect(after).toBeLessThan(1);
    expect(after).toBeGreaterThan(0); // KL ≥ 0 up to Monte-Carlo noise, which is far smaller here
  });

  it("with annealing, captures both modes of U1 (KL well below log 2)", async () => {
    const flow = await build(planarSpec);
    flow.initialize({ seed: 2 });
    flow.exports.seed(flow.mem.ws, 2);
    const t = targets.u1;
    const trainer = flow.trainer({ lr: 3e-3, batchSize: 128 });
    for (let s = 0; s < 5000; s++) trainer.stepReverseKL(t, 128, { beta: annealedBeta(s, 2000) });
    const logZ = targetLogZ(t, 801)!.logZ;
    const kl = logZ - estimateElbo(flow, t, 20000, 7).elbo;
    expect(kl).toBeLessThan(0.3);
  });

  it("refuses a learned base, naming it", async () => {
    const flow = await build("input [2]\nrepeat 2 { planar }\nbase normal learned\n");
    flow.initialize({ seed: 1 });
    const trainer = flow.trainer();
    expect(() => trainer.stepReverseKL(targets.banana, 16)).toThrow(FlowcInputError);
    expect(() => trainer.stepReverseKL(targets.banana, 16)).toThrow(/`base normal learned` has trainable parameters/);
  });

  it("refuses layers without the inverse's backward, naming them", async () => {
    const flow = await build("input [2]\nplanar\nradial\nplanar\n");
    flow.initialize({ seed: 1 });
    expect(flow.manifest.layers.every((l) => l.bwdInv)).toBe(true);
    // As a layer kind without `bwdInv` would be described by its manifest.
    flow.manifest.layers[1].bwdInv = false;
    const trainer = flow.trainer();
    expect(() => trainer.stepReverseKL(targets.u1, 16)).toThrow(/layer 1 \(`radial`\) has no backward of the inverse/);
  });

  it("refuses a target of the wrong dimension and a flow without parameters", async () => {
    const flow = await build("input [3]\nplanar\n");
    const trainer = flow.trainer();
    expect(() => trainer.stepReverseKL(targets.u1, 16)).toThrow(/2-dimensional but the flow's events have 3 values/);
    const three = { dim: 3, logDensity: (x: Float64Array, n: number, g: Float64Array | null) => { g?.fill(0); return new Float64Array(n); } };
    expect(() => trainer.stepReverseKL(three, 16)).toThrow(/initialize\(\) or loadWeights\(\)/);
  });

  it("a forward-less flow refuses logProb, forward and likelihood training with a clear error, not a trap", async () => {
    const flow = await build("input [2]\nrepeat 3 { planar }\n");
    flow.initialize({ seed: 1 });
    const x = new Float64Array([0.1, 0.2, 0.3, 0.4]);
    for (const call of [() => flow.logProb(x), () => flow.forward(x), () => flow.trainer().step(x)]) {
      expect(call).toThrow(FlowcInputError);
      expect(call).toThrow(/no data → latent direction/);
    }
    // What it can do instead.
    const { x: s, logProb } = flow.sampleAndLogProb(8, { seed: 1 });
    expect(s.length).toBe(16);
    expect([...logProb].every(Number.isFinite)).toBe(true);
  });
});

describe("CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "flowc-vi-"));

  it("trainReverseKL writes a run directory that `flowc eval --target` reads", async () => {
    const out = join(dir, "run"), spec = join(dir, "planar8.flow");
    writeFileSync(spec, "input [2]\nrepeat 8 { planar }\n");
    await trainReverseKL(spec, { target: "banana", steps: "300", batch: "128", lr: "5e-3", seed: "1", out, quiet: true, evalSamples: "2000", checkpointEvery: "100" });
    for (const f of ["model.wasm", "weights.safetensors", "checkpoint.safetensors", "run.json"]) expect(existsSync(join(out, f))).toBe(true);
    const info = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(info).toMatchObject({ step: 300, target: "banana", logZ: 0, logZMethod: "exact" });
    expect(info.klGap).toBeLessThan(1.5);
    const r = flowc("eval", out, "--target", "banana", "--n", "5000", "--grid", "401", "--json");
    expect(r.status, r.stderr).toBe(0);
    const ev = JSON.parse(r.stdout);
    expect(ev).toMatchObject({ target: "banana", n: 5000, logZ: 0, logZMethod: "exact" });
    expect(Math.abs(ev.logZGrid.logZ)).toBeLessThan(1e-3);
    expect(ev.kl).toBeCloseTo(-ev.elbo, 10);
    expect(Math.abs(ev.kl - info.klGap)).toBeLessThan(0.2);
  });

  it("loads a user target module and rejects a malformed one", async () => {
    const good = join(dir, "ring.mjs");
    writeFileSync(good, `export const dim = 2;
export const box = [[-4, 4], [-4, 4]];
export function logDensity(x, n, grad) {
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const a = x[2 * r], b = x[2 * r + 1];
    out[r] = -0.5 * (a * a + b * b);
    if (grad) { grad[2 * r] = -a; grad[2 * r + 1] = -b; }
  }
  return out;
}
`);
    const t = await loadTarget(good);
    expect(t.dim).toBe(2);
    // ∫ exp(−|x|²/2) = 2π, up to the box's missing tails (e^{−8}).
    expect(gridLogZ(t, { points: 401 }).logZ).toBeCloseTo(Math.log(2 * Math.PI), 3);
    const bad = join(dir, "bad.mjs");
    writeFileSync(bad, "export const dim = 2;\n");
    await expect(loadTarget(bad)).rejects.toThrow(/must export a function logDensity/);
    await expect(loadTarget(join(dir, "missing.mjs"))).rejects.toThrow(/no such file/);
  });
});
