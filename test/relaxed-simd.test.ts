/**
 * @fileoverview The optional relaxed-SIMD build (compile option
 * `relaxedSimd`): the module embeds it, plain Node 20 keeps running the plain
 * build, and a Node started with --experimental-wasm-relaxed-simd picks the
 * relaxed build, whose log-densities and training losses agree with the plain
 * build's within f32 rounding (fused multiply-adds round once instead of
 * twice). The flow exercises the conv kernels (conditioner and split prior)
 * and the dense kernels (an MLP coupling) with non-zero weights, and carries
 * bundled weights, which must survive the switch of builds.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { compile } from "../compiler/codegen/compile.ts";
import { appendCustomSection } from "../compiler/codegen/wasm-sections.ts";
import { loadFlow, WEIGHTS_SECTION } from "../runtime-wasm/host/flow.ts";
import { RELAXED_SECTION, VARIANT_SECTION, relaxedSimdSupported, relaxedVariant } from "../runtime-wasm/host/relaxed.ts";

const root = resolve(import.meta.dirname, "..");
const SPEC = `input [2, 6, 6]
squeeze
actnorm
conv1x1 lu
coupling affine mask=channel net=conv(hidden=12)
split prior=learned
coupling affine net=mlp(hidden=16)
base normal
`;

/** mulberry32 values in [-1, 1). */
function values(seed: number, n: number): Float64Array {
  let a = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  });
}

/** Loads the module, reports which build runs, log-densities of fixed rows, and two training losses. */
const PROBE = (flowPath: string, wasmPath: string) => `
import { readFileSync } from "node:fs";
const { loadFlow } = await import(${JSON.stringify(flowPath)});
const flow = await loadFlow(new Uint8Array(readFileSync(${JSON.stringify(wasmPath)})));
const variant = WebAssembly.Module.customSections(flow.module, "${VARIANT_SECTION}").map((s) => new TextDecoder().decode(s));
const rows = Float64Array.from({ length: 16 * flow.eventSize }, (_, i) => Math.sin(i * 0.37) * 1.5);
const logProb = Array.from(flow.logProb(rows));
const trainer = flow.trainer({ lr: 1e-3, batchSize: 16 });
const losses = [trainer.step(rows), trainer.step(rows)];
console.log(JSON.stringify({ variant, logProb, losses }));
`;

interface Probe { variant: string[]; logProb: number[]; losses: number[] }

function probe(nodeFlags: string[], script: string): Probe {
  const r = spawnSync(process.execPath, [...nodeFlags, join(root, "bin/run-ts.mjs"), script], { encoding: "utf8", cwd: root, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`probe failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Probe;
}

describe("relaxed-SIMD build", () => {
  let wasm: Uint8Array;
  let script: string;

  beforeAll(async () => {
    const res = await compile(SPEC, { filename: "relaxed.flow", relaxedSimd: true });
    if (!res.wasm) throw new Error(res.diagnostics.map((d) => `${d.code} ${d.message}`).join("\n"));
    // Non-zero weights everywhere (the last conv starts at zero), bundled as a trained module carries them.
    const flow = await loadFlow(res.wasm);
    flow.initialize({ seed: 3 });
    const p = flow.getParams();
    const noise = values(7, p.length);
    flow.setParams(Float64Array.from(p, (v, i) => v + 0.05 * noise[i]));
    wasm = appendCustomSection(res.wasm, WEIGHTS_SECTION, flow.saveWeights());
    const dir = mkdtempSync(join(tmpdir(), "flowc-relaxed-"));
    writeFileSync(join(dir, "flow.wasm"), wasm);
    script = join(dir, "probe.mts");
    writeFileSync(script, PROBE(join(root, "runtime-wasm/host/flow.ts"), join(dir, "flow.wasm")));
  }, 300_000);

  it("embeds the relaxed build in the plain module", () => {
    const outer = new WebAssembly.Module(wasm as BufferSource);
    expect(WebAssembly.Module.customSections(outer, RELAXED_SECTION)).toHaveLength(1);
    expect(WebAssembly.Module.customSections(outer, VARIANT_SECTION)).toHaveLength(0);
  });

  it("runs the plain build where relaxed SIMD is off, the relaxed one where it is on, with matching numbers", () => {
    // This process: whatever the runtime supports (off on Node 20 without the flag).
    expect(relaxedVariant(wasm) !== null).toBe(relaxedSimdSupported());
    const plain = probe(["--no-experimental-wasm-relaxed-simd"], script);
    const relaxed = probe(["--experimental-wasm-relaxed-simd"], script);
    expect(plain.variant).toEqual([]);
    expect(relaxed.variant).toEqual(["relaxed-simd"]);
    expect(plain.logProb.every(Number.isFinite)).toBe(true);
    for (let i = 0; i < plain.logProb.length; i++) {
      expect(Math.abs(relaxed.logProb[i] - plain.logProb[i])).toBeLessThan(1e-4 * (1 + Math.abs(plain.logProb[i])));
    }
    // The second loss follows one Adam step on the relaxed gradients: it checks the backward kernels too.
    for (let i = 0; i < 2; i++) expect(Math.abs(relaxed.losses[i] - plain.losses[i])).toBeLessThan(1e-4 * (1 + Math.abs(plain.losses[i])));
    // Different weights would move the numbers far more than rounding: the bundled weights were carried over.
    expect(Math.abs(relaxed.logProb[0] - plain.logProb[0])).toBeLessThan(1e-3);
  }, 600_000);

  it("caches the relaxed build next to the plain one, each under its own key", async () => {
    const store = new Map<string, Uint8Array>();
    const sets: string[] = [];
    const cache = { get: (k: string) => store.get(k), set: (k: string, w: Uint8Array) => { sets.push(k); store.set(k, w); } };
    const first = await compile(SPEC, { filename: "r.flow", relaxedSimd: true, cache });
    expect(sets).toHaveLength(2);
    expect(new Set(sets).size).toBe(2);
    const again = await compile(SPEC, { filename: "r.flow", relaxedSimd: true, cache });
    expect(sets).toHaveLength(2);
    expect(Buffer.from(again.wasm!).equals(Buffer.from(first.wasm!))).toBe(true);
    expect(WebAssembly.Module.customSections(new WebAssembly.Module(again.wasm! as BufferSource), RELAXED_SECTION)).toHaveLength(1);
  }, 300_000);
});
