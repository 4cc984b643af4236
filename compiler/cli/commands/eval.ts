/**
 * @fileoverview `flowc eval DIR --data SOURCE`: mean test negative
 * log-likelihood (nats; bits/dim for images) of a trained run.
 */
import type { Command } from "commander";
import { loadRun } from "../run-dir.ts";
import { describeError, fail, loadRows, meanNll, parseInteger } from "../shared.ts";

export function register(program: Command): void {
  program
    .command("eval")
    .description("mean negative log-likelihood of data under a trained flow")
    .argument("<dir>", "run directory written by `flowc train`")
    .requiredOption("--data <source>", "a .csv or .npy file, or a toy name (fresh points, --seed)")
    .option("--seed <s>", "seed for toy data", "12345")
    .option("--n <rows>", "rows to draw when --data is a toy", "20000")
    .option("--json", "print {\"nll\": …, \"n\": …} as JSON")
    .action(async (dir: string, o: { data: string; seed: string; n: string; json?: boolean }) => {
      try {
        const { flow } = await loadRun(dir);
        const rows = loadRows(o.data, { seed: parseInteger(o.seed, "--seed"), n: parseInteger(o.n, "--n", 1), flow, split: "test" });
        const n = rows.length / flow.eventSize;
        const nll = meanNll(flow, rows);
        const isImage = flow.eventShape.length === 3;
        const bpd = nll / (flow.eventSize * Math.LN2);
        if (o.json) process.stdout.write(JSON.stringify(isImage ? { nll, bitsPerDim: bpd, n } : { nll, n }) + "\n");
        else process.stdout.write(`NLL ${nll.toFixed(4)} nats${isImage ? ` = ${bpd.toFixed(4)} bits/dim` : ""} over ${n} rows\n`);
      } catch (e) {
        fail(describeError(e));
      }
    });
}
