/**
 * @fileoverview `flowc sample DIR -n N -o FILE`: draw samples from a trained
 * flow into CSV, .npy, or a PNG (a scatter over the learned density for 2-D
 * flows, a grid for image flows).
 */
import type { Command } from "commander";
import { extname } from "node:path";
import { loadRun } from "../run-dir.ts";
import { describeError, fail, parseInteger, parseNumber } from "../shared.ts";
import { writeCsv } from "../io/csv.ts";
import { writeNpy } from "../io/npy.ts";
import { imageGridPng, scatterDensityPng } from "../plot.ts";

export function register(program: Command): void {
  program
    .command("sample")
    .description("draw samples from a trained flow")
    .argument("<dir>", "run directory written by `flowc train`")
    .option("-n <count>", "number of samples", "1000")
    .option("--seed <s>", "sampling seed", "0")
    .option("--temperature <t>", "scale of the base distribution (Glow's temperature)", "1")
    .requiredOption("-o, --out <file>", "output: .csv, .npy or .png")
    .action(async (dir: string, o: { n: string; seed: string; temperature: string; out: string }) => {
      try {
        const n = parseInteger(o.n, "-n", 1);
        const { flow } = await loadRun(dir);
        const x = flow.sample(n, { seed: parseInteger(o.seed, "--seed"), temperature: parseNumber(o.temperature, "--temperature", 0) });
        const ext = extname(o.out).toLowerCase();
        const D = flow.eventSize;
        if (ext === ".csv") writeCsv(o.out, Float64Array.from(x), D);
        else if (ext === ".npy") writeNpy(o.out, x, [n, ...flow.eventShape]);
        else if (ext === ".png") {
          if (flow.eventShape.length === 3) {
            const [c, h, w] = flow.eventShape;
            imageGridPng(o.out, Float64Array.from(x, (v) => v), { count: n, channels: c, height: h, width: w });
          } else if (D === 2) {
            scatterDensityPng(o.out, Float64Array.from(x), { density: (pts) => Float64Array.from(flow.logProb(pts)) });
          } else fail(`a PNG needs a 2-D or an image flow; this one has event shape [${flow.eventShape.join(", ")}] (write .csv or .npy)`);
        } else fail(`unknown output type '${ext}': use .csv, .npy or .png`);
        process.stderr.write(`${o.out}: ${n} samples\n`);
      } catch (e) {
        fail(describeError(e));
      }
    });
}
