/**
 * @fileoverview Shared layer bodies and `--recompute`: equal layers share one
 * emitted body; a recompute module trains to the same loss and gradients as
 * the default one (f64 to ~1e-10, f32 to rounding), leaves the RNG where the
 * default one does, runs the backward of the inverse alike, refuses layers
 * without a closed-form direction (FLOW504), and its workspace does not grow
 * with depth; `flowc train --recompute` records peak memory in run.json.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, registry } from "../compiler/codegen/compile.ts";
import { check } from "../compiler/check/api.ts";
import { generateModule } from "../compiler/codegen/module.ts";
import { loadFlow, type Flow } from "../runtime-wasm/host/flow.ts";

const moonsLike = `input [2]
repeat 3 { coupling affine mask=half net=mlp(hidden=8, depth=2); permute reverse; actnorm }
base normal`;

const digitsLike = `input [1, 4, 4]
dequantize uniform levels=17
logit alpha=0.05
repeat 2 { coupling affine mask=checker scale=exp net=conv(hidden=4); actnorm }
squeeze
repeat 2 { coupling affine mask=channel scale=exp net=conv(hidden=4); actnorm }
split
coupling affine mask=checker net=conv(hidden=4)
base normal`;

const glow = (steps: number, hidden = 4) => `input [1, 4, 4]
dequantize uniform bits=8
logit alpha=0.05
squeeze
repeat ${steps} { actnorm; conv1x1 lu; coupling affine mask=channel net=conv(hidden=${hidden}) }
split prior=learned
repeat ${steps} { actnorm; conv1x1 lu; coupling affine mask=channel net=conv(hidden=${hidden}) }
base normal`;

async function build(src: string, precision: "f32" | "f64", recompute: boolean, chunk = 8): Promise<Flow> {
  const r = await compile(src, { filename: "t.flow", precision, chunk, recompute });
  if (!r.wasm) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n"));
  expect((r.manifest as unknown as { recompute: boolean }).recompute).toBe(recompute);
  return loadFlow(r.wasm);
}

/** Deterministic data in the first layer's domain. */
function data(flow: Flow, n: number): Float64Array {
  const D = flow.eventSize;
  const integer = flow.manifest.inputDomain?.integer;
  const hi = flow.manifest.inputDomain?.hi ?? 1;
  return Float64Array.from({ length: n * D }, (_, k) => {
    const u = (Math.sin(k * 12.9898 + 1.7) * 43758.5453) % 1;
    const v = Math.abs(u);
    return integer ? Math.floor(v * hi) : 2 * v - 1;
  });
}

/** One train_chunk from equal parameters and RNG state: the NLL, the gradient and the RNG state after. */
function trainChunk(flow: Flow, params: ArrayLike<number>, x: Float64Array, n: number) {
  const e = flow.exports, mem = flow.mem;
  flow.setParams(params);
  e.zero_buf(mem.G, flow.manifest.paramCount);
  e.seed(mem.ws, 11);
  flow.copyIn(mem.X, x, 0, x.length);
  const nll = e.train_chunk(mem.P, mem.G, mem.ws, mem.X, n, 1 / n, 0);
  const g = Array.from(flow.view(mem.G, flow.manifest.paramCount));
  const rng = Array.from(new Uint32Array(e.memory.buffer, mem.ws, 4));
  return { nll, g, rng };
}

function maxRelErr(a: number[], b: number[]): number {
  const scale = Math.max(1e-30, ...a.map(Math.abs));
  return Math.max(0, ...a.map((v, i) => Math.abs(v - b[i]))) / scale;
}

describe("shared layer bodies", () => {
  it("emits one body per distinct layer code", () => {
    const ir = check(glow(6), { filename: "g.flow" }).ir!;
    const gen = generateModule(ir, registry, { precision: "f32", chunk: 8 });
    // dequantize, logit, squeeze, split and per level actnorm, conv1x1 and the two coupling parities
    expect(gen.bodies).toBeLessThanOrEqual(4 + 2 * 4);
    expect(gen.source.match(/^function B\d+_fwd\(/gm)?.length).toBe(gen.bodies);
    expect(gen.source.match(/^function L\d+_fwd\(/gm)?.length).toBe(ir.layers.length);
    // no parameter, gradient or slot address is baked into a body
    const bodies = gen.source.split(/^function /m).filter((f) => /^B\d+_/.test(f)).join("\n");
    expect(bodies).not.toMatch(/\(P \+ \d+\)|\(G \+ \d+\)|\(ws \+ \d+\)/);
  });
});

describe("--recompute", { timeout: 600_000 }, () => {
  for (const [name, src] of [["moons-like", moonsLike], ["digits-like", digitsLike], ["glow-like", glow(2)]] as const) {
    it(`${name}: same NLL, gradient and RNG state as storing activations (f64 and f32)`, async () => {
      for (const precision of ["f64", "f32"] as const) {
        const a = await build(src, precision, false), b = await build(src, precision, true);
        const n = 8;
        const x = data(a, n);
        a.initialize({ seed: 5, data: x });
        const params = Array.from(a.getParams());
        const ra = trainChunk(a, params, x, n), rb = trainChunk(b, params, x, n);
        const tol = precision === "f64" ? 1e-10 : 2e-4;
        expect(Math.abs(ra.nll - rb.nll) / Math.abs(ra.nll)).toBeLessThan(precision === "f64" ? 1e-12 : 1e-6);
        expect(maxRelErr(ra.g, rb.g)).toBeLessThan(tol);
        expect(ra.g.some((v) => v !== 0)).toBe(true);
        expect(rb.rng).toEqual(ra.rng);
        expect(b.manifest.workspaceBytes).toBeLessThan(a.manifest.workspaceBytes);
      }
    });
  }

  it("a non-finite loss names the same layer as without recompute (layers re-run one by one)", async () => {
    // Four elementwise affines: the third one's scale overflows f32 (exp(100)), so its output is the first non-finite one.
    const src = "input [2]\naffine\naffine\naffine\naffine\nbase normal\n";
    for (const recompute of [false, true]) {
      const flow = await build(src, "f32", recompute);
      flow.initialize({ seed: 0 });
      const p = flow.getParams();
      const logs = flow.manifest.params.find((q) => q.name === "layers.2.logs")!;
      p.fill(100, logs.offset, logs.offset + logs.size);
      flow.setParams(p);
      let err: unknown;
      try {
        flow.trainer({ batchSize: 4 }).step(new Float32Array([0.5, -0.25, 1, 2, 0.1, 0.2, -1, 3]));
      } catch (e) {
        err = e;
      }
      expect((err as { layer?: number }).layer, `recompute=${recompute}`).toBe(2);
      expect((err as Error).message).toMatch(/output of layer 2 \(affine\)/);
    }
  });

  it("the backward of the inverse agrees too", async () => {
    const a = await build(moonsLike, "f64", false), b = await build(moonsLike, "f64", true);
    const n = 8;
    a.initialize({ seed: 2, data: data(a, n) });
    const params = Array.from(a.getParams());
    const z = data(a, n);
    const gx = Float64Array.from({ length: n * 2 }, (_, k) => Math.cos(k));
    const run = (f: Flow) => {
      const e = f.exports, m = f.mem;
      f.setParams(params);
      e.zero_buf(m.G, f.manifest.paramCount);
      f.copyIn(m.Z, z, 0, z.length);
      e.inverse(m.P, m.ws, m.Z, m.X, m.LD, n, 0);
      f.copyIn(m.GX, gx, 0, gx.length);
      e.backward_inv(m.P, m.G, m.ws, m.Z, m.X, m.GX, 0.5, m.GZ, n, 0);
      return [...Array.from(f.view(m.G, f.manifest.paramCount)), ...Array.from(f.view(m.GZ, n * 2))];
    };
    expect(maxRelErr(run(a), run(b))).toBeLessThan(1e-10);
  });

  it("refuses a layer whose inverse is not closed-form (FLOW504), naming it", async () => {
    const r = await compile("input [2]\nactnorm\nresidual hidden=8\nbase normal", { filename: "r.flow", recompute: true });
    expect(r.wasm).toBeNull();
    expect(r.diagnostics.filter((d) => d.severity === "error").map((d) => d.code)).toEqual(["FLOW504"]);
    const d = r.diagnostics.find((x) => x.code === "FLOW504")!;
    expect(d.message).toContain("residual");
    expect(d.message).toContain("inverse");
    expect(d.span?.line).toBe(3);
    const ok = await compile("input [2]\nactnorm\nresidual hidden=8\nbase normal", { filename: "r.flow" });
    expect(ok.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  });

  it("training memory of a 32-step Glow stays within 1.3× of an 8-step one", () => {
    // glow-mnist's architecture with 4 or 16 steps per level. Peak memory of training =
    // workspace + P, G and the two Adam moments (f32, the largest chunk). The parameters grow
    // with depth whatever the plan; the workspace must not.
    const spec = (k: number) => `input [1, 28, 28]
dequantize uniform bits=8
logit alpha=0.05
squeeze
repeat ${k} { actnorm; conv1x1 lu; coupling affine mask=channel net=conv(hidden=128) }
split prior=learned
squeeze
repeat ${k} { actnorm; conv1x1 lu; coupling affine mask=channel net=conv(hidden=128) }
base normal`;
    const plan = (steps: number, recompute: boolean) => {
      const ir = check(spec(steps / 2), { filename: "g.flow" }).ir!;
      const gen = generateModule(ir, registry, { precision: "f32", chunk: 256, recompute });
      return { ws: gen.workspaceBytes, peak: gen.workspaceBytes + 4 * ir.paramCount * 4 };
    };
    const [a, b] = [plan(8, true), plan(32, true)];
    // only the 16-byte RNG snapshot per layer grows
    expect(b.ws / a.ws).toBeLessThan(1.001);
    expect(b.peak / a.peak).toBeLessThanOrEqual(1.3);
    // Storing activations grows with depth.
    expect(plan(32, false).peak / plan(8, false).peak).toBeGreaterThan(3);
  });
});

describe("flowc train --recompute", { timeout: 600_000 }, () => {
  const root = join(import.meta.dirname, "..");
  const flowc = (...args: string[]) => spawnSync(process.execPath, [join(root, "bin/flowc.mjs"), ...args], { encoding: "utf8", cwd: root, timeout: 300_000 });
  const dir = mkdtempSync(join(tmpdir(), "flowc-recompute-"));

  it("trains, prints and records peak memory", () => {
    const spec = join(dir, "m.flow");
    writeFileSync(spec, moonsLike);
    const out = join(dir, "run");
    const r = flowc("train", spec, "--data", "moons", "--n", "2000", "--steps", "20", "--batch", "64", "--out", out, "--recompute");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/peak memory [\d.]+ MiB \(workspace [\d.]+ MiB per thread, --recompute\)/);
    const info = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(info.step).toBe(20);
    expect(info.peakMemoryBytes).toBeGreaterThan(0);
    expect(info.peakMemoryBytes % 65536).toBe(0);
  });

  it("refuses --detect-anomaly with --recompute, and FLOW504 layers, without writing a run", () => {
    const out = join(dir, "bad");
    const a = flowc("train", "spec-examples/moons.flow", "--data", "moons", "--steps", "5", "--out", out, "--recompute", "--detect-anomaly");
    expect(a.status).toBe(1);
    expect(a.stderr).toContain("--detect-anomaly");
    expect(a.stderr).not.toMatch(/\n\s+at /);
    const spec = join(dir, "r.flow");
    writeFileSync(spec, "input [2]\nresidual hidden=8\nbase normal\n");
    const b = flowc("train", spec, "--data", "moons", "--steps", "5", "--out", out, "--recompute");
    expect(b.status).toBe(1);
    expect(b.stderr).toContain("FLOW504");
    expect(existsSync(join(out, "run.json"))).toBe(false);
  });
});
