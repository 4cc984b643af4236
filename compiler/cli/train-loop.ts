/**
 * @fileoverview The step loop that `flowc train` runs for both objectives
 * (maximum likelihood, commands/train.ts; reverse KL, train-kl.ts): a
 * checkpoint and run.json every N steps and at the end, a progress bar on a
 * terminal or a log line every two seconds elsewhere, progress pictures every
 * M steps, a non-finite loss turned into a message that names the last good
 * checkpoint, and Ctrl-C turned into a final checkpoint that `--resume`
 * continues from. The caller supplies one step and what it shows and records.
 */
import cliProgress from "cli-progress";
import { NonFiniteError, type Flow, type Trainer } from "../../runtime-wasm/host/flow.ts";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RUN_FILES, readCheckpoint, readRunInfo, writeCheckpoint, type RunInfo } from "./run-dir.ts";
import { fail, parseInteger, parseNumber } from "./shared.ts";

/** Bytes at the start of a workspace that hold the RNG state and scratch scalars (ARCHITECTURE.md). */
const RNG_STATE_BYTES = 64;

/**
 * Runs `f` without disturbing the workspace RNG that training draws from
 * (dequantisation noise, reverse KL's ε): drawing a picture or an estimate
 * reseeds it, so its state is saved first and restored afterwards, and the
 * weights are the same with or without the drawing.
 */
export function keepingRng<T>(flow: Flow, f: () => T): T {
  const rng = () => new Uint8Array(flow.exports.memory.buffer, flow.mem.ws, RNG_STATE_BYTES);
  const saved = rng().slice();
  try {
    return f();
  } finally {
    rng().set(saved);
  }
}

/** A progress or status line on stderr, unless `--quiet`. */
export function log(o: { quiet?: boolean }, msg: string): void {
  if (!o.quiet) process.stderr.write(msg + "\n");
}

/** The Adam options both training commands take: `--lr`, `--batch`, `--clip-norm`, `--weight-decay`, `--warmup`. */
export function makeTrainer(flow: Flow, o: { clipNorm?: string; weightDecay?: string; warmup?: string }, lr: number, batch: number): Trainer {
  return flow.trainer({
    lr,
    batchSize: batch,
    clipNorm: o.clipNorm ? parseNumber(o.clipNorm, "--clip-norm", 0) : 0,
    weightDecay: o.weightDecay ? parseNumber(o.weightDecay, "--weight-decay", 0) : 0,
    warmup: o.warmup ? parseInteger(o.warmup, "--warmup", 0) : 0,
  });
}

/**
 * With `--resume` and a checkpoint in `out`: refuse a run of another spec (a rebuilt module
 * of the same spec is fine), restore weights, optimizer state and RNG, and return the step
 * reached. Returns null when there is nothing to resume.
 */
export function resumeFrom(out: string, resume: boolean | undefined, spec: string, wasm: Uint8Array, flow: Flow, trainer: Trainer): number | null {
  if (!resume || !existsSync(join(out, RUN_FILES.checkpoint))) return null;
  const prev = readFileSync(join(out, RUN_FILES.model));
  if (Buffer.compare(prev, Buffer.from(wasm)) !== 0) {
    const m = readRunInfo(join(out, RUN_FILES.info));
    if (m.spec !== spec) fail(`cannot resume: ${out} was trained from ${m.spec}, not ${spec}`);
  }
  readCheckpoint(out, flow, trainer);
  return trainer.stepCount;
}

export interface TrainingLoop {
  flow: Flow;
  trainer: Trainer;
  /** The run directory. */
  out: string;
  /** `--seed`, recorded in every checkpoint. */
  seed: number;
  /** Steps in all, and the first one to run (the resumed step count, or 0). */
  steps: number;
  start: number;
  /** `--checkpoint-every`. */
  every: number;
  /** `--sample-every` (0 = never). */
  sampleEvery: number;
  quiet?: boolean;
  /** run.json as it is written at each checkpoint; `saveInfo` writes it. */
  info: RunInfo;
  saveInfo(): void;
  /** The progress bar's cli-progress format; `{loss}` and `{sps}` are filled in. */
  barFormat: string;
  /**
   * Optimizer step `s` (0-based): its loss and how many samples it used. It
   * may stop the run with `stop(message)`, which ends the bar and fails with
   * the message and the last good checkpoint.
   */
  step(s: number, stop: (message: string) => never): { loss: number; samples: number };
  /** The running-mean loss as the bar shows it. */
  barLoss(ema: number): string;
  /** The middle of the log line of step `s` (0-based), between the step count and the throughput. */
  logLoss(ema: number, s: number): string;
  /** Records the running-mean loss in `info` before a checkpoint. */
  recordLoss(ema: number): void;
  /** Appended to a non-finite loss's message, after the last good checkpoint. */
  nonFiniteHint?: string;
  /** Writes the progress picture of step `done` and returns its log line. */
  sample?(done: number): string;
}

/**
 * Runs steps `start` … `steps − 1`. Returns false when Ctrl-C stopped the
 * run: a checkpoint has then been written, the exit code set to 130, and the
 * caller should return; true when every step ran.
 */
export function runTrainingLoop(l: TrainingLoop): boolean {
  const { flow, trainer, out, seed, steps, start, every, sampleEvery, info } = l;
  const tty = process.stderr.isTTY && !l.quiet;
  const bar = tty ? new cliProgress.SingleBar({ format: l.barFormat, hideCursor: true }, cliProgress.Presets.shades_classic) : null;
  bar?.start(steps, start, { loss: "—", sps: "—" });
  const t0 = performance.now();
  let ema = NaN, lastLog = t0;
  let sampleMs = 0; // time spent drawing progress samples, left out of the throughput
  let interrupted = false;
  const onSigint = () => { interrupted = true; };
  process.on("SIGINT", onSigint);
  let samples = 0;
  try {
    for (let s = start; s < steps && !interrupted; s++) {
      // Checkpoints are written after steps every, 2·every, …: the last one before step s + 1.
      const lastGood = `the last good checkpoint in ${out} is kept (step ${Math.floor(s / every) * every})`;
      const stop = (message: string): never => {
        bar?.stop();
        fail(`${message}\n${lastGood}`);
      };
      let loss: number;
      try {
        const r = l.step(s, stop);
        loss = r.loss;
        samples += r.samples;
      } catch (e) {
        if (e instanceof NonFiniteError) {
          bar?.stop();
          fail(`${e.message}\n${lastGood}${l.nonFiniteHint ?? ""}`);
        }
        throw e;
      }
      // The batch loss is noisy; a slow running mean shows the trend.
      ema = Number.isNaN(ema) ? loss : 0.98 * ema + 0.02 * loss;
      const done = s + 1;
      const sps = samples / ((performance.now() - t0 - sampleMs) / 1000);
      if (bar) bar.update(done, { loss: l.barLoss(ema), sps: sps.toFixed(0) });
      else if (!l.quiet && (performance.now() - lastLog > 2000 || done === steps)) {
        lastLog = performance.now();
        log(l, `step ${done}/${steps}  ${l.logLoss(ema, s)}  ${sps.toFixed(0)} samples/s`);
      }
      if (done % every === 0 || done === steps) {
        writeCheckpoint(out, flow, trainer, { seed: String(seed) });
        info.step = done;
        l.recordLoss(ema);
        info.samplesPerSecond = sps;
        l.saveInfo();
      }
      if (l.sample && sampleEvery > 0 && done % sampleEvery === 0) {
        const ts = performance.now();
        const line = l.sample(done);
        sampleMs += performance.now() - ts;
        if (!bar) log(l, line);
      }
    }
  } finally {
    process.off("SIGINT", onSigint);
    bar?.stop();
  }
  if (interrupted) {
    writeCheckpoint(out, flow, trainer, { seed: String(seed) });
    info.step = trainer.stepCount;
    l.saveInfo();
    log(l, `interrupted: checkpoint written at step ${trainer.stepCount}; continue with --resume`);
    process.exitCode = 130;
    return false;
  }
  return true;
}
