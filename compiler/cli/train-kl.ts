/**
 * @fileoverview Variational inference from the command line: train a flow by
 * reverse KL against an unnormalised target density (Rezende & Mohamed 2015)
 * and keep the same run directory as likelihood training (model, weights,
 * resumable checkpoint, run.json; compiler/cli/run-dir.ts). The target is a
 * built-in name (runtime-wasm/host/targets.ts: u1–u4, banana, funnel) or a
 * JS/TS module exporting `logDensity(x, n, grad)` and `dim` (optionally
 * `logZ` and a 2-D `box`). Also the ELBO estimate and the grid log Z that
 * `flowc eval --target` reports.
 */
import { existsSync, mkdirSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { loadFlow, type Flow } from "../../runtime-wasm/host/flow.ts";
import { getTarget, gridLogZ, targets, type GridResult, type Target } from "../../runtime-wasm/host/targets.ts";
import { writeFileAtomic } from "./io/atomic.ts";
import { RUN_FILES, readRunInfo, type RunInfo } from "./run-dir.ts";
import { compileSpecFile, fail, parseInteger, parseNumber } from "./shared.ts";
import { scatterDensityPng } from "./plot.ts";
import { keepingRng, log, makeTrainer, resumeFrom, runTrainingLoop } from "./train-loop.ts";

/** The options of `flowc train … --target`, as commander hands them over (strings). */
export interface ReverseKLOptions {
  target: string;
  steps: string;
  batch: string;
  lr: string;
  seed: string;
  out: string;
  resume?: boolean;
  clipNorm?: string;
  weightDecay?: string;
  warmup?: string;
  checkpointEvery?: string;
  sampleEvery?: string;
  sampleTemperature?: string;
  precision?: string;
  quiet?: boolean;
  recompute?: boolean;
  /** Samples for the ELBO reported at the end (default 20000). */
  evalSamples?: string;
  /** Anneal the target over this many steps: β_t = min(1, 0.01 + t/N) (0 = off, the default). */
  anneal?: string;
  /** Likelihood-training options: refused next to a target. */
  data?: string;
  val?: string;
}

/** What `run.json` holds after a reverse-KL run, on top of the common fields. */
export interface ReverseKLInfo extends RunInfo {
  target: string;
  /** Running mean of the training batches' −ELBO (nats). */
  trainNegElbo?: number;
  elbo?: number;
  elboStdErr?: number;
  logZ?: number;
  logZMethod?: "exact" | "grid";
  /** log Z − ELBO = KL(q‖p) (nats). */
  klGap?: number;
}

/**
 * A built-in target by name, or a module file exporting `logDensity(x, n, grad)`
 * and `dim` (named exports or a default export object).
 */
export async function loadTarget(spec: string): Promise<Target> {
  if (Object.hasOwn(targets, spec.toLowerCase())) return getTarget(spec);
  const looksLikeFile = /[/\\]|\.(?:[cm]?[jt]s)$/.test(spec);
  if (!looksLikeFile) getTarget(spec); // throws: unknown name, listing the known ones
  const path = resolve(spec);
  if (!existsSync(path)) fail(`--target ${spec}: no such file (and not a built-in target: ${Object.keys(targets).join(", ")})`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    fail(`--target ${spec}: cannot load the module: ${(e as Error).message}`);
  }
  const m = (typeof mod.logDensity === "function" ? mod : (mod.default as Record<string, unknown> | undefined)) ?? {};
  if (typeof m.logDensity !== "function") fail(`--target ${spec}: the module must export a function logDensity(x, n, grad) (and dim)`);
  if (!Number.isInteger(m.dim) || (m.dim as number) < 1) fail(`--target ${spec}: the module must export dim, the dimension of x (a positive integer)`);
  const box = m.box as [number, number][] | undefined;
  if (box !== undefined && !(Array.isArray(box) && box.length === m.dim && box.every((b) => Array.isArray(b) && b.length === 2 && b[0] < b[1]))) {
    fail(`--target ${spec}: box must be [[lo, hi], …], one pair per dimension`);
  }
  const logDensity = m.logDensity as Target["logDensity"];
  return {
    name: typeof m.name === "string" ? m.name : basename(spec),
    dim: m.dim as number,
    description: typeof m.description === "string" ? m.description : `user target ${spec}`,
    logZ: typeof m.logZ === "number" ? m.logZ : undefined,
    box,
    logDensity: (x, n, grad) => Float64Array.from(logDensity(x, n, grad)),
  };
}

export interface ElboEstimate {
  /** Mean of log p̃(x) − log q(x) over the samples (nats). */
  elbo: number;
  /** Its Monte-Carlo standard error. */
  stdErr: number;
  n: number;
}

/** The ELBO E_q[log p̃ − log q] by Monte Carlo over n samples of the flow (seeded; the training RNG is left alone). */
export function estimateElbo(flow: Flow, target: Target, n: number, seed: number): ElboEstimate {
  const { x, logProb } = keepingRng(flow, () => flow.sampleAndLogProb(n, { seed }));
  const lp = target.logDensity(Float64Array.from(x), n, null);
  let s = 0, s2 = 0;
  for (let r = 0; r < n; r++) {
    const d = lp[r] - logProb[r];
    s += d;
    s2 += d * d;
  }
  const mean = s / n;
  const variance = Math.max(0, s2 / n - mean * mean) * (n / Math.max(1, n - 1));
  return { elbo: mean, stdErr: Math.sqrt(variance / n), n };
}

/** log Z of a target: exact when it is known, else by the grid (2-D targets with a box), else null. */
export function targetLogZ(target: Target, points = 2001): { logZ: number; method: "exact" | "grid"; grid: GridResult | null } | null {
  const grid = target.dim === 2 && target.box ? gridLogZ(target, { points }) : null;
  if (target.logZ !== undefined) return { logZ: target.logZ, method: "exact", grid };
  return grid ? { logZ: grid.logZ, method: "grid", grid } : null;
}

/** `[-5, 5] × [-5, 5]` */
export const showBox = (box: [number, number][]): string => box.map(([a, b]) => `[${a}, ${b}]`).join(" × ");

/**
 * Train `spec` by reverse KL against `o.target` and write a run directory;
 * `flowc train SPEC --target NAME|FILE` calls this with its options.
 */
export async function trainReverseKL(spec: string, o: ReverseKLOptions): Promise<void> {
  if (o.data !== undefined) fail("--target and --data exclude each other: reverse-KL training draws its own samples from the flow");
  if (o.val !== undefined) fail("--val needs data; with --target the run ends with an ELBO estimate instead (flowc eval DIR --target … for more samples)");
  const steps = parseInteger(o.steps, "--steps", 1);
  const batch = parseInteger(o.batch, "--batch", 1);
  const lr = parseNumber(o.lr, "--lr", 0);
  const seed = parseInteger(o.seed, "--seed", 0);
  const every = parseInteger(o.checkpointEvery ?? "1000", "--checkpoint-every", 1);
  const sampleEvery = o.sampleEvery !== undefined ? parseInteger(o.sampleEvery, "--sample-every", 1) : 0;
  const sampleTemperature = parseNumber(o.sampleTemperature ?? "1", "--sample-temperature", 0);
  const evalSamples = parseInteger(o.evalSamples ?? "20000", "--eval-samples", 2);
  const anneal = parseInteger(o.anneal ?? "0", "--anneal", 0);
  const precision = (o.precision ?? "f32") as "f32" | "f64";
  if (precision !== "f32" && precision !== "f64") fail(`--precision must be f32 or f64, got ${o.precision}`);

  const target = await loadTarget(o.target);
  const { wasm } = await compileSpecFile(spec, { precision, recompute: o.recompute });
  const flow = await loadFlow(wasm);
  if (target.dim !== flow.eventSize) fail(`the target ${target.name} is ${target.dim}-dimensional but ${spec} has event shape [${flow.eventShape.join(", ")}]`);
  if (sampleEvery > 0 && target.dim !== 2) fail(`--sample-every draws a scatter over the target, which needs a 2-D target; ${target.name} is ${target.dim}-D`);

  const trainer = makeTrainer(flow, o, lr, batch);

  // The checkpoint restores the RNG too, so ε continues where it stopped.
  const resumed = resumeFrom(o.out, o.resume === true, spec, wasm, flow, trainer);
  const resuming = resumed !== null;
  const start = resumed ?? 0;
  if (!resuming) {
    flow.initialize({ seed });
    flow.exports.seed(flow.mem.ws, seed >>> 0);
  }
  // Refuse (learned base, layers without the inverse's backward, …) before writing anything.
  trainer.checkReverseKL(target, batch);
  mkdirSync(o.out, { recursive: true });
  if (resuming) log(o, `resuming from step ${start}`);
  writeFileAtomic(join(o.out, RUN_FILES.model), wasm);

  const info: ReverseKLInfo = {
    spec,
    data: `target ${target.name}`,
    target: o.target,
    options: { steps, batch, lr, seed, precision, clipNorm: trainer.clipNorm, weightDecay: trainer.weightDecay, warmup: trainer.warmup, objective: "reverse KL", anneal },
    step: start,
  };
  if (resuming && existsSync(join(o.out, RUN_FILES.info))) {
    const prev = readRunInfo(join(o.out, RUN_FILES.info)) as ReverseKLInfo;
    if (prev.target !== undefined && prev.target !== o.target) fail(`cannot resume: ${o.out} was trained against the target ${prev.target}, not ${o.target}`);
  }
  const saveInfo = () => writeFileAtomic(join(o.out, RUN_FILES.info), JSON.stringify(info, null, 2) + "\n");

  const finished = runTrainingLoop({
    flow, trainer, out: o.out, seed, steps, start, every, sampleEvery, quiet: o.quiet, info, saveInfo,
    barFormat: "train (reverse KL) |{bar}| {value}/{total} steps | −ELBO {loss} | {sps} samples/s | eta {eta_formatted}",
    step: (s) => ({ loss: trainer.stepReverseKL(target, batch, { beta: annealedBeta(s, anneal) }), samples: batch }),
    barLoss: (ema) => ema.toFixed(4),
    logLoss(ema, s) {
      const beta = annealedBeta(s, anneal);
      return `−ELBO ${ema.toFixed(4)}${beta < 1 ? `  (annealing, β ${beta.toFixed(3)})` : ""}`;
    },
    recordLoss: (ema) => { info.trainNegElbo = ema; },
    sample(done) {
      const path = join(o.out, `samples-${done}.png`);
      const x = keepingRng(flow, () => flow.sample(2000, { seed, temperature: sampleTemperature }));
      scatterDensityPng(path, Float64Array.from(x), { density: (pts) => target.logDensity(pts, pts.length / 2, null) });
      return `step ${done}: samples over the target in ${path}`;
    },
  });
  if (!finished) return;
  const est = estimateElbo(flow, target, evalSamples, seed + 1);
  info.elbo = est.elbo;
  info.elboStdErr = est.stdErr;
  let msg = `ELBO ${est.elbo.toFixed(4)} ± ${est.stdErr.toFixed(4)} nats (${evalSamples} samples)`;
  const z = targetLogZ(target);
  if (z) {
    info.logZ = z.logZ;
    info.logZMethod = z.method;
    info.klGap = z.logZ - est.elbo;
    msg += `; log Z ${z.logZ.toFixed(4)} (${z.method === "exact" ? "exact" : `grid ${z.grid!.points}² over ${showBox(z.grid!.box)}`}); KL(q‖p) = log Z − ELBO ≈ ${info.klGap.toFixed(4)} nats`;
  }
  log(o, msg);
  info.finishedAt = new Date().toISOString();
  saveInfo();
  log(o, `done: ${trainer.stepCount} steps; model and weights in ${o.out}`);
}

/**
 * The inverse temperature of step s (0-based) under Rezende & Mohamed's
 * annealing (§6.1), β = min(1, 0.01 + s/N); 1 throughout when N = 0. Without
 * it, reverse KL tends to settle on one mode of a multimodal target (on U1
 * that is KL ≈ log 2: one of two symmetric halves).
 */
export function annealedBeta(s: number, anneal: number): number {
  return anneal > 0 ? Math.min(1, 0.01 + s / anneal) : 1;
}
