/**
 * @fileoverview `flowc eval DIR --data SOURCE`: mean test negative
 * log-likelihood (nats; bits/dim for images) of a trained run.
 * `flowc eval DIR --target NAME|FILE`: for a flow fitted by reverse KL, the
 * ELBO E_q[log p̃ − log q] by Monte Carlo over the flow's samples (with its
 * standard error), log Z of the target (exact when known, else by the
 * trapezoid rule on a grid over the target's box, 2-D only) and the gap
 * log Z − ELBO = KL(q‖p).
 * A conditional flow scores log p(x | c) with the context from
 * `--context-cols`; when that context is a one-hot class, eval also reports
 * how often the true class has the highest log p(x | c) (Bayes' rule with a
 * uniform prior over the classes).
 */
import type { Command } from "commander";
import type { Flow } from "../../../runtime-wasm/host/flow.ts";
import { gridLogZ } from "../../../runtime-wasm/host/targets.ts";
import { loadRun } from "../run-dir.ts";
import { describeError, fail, loadRowsWithContext, meanNll, parseInteger } from "../shared.ts";
import { estimateElbo, loadTarget, showBox } from "../train-kl.ts";

interface EvalOptions {
  data?: string;
  target?: string;
  seed: string;
  n?: string;
  grid: string;
  json?: boolean;
  threads?: string;
  contextCols?: string;
}

/** The class of each row when every context row is one-hot (k > 1), else null. */
function oneHotClasses(context: Float64Array, k: number): Int32Array | null {
  if (k < 2) return null;
  const n = context.length / k;
  const cls = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let ones = 0, at = -1;
    for (let j = 0; j < k; j++) {
      const v = context[r * k + j];
      if (v === 1) { ones++; at = j; } else if (v !== 0) return null;
    }
    if (ones !== 1) return null;
    cls[r] = at;
  }
  return cls;
}

/** Fraction of rows whose own class gives the highest log p(x | c) among the k classes. */
function classAccuracy(flow: Flow, rows: Float64Array, cls: Int32Array, k: number): number {
  const n = cls.length;
  const best = new Float64Array(n).fill(-Infinity), arg = new Int32Array(n).fill(-1);
  const cx = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    cx.fill(0);
    cx[c] = 1;
    const lp = flow.logProb(rows, cx);
    for (let r = 0; r < n; r++) if (lp[r] > best[r]) { best[r] = lp[r]; arg[r] = c; }
  }
  let hit = 0;
  for (let r = 0; r < n; r++) if (arg[r] === cls[r]) hit++;
  return hit / n;
}

function evalData(flow: Flow, o: EvalOptions & { data: string }): void {
  const { data: rows, context } = loadRowsWithContext(o.data, { seed: parseInteger(o.seed, "--seed"), n: parseInteger(o.n ?? "20000", "--n", 1), flow, split: "test", contextCols: o.contextCols });
  const n = rows.length / flow.eventSize;
  const nll = meanNll(flow, rows, context ?? undefined);
  const isImage = flow.eventShape.length === 3;
  const bpd = nll / (flow.eventSize * Math.LN2);
  const cls = context ? oneHotClasses(context, flow.contextSize) : null;
  const accuracy = cls ? classAccuracy(flow, rows, cls, flow.contextSize) : undefined;
  if (o.json) process.stdout.write(JSON.stringify({ nll, ...(isImage ? { bitsPerDim: bpd } : {}), n, ...(accuracy !== undefined ? { accuracy } : {}) }) + "\n");
  else {
    const given = context ? " given the context" : "";
    process.stdout.write(`NLL ${nll.toFixed(4)} nats${isImage ? ` = ${bpd.toFixed(4)} bits/dim` : ""}${given} over ${n} rows\n`);
    if (accuracy !== undefined) process.stdout.write(`classification by argmax over the ${flow.contextSize} classes of log p(x | c): ${(100 * accuracy).toFixed(2)} % correct\n`);
  }
}

async function evalTarget(flow: Flow, o: EvalOptions & { target: string }): Promise<void> {
  const target = await loadTarget(o.target);
  if (target.dim !== flow.eventSize) fail(`the target ${target.name} is ${target.dim}-dimensional but the flow's events have ${flow.eventSize} values`);
  const n = parseInteger(o.n ?? "100000", "--n", 2);
  const seed = parseInteger(o.seed, "--seed");
  const points = parseInteger(o.grid, "--grid", 3);
  if (!flow.manifest.capabilities.sample) fail("this flow cannot sample, so its ELBO cannot be estimated");
  const est = estimateElbo(flow, target, n, seed);
  const grid = target.dim === 2 && target.box ? gridLogZ(target, { points }) : null;
  const logZ = target.logZ ?? grid?.logZ;
  const gap = logZ === undefined ? undefined : logZ - est.elbo;
  if (o.json) {
    process.stdout.write(JSON.stringify({
      target: target.name,
      elbo: est.elbo,
      elboStdErr: est.stdErr,
      n,
      seed,
      logZ: logZ ?? null,
      logZMethod: target.logZ !== undefined ? "exact" : grid ? "grid" : null,
      logZGrid: grid ? { logZ: grid.logZ, points: grid.points, box: grid.box } : null,
      kl: gap ?? null,
      klStdErr: gap === undefined ? null : est.stdErr,
    }) + "\n");
    return;
  }
  const lines = [`target ${target.name}: ${target.description ?? ""}`.trimEnd()];
  if (grid) lines.push(`log Z (grid)   ${grid.logZ.toFixed(4)}   trapezoid rule, ${grid.points} × ${grid.points} nodes over ${showBox(grid.box)}`);
  if (target.logZ !== undefined) lines.push(`log Z (exact)  ${target.logZ.toFixed(4)}${grid ? "   (used below; the grid cannot resolve every target, e.g. the funnel's neck)" : ""}`);
  lines.push(`ELBO           ${est.elbo.toFixed(4)} ± ${est.stdErr.toFixed(4)}   Monte Carlo over ${n} samples (seed ${seed}), ± one standard error`);
  if (gap !== undefined) lines.push(`KL(q‖p) = log Z − ELBO = ${gap.toFixed(4)} ± ${est.stdErr.toFixed(4)} nats`);
  else lines.push("log Z unknown (a target module may export logZ, or a 2-D box to integrate over), so the KL gap is not reported");
  process.stdout.write(lines.join("\n") + "\n");
}

export function register(program: Command): void {
  program
    .command("eval")
    .description("mean negative log-likelihood of data, or ELBO and KL gap against a target density, of a trained flow")
    .argument("<dir>", "run directory written by `flowc train`")
    .option("--data <source>", "a .csv or .npy file, or a toy name (fresh points, --seed)")
    .option("--target <name|file>", "a target density (u1, u2, u3, u4, banana, funnel, or a module exporting logDensity and dim): report the ELBO, log Z and KL(q‖p)")
    .option("--seed <s>", "seed for toy data or for the flow's samples", "12345")
    .option("--n <count>", "rows to draw when --data is a toy (default 20000); samples for the ELBO with --target (default 100000)")
    .option("--grid <points>", "grid nodes per axis for log Z of a 2-D target", "2001")
    .option("--json", "print the figures as JSON")
    .option("--threads <n>", "threads sharing the batches", "1")
    .option("--context-cols <cols>", "conditional flows: the columns of --data that hold the context, as for `flowc train`; 'label' for a built-in source with classes")
    .action(async (dir: string, o: EvalOptions) => {
      try {
        if ((o.data === undefined) === (o.target === undefined)) fail("give exactly one of --data SOURCE (likelihood) or --target NAME|FILE (ELBO and KL gap)");
        if (o.contextCols !== undefined && o.data === undefined) fail("--context-cols goes with --data");
        const { flow } = await loadRun(dir, { threads: parseInteger(o.threads ?? "1", "--threads", 1) });
        for (const note of flow.notes) process.stderr.write(`note: ${note}\n`);
        if (o.data !== undefined) evalData(flow, { ...o, data: o.data });
        else await evalTarget(flow, { ...o, target: o.target! });
      } catch (e) {
        fail(describeError(e));
      }
    });
}
