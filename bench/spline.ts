/**
 * @fileoverview Spline-coupling training throughput: `nsf-moons.flow`
 * (8 × [coupling spline bins=8 tail=5 mask=half, MLP 64×2; permute reverse])
 * trained on `checkerboard` (Adam, batch 256) against the same flow in
 * PyTorch (`bench/torch/spline.py`, nflows' algorithm re-implemented), one
 * thread each. flowc is timed before and after the reference and the two
 * figures averaged, so a change in machine load during the run biases the
 * ratio less. `npm run bench` calls `splineBench`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "../compiler/codegen/compile.ts";
import { loadFlow, type Flow } from "../runtime-wasm/host/flow.ts";
import { sampleToy } from "../runtime-wasm/host/toys.ts";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

export interface SplineRow { name: string; flowc: string; reference: string; ratio: string; target: string; met?: boolean }

const fmt = (v: number) => v.toLocaleString("en-US", { maximumFractionDigits: 0 });

/** samples/s of `steps` Adam steps at batch 256, walking through `data` with a fixed stride. */
function timeTraining(step: (batch: Float64Array) => number, data: Float64Array, steps: number, from: number): number {
  const batch = new Float64Array(256 * 2);
  const rows = data.length / 2;
  let k = from;
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    for (let r = 0; r < 256; r++) {
      const i = (k++ * 7919) % rows;
      batch[2 * r] = data[2 * i];
      batch[2 * r + 1] = data[2 * i + 1];
    }
    step(batch);
  }
  return (steps * 256) / ((performance.now() - t0) / 1000);
}

function torchSpline(steps: number): { samples_per_s: number } | null {
  if (!existsSync("/usr/bin/python3")) return null;
  const r = spawnSync("/usr/bin/python3", [join(here, "torch/spline.py"), "--mode", "train", "--threads", "1", "--steps", String(steps)], { encoding: "utf8", timeout: 900_000 });
  if (r.status !== 0) {
    process.stderr.write(`PyTorch spline reference unavailable: ${(r.stderr || "").trim().split("\n").pop()}\n`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

export async function splineBench(quick: boolean): Promise<SplineRow[]> {
  const res = await compile(readFileSync(join(root, "spec-examples/nsf-moons.flow"), "utf8"), { filename: "nsf-moons.flow" });
  if (!res.wasm) throw new Error(res.diagnostics.map((d) => d.message).join("\n"));
  const flow: Flow = await loadFlow(res.wasm);
  const data = sampleToy("checkerboard", 100_000, 0);
  flow.initialize({ seed: 0, data: data.subarray(0, 512) });
  const trainer = flow.trainer({ lr: 1e-3, batchSize: 256 });
  const step = (b: Float64Array) => trainer.step(b);
  timeTraining(step, data, 20, 0); // warm-up
  const steps = quick ? 100 : 600;
  const before = timeTraining(step, data, steps, 20 * 256);
  const ref = torchSpline(quick ? 50 : 200);
  const after = timeTraining(step, data, steps, (20 + steps) * 256);
  const sps = (before + after) / 2;
  return [{
    name: "nsf-moons.flow (spline couplings) training on checkerboard, samples/s, 1 thread",
    flowc: `${fmt(sps)} (${fmt(before)} before, ${fmt(after)} after the reference)`,
    reference: ref ? `${fmt(ref.samples_per_s)} (nflows' algorithm, torch 1 thread)` : "n/a",
    ratio: ref ? `${(sps / ref.samples_per_s).toFixed(2)}×` : "—",
    target: "≥ 5× nflows",
    met: ref ? sps / ref.samples_per_s >= 5 : undefined,
  }];
}
