/**
 * @fileoverview `flowc sample DIR -n N -o FILE`: draw samples from a trained
 * flow into CSV, .npy, or a PNG (a scatter over the learned density for 2-D
 * flows, a grid for image flows). Also exports the PNG writer that
 * `flowc train --sample-every` uses, so both draw the same pictures.
 *
 * Image grids show data values on [0, 1]: a flow whose first layer has a
 * bounded input domain (`dequantize levels=L`: integers in [0, L); `logit`:
 * [0, 1]) maps that domain onto [0, 1], so dequantized flows are divided by
 * their number of levels; any other image flow is clamped to [0, 1].
 */
import type { Command } from "commander";
import { extname } from "node:path";
import type { Flow } from "../../../runtime-wasm/host/flow.ts";
import type { Manifest } from "../../../runtime-wasm/host/manifest.ts";
import { loadRun } from "../run-dir.ts";
import { describeError, fail, parseInteger, parseNumber } from "../shared.ts";
import { writeCsv } from "../io/csv.ts";
import { writeNpy } from "../io/npy.ts";
import { imageGridPng, scatterDensityPng } from "../plot.ts";

/** The affine map `v ↦ (v − lo) / (hi − lo)` that takes a flow's data values to [0, 1] for display. */
export function displayRange(manifest: Pick<Manifest, "inputDomain">): { lo: number; hi: number } {
  const d = manifest.inputDomain;
  if (d && Number.isFinite(d.lo) && Number.isFinite(d.hi) && d.hi > d.lo) return { lo: d.lo, hi: d.hi };
  return { lo: 0, hi: 1 };
}

/** Whether `writeSamplesPng` can draw this flow (an image flow or a 2-D flow). */
export function canPlot(flow: Flow): boolean {
  return flow.eventShape.length === 3 || flow.eventSize === 2;
}

/** Tile magnification for image grids: small images (8×8 digits) are enlarged to ≈32 pixels a side. */
function tileScale(height: number, width: number): number {
  return Math.max(1, Math.floor(32 / Math.max(height, width)));
}

/**
 * Writes `n` samples `x` (rows of `flow.eventSize`) as a PNG: a grid for image
 * flows (values mapped to [0, 1] by `displayRange`), a scatter over the
 * learned density for 2-D flows. Fails for other flows.
 */
export function writeSamplesPng(path: string, flow: Flow, x: ArrayLike<number>, n: number): void {
  if (flow.eventShape.length === 3) {
    const [c, h, w] = flow.eventShape;
    const { lo, hi } = displayRange(flow.manifest);
    const span = hi - lo;
    const v = new Float64Array(n * flow.eventSize);
    for (let i = 0; i < v.length; i++) v[i] = (x[i] - lo) / span;
    imageGridPng(path, v, { count: n, channels: c, height: h, width: w, scale: tileScale(h, w) });
  } else if (flow.eventSize === 2) {
    scatterDensityPng(path, Float64Array.from({ length: 2 * n }, (_, i) => x[i]), flow.manifest.capabilities.logProb ? { density: (pts) => Float64Array.from(flow.logProb(pts)) } : {});
  } else {
    fail(`a PNG needs a 2-D or an image flow; this one has event shape [${flow.eventShape.join(", ")}] (write .csv or .npy)`);
  }
}

export function register(program: Command): void {
  program
    .command("sample")
    .description("draw samples from a trained flow")
    .argument("<dir>", "run directory written by `flowc train`")
    .option("-n <count>", "number of samples", "1000")
    .option("--seed <s>", "sampling seed", "0")
    .option("--temperature <t>", "scale of the base distribution (Glow's temperature; 0.7 gives cleaner image samples)", "1")
    .requiredOption("-o, --out <file>", "output: .csv, .npy or .png (image flows: a grid; 2-D flows: a scatter over the density)")
    .addHelpText("after", `
Examples:
  flowc sample runs/moons -n 2000 -o moons.png                     scatter over the learned density
  flowc sample runs/glow-mnist -n 64 --temperature 0.7 -o grid.png  an 8×8 grid of digits at temperature 0.7
  flowc sample runs/glow-mnist -n 1000 -o samples.npy              raw values, shape [n, C, H, W]`)
    .option("--threads <n>", "threads sharing the draws (samples do not depend on the count)", "1")
    .action(async (dir: string, o: { threads?: string; n: string; seed: string; temperature: string; out: string }) => {
      try {
        const n = parseInteger(o.n, "-n", 1);
        const ext = extname(o.out).toLowerCase();
        if (ext !== ".csv" && ext !== ".npy" && ext !== ".png") fail(`unknown output type '${ext}': use .csv, .npy or .png`);
        const { flow } = await loadRun(dir, { threads: parseInteger(o.threads ?? "1", "--threads", 1) });
        for (const note of flow.notes) process.stderr.write(`note: ${note}\n`);
        if (ext === ".png" && !canPlot(flow)) fail(`a PNG needs a 2-D or an image flow; this one has event shape [${flow.eventShape.join(", ")}] (write .csv or .npy)`);
        const x = flow.sample(n, { seed: parseInteger(o.seed, "--seed"), temperature: parseNumber(o.temperature, "--temperature", 0) });
        const D = flow.eventSize;
        if (ext === ".csv") writeCsv(o.out, Float64Array.from(x), D);
        else if (ext === ".npy") writeNpy(o.out, x, [n, ...flow.eventShape]);
        else writeSamplesPng(o.out, flow, x, n);
        process.stderr.write(`${o.out}: ${n} samples\n`);
      } catch (e) {
        fail(describeError(e));
      }
    });
}
