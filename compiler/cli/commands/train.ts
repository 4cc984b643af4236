/**
 * @fileoverview `flowc train SPEC --data SOURCE …`: compile a spec, train it
 * by maximum likelihood, and keep a run directory (model, weights, resumable
 * checkpoint, run.json) that `eval` and `sample` read. Checkpoints are
 * atomic, so a killed run loses at most the steps since the last one.
 * `--sample-every N` also writes `DIR/samples-<step>.png` every N steps (a
 * grid for image flows, a scatter over the density for 2-D flows), always
 * from the same latent draws, so the pictures show the flow learning; the
 * sampling leaves the training RNG alone, so the weights are the same with
 * or without it.
 * A conditional flow (`context [k]`) takes its context from the data source
 * (`--context-cols`): context rows travel with their data rows through the
 * shuffled order, the validation split and the checkpoints.
 */
import type { Command } from "commander";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { loadFlow, type Flow } from "../../../runtime-wasm/host/flow.ts";
import { detectAnomaly } from "../../../runtime-wasm/host/anomaly.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { RUN_FILES, readRunInfo, type RunInfo } from "../run-dir.ts";
import { compileSpecFile, fail, parseNumber, parseInteger, loadRowsWithContext, meanNll, describeError } from "../shared.ts";
import { mulberry } from "../numeric.ts";
import { canPlot, writeSamplesPng } from "./sample.ts";
import { keepingRng, log, makeTrainer, resumeFrom, runTrainingLoop } from "../train-loop.ts";

interface TrainOptions {
  data: string;
  steps: string;
  batch: string;
  lr: string;
  seed: string;
  out: string;
  val?: string;
  resume?: boolean;
  clipNorm?: string;
  weightDecay?: string;
  warmup?: string;
  checkpointEvery?: string;
  sampleEvery?: string;
  sampleTemperature?: string;
  n?: string;
  precision?: string;
  quiet?: boolean;
  detectAnomaly?: boolean;
  threads?: string;
  relaxedSimd?: boolean;
  contextCols?: string;
  recompute?: boolean;
}

/** Samples drawn for a progress picture: a grid of 8 × 8 images, or a scatter of 2,000 points. */
const progressCount = (flow: Flow) => (flow.eventShape.length === 3 ? 64 : 2000);

/**
 * Writes `DIR/samples-<step>.png` from fixed latent draws (`seed`) at
 * `temperature`, leaving the workspace RNG that training's dequantisation
 * noise draws from as it was.
 */
function writeProgressSamples(flow: Flow, dir: string, step: number, seed: number, temperature: number, context: Float64Array | null): string {
  return keepingRng(flow, () => {
    const n = progressCount(flow);
    // A conditional flow draws with the training rows' contexts in turn, so the picture shows all of them.
    const k = flow.contextSize;
    const cx = context ? Float64Array.from({ length: n * k }, (_, i) => context[i % context.length]) : undefined;
    const x = flow.sample(n, { seed, temperature, context: cx });
    const path = join(dir, `samples-${step}.png`);
    writeSamplesPng(path, flow, x, n, cx);
    return path;
  });
}

/** Seeded Fisher–Yates; the data order is a pure function of (seed, epoch), so resume is exact. */
function epochOrder(rows: number, seed: number, epoch: number): Uint32Array {
  const idx = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) idx[i] = i;
  const rand = mulberry((seed * 7919 + epoch * 104729 + 17) >>> 0);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = idx[i]; idx[i] = idx[j]; idx[j] = t;
  }
  return idx;
}

export async function train(spec: string, o: TrainOptions): Promise<void> {
  const steps = parseInteger(o.steps, "--steps", 1);
  const batch = parseInteger(o.batch, "--batch", 1);
  const lr = parseNumber(o.lr, "--lr", 0);
  const seed = parseInteger(o.seed, "--seed", 0);
  const every = parseInteger(o.checkpointEvery ?? "1000", "--checkpoint-every", 1);
  const sampleEvery = o.sampleEvery !== undefined ? parseInteger(o.sampleEvery, "--sample-every", 1) : 0;
  const sampleTemperature = parseNumber(o.sampleTemperature ?? "0.7", "--sample-temperature", 0);
  const precision = (o.precision ?? "f32") as "f32" | "f64";
  if (precision !== "f32" && precision !== "f64") fail(`--precision must be f32 or f64, got ${o.precision}`);

  // --detect-anomaly reads every layer's stored output after a step; --recompute keeps none.
  if (o.recompute && o.detectAnomaly) fail("--detect-anomaly reads every layer's stored output, which --recompute does not keep; drop one of the two");
  const { wasm, manifest } = await compileSpecFile(spec, { precision, relaxedSimd: o.relaxedSimd, recompute: o.recompute });
  const flow = await loadFlow(wasm, { threads: parseInteger(o.threads ?? "1", "--threads", 1) });
  for (const note of flow.notes) log(o, `note: ${note}`);
  const D = flow.eventSize;
  if (sampleEvery > 0 && !canPlot(flow)) fail(`--sample-every draws PNGs, which needs an image flow or a 2-D flow; this one has event shape [${flow.eventShape.join(", ")}]`);
  if (sampleEvery > 0 && !manifest.capabilities.sample) fail("--sample-every needs a flow that can sample, and this one cannot");

  // Data: a file or a toy; validation split from a file or a fraction.
  const K = flow.contextSize;
  const loaded = loadRowsWithContext(o.data, { seed, n: o.n ? parseInteger(o.n, "--n", 1) : 100_000, flow, split: "train", contextCols: o.contextCols });
  const all = loaded.data;
  let train = all, val: Float64Array | null = null;
  let trainCtx = loaded.context, valCtx: Float64Array | null = null;
  if (o.val !== undefined) {
    const frac = Number(o.val);
    if (Number.isFinite(frac) && frac > 0 && frac < 1) {
      const rows = all.length / D, nv = Math.max(1, Math.round(rows * frac));
      val = all.slice((rows - nv) * D);
      train = all.slice(0, (rows - nv) * D);
      if (loaded.context) {
        valCtx = loaded.context.slice((rows - nv) * K);
        trainCtx = loaded.context.slice(0, (rows - nv) * K);
      }
    } else {
      const v = loadRowsWithContext(o.val, { seed: seed + 1, n: 20_000, flow, split: "test", contextCols: o.contextCols });
      val = v.data;
      valCtx = v.context;
    }
  }
  const rows = train.length / D;
  if (rows < 1) fail("the training data has no rows");

  mkdirSync(o.out, { recursive: true });
  const trainer = makeTrainer(flow, o, lr, batch);

  const resumed = resumeFrom(o.out, o.resume, spec, wasm, flow, trainer);
  const start = resumed ?? 0;
  if (resumed !== null) {
    log(o, `resuming from step ${start}`);
    // A run is bit-for-bit reproducible for a given thread count (the gradient is summed per thread).
    let before: unknown;
    try { before = readRunInfo(join(o.out, RUN_FILES.info)).options?.threads; } catch { before = undefined; }
    if (before !== undefined && before !== flow.threads) log(o, `note: the run so far trained on ${before} thread(s), this one on ${flow.threads}: it goes on, but not bit for bit as it would have`);
  } else {
    // The data-dependent init (actnorm) sees rows drawn in the first epoch's order rather than the
    // file's first rows: built-in image sets are sorted by class (mnist's first rows are all zeros).
    const initOrder = epochOrder(rows, seed, 0);
    const initRows = Math.min(rows, Math.max(batch, 256));
    const initData = new Float64Array(initRows * D);
    for (let r = 0; r < initRows; r++) initData.set(train.subarray(initOrder[r] * D, (initOrder[r] + 1) * D), r * D);
    const initCtx = trainCtx ? new Float64Array(initRows * K) : undefined;
    if (initCtx) for (let r = 0; r < initRows; r++) initCtx.set(trainCtx!.subarray(initOrder[r] * K, (initOrder[r] + 1) * K), r * K);
    flow.initialize({ seed, data: initData, context: initCtx });
  }
  writeFileAtomic(join(o.out, RUN_FILES.model), wasm);

  const info: RunInfo = { spec, data: o.data, options: { steps, batch, lr, seed, precision, clipNorm: trainer.clipNorm, weightDecay: trainer.weightDecay, warmup: trainer.warmup, ...(o.contextCols !== undefined ? { contextCols: o.contextCols } : {}) }, step: start };
  info.options.threads = flow.threads;
  // Wasm memory never shrinks, so its size is the peak of everything the flow allocated.
  const saveInfo = () => {
    info.peakMemoryBytes = flow.exports.memory.buffer.byteLength;
    writeFileAtomic(join(o.out, RUN_FILES.info), new TextEncoder().encode(JSON.stringify(info, null, 2) + "\n"));
  };
  const bpd = (nll: number) => nll / (D * Math.LN2);
  const isImage = manifest.inputShape.length === 3;
  const lossText = (ema: number) => (isImage ? `${ema.toFixed(4)} (${bpd(ema).toFixed(3)} bits/dim)` : ema.toFixed(4));

  const buf = new Float64Array(batch * D);
  const ctxBuf = trainCtx ? new Float64Array(batch * K) : null;
  const perEpoch = Math.max(1, Math.floor(rows / batch));
  let order = epochOrder(rows, seed, Math.floor(start / perEpoch));
  let orderEpoch = Math.floor(start / perEpoch);
  const finished = runTrainingLoop({
    flow, trainer, out: o.out, seed, steps, start, every, sampleEvery, quiet: o.quiet, info, saveInfo,
    barFormat: "train |{bar}| {value}/{total} steps | loss {loss} | {sps} samples/s | eta {eta_formatted}",
    step(s, stop) {
      const epoch = Math.floor(s / perEpoch);
      if (epoch !== orderEpoch) { order = epochOrder(rows, seed, epoch); orderEpoch = epoch; }
      const off = (s % perEpoch) * batch;
      const m = Math.min(batch, rows);
      for (let r = 0; r < m; r++) {
        const src = order[(off + r) % rows] * D;
        for (let j = 0; j < D; j++) buf[r * D + j] = train[src + j];
        if (ctxBuf) {
          const c = order[(off + r) % rows] * K;
          for (let j = 0; j < K; j++) ctxBuf[r * K + j] = trainCtx![c + j];
        }
      }
      const rowsNow = m === batch ? buf : buf.subarray(0, m * D), ctxNow = ctxBuf ? (m === batch ? ctxBuf : ctxBuf.subarray(0, m * K)) : undefined;
      // --detect-anomaly: every layer, every direction, before the step changes anything.
      const anomaly = o.detectAnomaly ? detectAnomaly(flow, rowsNow, { step: s + 1, lr, context: ctxNow }) : null;
      if (anomaly) stop(anomaly.message);
      return { loss: trainer.step(rowsNow, ctxNow), samples: m };
    },
    barLoss: lossText,
    logLoss: (ema) => `loss ${lossText(ema)}`,
    recordLoss: (ema) => { info.trainNll = ema; },
    nonFiniteHint: o.detectAnomaly ? "" : "; --resume with --detect-anomaly checks every layer in every direction to say where",
    sample(done) {
      const path = writeProgressSamples(flow, o.out, done, seed, sampleTemperature, trainCtx);
      return `step ${done}: samples at temperature ${sampleTemperature} in ${path}`;
    },
  });
  if (!finished) return;
  if (val) {
    info.valNll = meanNll(flow, val, valCtx ?? undefined);
    if (isImage) info.bitsPerDim = bpd(info.valNll);
    log(o, `validation NLL ${info.valNll.toFixed(4)} nats${isImage ? ` (${bpd(info.valNll).toFixed(4)} bits/dim)` : ""} on ${val.length / D} rows`);
  }
  info.finishedAt = new Date().toISOString();
  saveInfo();
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  log(o, `peak memory ${mib(info.peakMemoryBytes ?? 0)} MiB (workspace ${mib(manifest.workspaceBytes)} MiB per thread${o.recompute ? ", --recompute" : ""})`);
  log(o, `done: ${trainer.stepCount} steps; model and weights in ${o.out}`);
}

export function register(program: Command): void {
  program
    .command("train")
    .description("train a flow by maximum likelihood on --data, or by reverse KL against --target, and write a run directory")
    .argument("<spec>", ".flow file")
    .option("--data <source>", "training data: a .csv, .npy or IDX file, mnist, digits, or a toy (moons, 8gaussians, checkerboard, pinwheel, rings, spirals)")
    .option("--target <name|file>", "variational inference: maximise the ELBO against U1…U4, banana, funnel, or a JS/TS module exporting logDensity(x, n, grad)")
    .option("--anneal <n>", "with --target: anneal the target over n steps (β = min(1, 0.01 + t/n), Rezende & Mohamed)")
    .option("--eval-samples <n>", "with --target: samples for the final ELBO estimate", "20000")
    .option("--steps <n>", "optimizer steps", "10000")
    .option("--batch <n>", "batch size", "256")
    .option("--lr <lr>", "Adam learning rate", "1e-3")
    .option("--seed <s>", "seed for init, data order and toys", "0")
    .requiredOption("--out <dir>", "run directory")
    .option("--val <file|fraction>", "validation data: a file, a toy, or a fraction held out of --data")
    .option("--resume", "continue from the run directory's checkpoint")
    .option("--clip-norm <c>", "clip the gradient norm to c")
    .option("--weight-decay <w>", "AdamW weight decay")
    .option("--warmup <n>", "linear learning-rate warm-up steps")
    .option("--checkpoint-every <n>", "write a checkpoint every n steps", "1000")
    .option("--sample-every <n>", "every n steps, write DIR/samples-<step>.png (image grid or 2-D scatter) to watch the flow learn")
    .option("--sample-temperature <t>", "temperature of the --sample-every pictures", "0.7")
    .option("--n <rows>", "rows to draw when --data is a toy", "100000")
    .option("--context-cols <cols>", "conditional flows: the columns of --data that hold the context (0-based indices, negative from the end, ranges a:b, or header names; one column of class labels is one-hot for context [k > 1]); 'label' for a built-in source with classes (moons, 8gaussians, pinwheel, rings, spirals, digits, mnist)")
    .option("--precision <p>", "f32 or f64", "f32")
    .option("--quiet", "no progress output")
    .option("--detect-anomaly", "check every layer's output in the forward, inverse and backward directions on every step and stop at the first non-finite value, naming step, layer, direction, row and feature (slower)")
    .option("--threads <n>", "threads sharing each batch (data-parallel; reproducible for a given count)", "1")
    .option("--recompute", "keep no per-layer activations: the backward pass rebuilds each layer's input with its inverse, so training memory stays flat as the flow gets deeper (needs closed-form inverses)")
    .option("--relaxed-simd", "also build a relaxed-SIMD variant (fused multiply-add) and use it where the runtime supports relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)")
    .action(async (spec: string, o: TrainOptions & { target?: string; anneal?: string; evalSamples?: string }) => {
      try {
        if (o.target !== undefined) {
          if (o.contextCols !== undefined) fail("--context-cols goes with --data: reverse-KL training against a --target has no data and no context");
          if (o.threads !== undefined && o.threads !== "1") log(o, "note: --threads splits likelihood training; reverse-KL training runs on one thread");
          const { trainReverseKL } = await import("../train-kl.ts");
          await trainReverseKL(spec, { ...o, target: o.target });
          return;
        }
        if (o.data === undefined) fail("give --data SOURCE (likelihood training) or --target NAME (reverse-KL training)");
        await train(spec, o);
      } catch (e) {
        fail(describeError(e));
      }
    });
}

export type { Flow };
