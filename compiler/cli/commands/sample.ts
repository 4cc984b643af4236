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
 *
 * A conditional flow samples given `--context v1,…` (one context for all
 * samples) or `--context-file FILE` (one row per sample). A CSV output then
 * carries the context after the data columns, as given, so that it reads back
 * with `flowc train/eval --context-cols -k:` (k = its width); .npy and PNG
 * outputs hold the samples only.
 */
import type { Command } from "commander";
import { extname } from "node:path";
import type { Flow } from "../../../runtime-wasm/host/flow.ts";
import type { Manifest } from "../../../runtime-wasm/host/manifest.ts";
import { loadRun } from "../run-dir.ts";
import { describeError, fail, parseInteger, parseNumber, samplingContext } from "../shared.ts";
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

/** Distinct context rows beyond which a conditional 2-D scatter is drawn without the density. */
const MAX_DENSITY_CONTEXTS = 16;

/**
 * The density under a conditional 2-D scatter: p(x | c) for one context, the
 * mixture of p(x | c) over the samples' contexts (weighted by how often each
 * occurs) for a few, and none for many.
 */
function conditionalDensity(flow: Flow, context: Float64Array): ((pts: Float64Array) => Float64Array) | undefined {
  const k = flow.contextSize;
  const counts = new Map<string, { row: Float64Array; count: number }>();
  for (let r = 0; r < context.length / k; r++) {
    const row = context.subarray(r * k, (r + 1) * k);
    const key = row.join(",");
    const e = counts.get(key);
    if (e) e.count++;
    else counts.set(key, { row: Float64Array.from(row), count: 1 });
    if (counts.size > MAX_DENSITY_CONTEXTS) return undefined;
  }
  const total = context.length / k;
  return (pts) => {
    const out = new Float64Array(pts.length / 2).fill(-Infinity);
    for (const { row, count } of counts.values()) {
      const lp = flow.logProb(pts, row), lw = Math.log(count / total);
      for (let i = 0; i < out.length; i++) {
        const a = out[i], b = lp[i] + lw, m = Math.max(a, b);
        out[i] = m === -Infinity ? m : m + Math.log(Math.exp(a - m) + Math.exp(b - m));
      }
    }
    return out;
  };
}

/**
 * Writes `n` samples `x` (rows of `flow.eventSize`) as a PNG: a grid for image
 * flows (values mapped to [0, 1] by `displayRange`), a scatter over the
 * learned density for 2-D flows (a conditional flow's density given `context`,
 * the samples' context rows or one row for all). Fails for other flows.
 */
export function writeSamplesPng(path: string, flow: Flow, x: ArrayLike<number>, n: number, context?: Float64Array): void {
  if (flow.eventShape.length === 3) {
    const [c, h, w] = flow.eventShape;
    const { lo, hi } = displayRange(flow.manifest);
    const span = hi - lo;
    const v = new Float64Array(n * flow.eventSize);
    for (let i = 0; i < v.length; i++) v[i] = (x[i] - lo) / span;
    imageGridPng(path, v, { count: n, channels: c, height: h, width: w, scale: tileScale(h, w) });
  } else if (flow.eventSize === 2) {
    const density = !flow.manifest.capabilities.logProb ? undefined
      : flow.contextSize > 0 ? (context ? conditionalDensity(flow, context) : undefined)
      : (pts: Float64Array) => Float64Array.from(flow.logProb(pts));
    scatterDensityPng(path, Float64Array.from({ length: 2 * n }, (_, i) => x[i]), density ? { density } : {});
  } else {
    fail(`a PNG needs a 2-D or an image flow; this one has event shape [${flow.eventShape.join(", ")}] (write .csv or .npy)`);
  }
}

export function register(program: Command): void {
  program
    .command("sample")
    .description("draw samples from a trained flow")
    .argument("<dir>", "run directory written by `flowc train`")
    .option("-n <count>", "number of samples (default 1000; with a --context-file of several rows, one per row)")
    .option("--seed <s>", "sampling seed", "0")
    .option("--temperature <t>", "scale of the base distribution (Glow's temperature; 0.7 gives cleaner image samples)", "1")
    .requiredOption("-o, --out <file>", "output: .csv, .npy or .png (image flows: a grid; 2-D flows: a scatter over the density)")
    .option("--context <values>", "conditional flows: the context of every sample, k comma-separated values (or one class label 0…k−1 for a one-hot context [k])")
    .option("--context-file <file>", "conditional flows: a CSV with one context row per sample (k columns, or one column of class labels), or a single row for all")
    .addHelpText("after", `
Examples:
  flowc sample runs/moons -n 2000 -o moons.png                     scatter over the learned density
  flowc sample runs/glow-mnist -n 64 --temperature 0.7 -o grid.png  an 8×8 grid of digits at temperature 0.7
  flowc sample runs/glow-mnist -n 1000 -o samples.npy              raw values, shape [n, C, H, W]
  flowc sample runs/cond-moons -n 2000 --context 1 -o moon1.csv    a conditional flow, given its context`)
    .option("--threads <n>", "threads sharing the draws (samples do not depend on the count)", "1")
    .action(async (dir: string, o: { threads?: string; n?: string; seed: string; temperature: string; out: string; context?: string; contextFile?: string }) => {
      try {
        let n = parseInteger(o.n ?? "1000", "-n", 1);
        const ext = extname(o.out).toLowerCase();
        if (ext !== ".csv" && ext !== ".npy" && ext !== ".png") fail(`unknown output type '${ext}': use .csv, .npy or .png`);
        const { flow } = await loadRun(dir, { threads: parseInteger(o.threads ?? "1", "--threads", 1) });
        for (const note of flow.notes) process.stderr.write(`note: ${note}\n`);
        if (ext === ".png" && !canPlot(flow)) fail(`a PNG needs a 2-D or an image flow; this one has event shape [${flow.eventShape.join(", ")}] (write .csv or .npy)`);
        const ctx = samplingContext(flow, o);
        if (ctx && ctx.rows > 1) {
          if (o.n === undefined) n = ctx.rows;
          else if (n !== ctx.rows) fail(`-n ${n} but ${o.contextFile} holds ${ctx.rows} context rows: give one row per sample, a single row for all, or leave out -n`);
        }
        const x = flow.sample(n, { seed: parseInteger(o.seed, "--seed"), temperature: parseNumber(o.temperature, "--temperature", 0), context: ctx?.context });
        const D = flow.eventSize;
        if (ext === ".csv" && ctx) {
          // The context as given, after the data columns: the file is a labelled data set.
          const W = D + ctx.width;
          const rows = new Float64Array(n * W);
          for (let r = 0; r < n; r++) {
            for (let j = 0; j < D; j++) rows[r * W + j] = x[r * D + j];
            const c = ctx.rows === 1 ? 0 : r;
            for (let j = 0; j < ctx.width; j++) rows[r * W + D + j] = ctx.given[c * ctx.width + j];
          }
          writeCsv(o.out, rows, W);
        } else if (ext === ".csv") writeCsv(o.out, Float64Array.from(x), D);
        else if (ext === ".npy") writeNpy(o.out, x, [n, ...flow.eventShape]);
        else writeSamplesPng(o.out, flow, x, n, ctx?.context);
        process.stderr.write(`${o.out}: ${n} samples\n`);
      } catch (e) {
        fail(describeError(e));
      }
    });
}
