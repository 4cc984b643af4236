/**
 * @fileoverview Crash-safe training soak: trains a flow with `flowc train`
 * (default `glow-mnist.flow` on `--data mnist`), checkpointing about once a
 * minute, while SIGKILLing the process at random moments (at random points
 * of its progress, anywhere inside a step) and restarting it with `--resume`; an uninterrupted reference run with the same seed and step
 * count trains alongside. The final weights and optimizer state of the two
 * runs must be equal bit for bit. Not part of the tests (it takes minutes).
 *
 *   node bin/run-ts.mjs bench/soak.ts                       # 30 minutes, 5 kills
 *   node bin/run-ts.mjs bench/soak.ts --minutes 3 --kills 2 # the short version
 *
 * Options: --minutes M, --kills K, --spec FILE, --data SOURCE, --batch B,
 * --lr LR, --seed S, --steps N (skips calibration), --checkpoint-every N,
 * --kill-seed S (kill moments), --dir DIR (run directories, default a fresh
 * one in /tmp), --reference concurrent|after.
 * Exit status 0 when the weights are equal after every planned kill, 1 when
 * they differ or the run ended before all kills happened (inconclusive).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, hostname, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeSafetensors } from "../runtime-wasm/host/safetensors.ts";
import { mulberry32 } from "../runtime-wasm/host/init.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const flowcBin = join(root, "bin/flowc.mjs");

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
function numArg(name: string, fallback: number): number {
  const v = Number(arg(name, String(fallback)));
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number, got ${arg(name, "")}`);
  return v;
}

const minutes = numArg("minutes", 30);
const kills = Math.floor(numArg("kills", 5));
const spec = arg("spec", join(root, "spec-examples/glow-mnist.flow"));
const data = arg("data", "mnist");
const batch = arg("batch", "64");
const lr = arg("lr", "1e-3");
const seed = arg("seed", "0");
const killSeed = Math.floor(numArg("kill-seed", Date.now() % 1_000_000));
const referenceMode = arg("reference", "concurrent");
const base = arg("dir", join("/tmp", `flowc-soak-${process.pid}`));
const t0 = Date.now();

const elapsed = () => (Date.now() - t0) / 1000;
const say = (msg: string) => process.stdout.write(`[${elapsed().toFixed(0).padStart(5)} s] ${msg}\n`);

interface Run {
  child: ChildProcess;
  done: Promise<number | null>;
  lastStep: number;
}

/** Every training process started, so that stopping the soak stops them too. */
const children = new Set<ChildProcess>();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    for (const c of children) c.kill("SIGKILL");
    process.exit(130);
  });
}

/** Start `flowc train` into `out`; progress lines ("step N/…") update lastStep. */
function startTrain(out: string, steps: number, every: number, resume: boolean): Run {
  const args = [flowcBin, "train", spec, "--data", data, "--steps", String(steps), "--batch", batch, "--lr", lr,
    "--seed", seed, "--out", out, "--checkpoint-every", String(every)];
  if (resume) args.push("--resume");
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  const run: Run = { child, lastStep: 0, done: new Promise((res) => child.on("exit", (code) => { children.delete(child); res(code); })) };
  let tail = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (s: string) => {
    tail = (tail + s).slice(-4000);
    for (const m of s.matchAll(/step (\d+)\//g)) run.lastStep = Number(m[1]);
  });
  run.done.then((code) => {
    if (code !== 0 && code !== null) process.stderr.write(`flowc train in ${out} exited with ${code}:\n${tail}\n`);
  });
  return run;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Steps per second of `flowc train` with `parallel` runs going at once (the soak runs two). */
async function calibrate(parallel: number, seconds: number): Promise<number> {
  const runs = Array.from({ length: parallel }, (_, k) => {
    const out = join(base, `calibrate-${k}`);
    return startTrain(out, 1_000_000, 1_000_000, false);
  });
  // Measure between the first progress line (compile and data loading are over) and the end.
  while (runs.some((r) => r.lastStep === 0)) await sleep(200);
  const s0 = runs.map((r) => r.lastStep), c0 = Date.now();
  await sleep(seconds * 1000);
  const rates = runs.map((r, k) => (r.lastStep - s0[k]) / ((Date.now() - c0) / 1000));
  for (const r of runs) r.child.kill("SIGKILL");
  await Promise.all(runs.map((r) => r.done));
  return Math.min(...rates);
}

function checkpointStep(out: string): number | null {
  const p = join(out, "checkpoint.safetensors");
  if (!existsSync(p)) return null;
  return Number(decodeSafetensors(readFileSync(p)).metadata.step);
}

function sha256(p: string): string {
  return createHash("sha256").update(readFileSync(p)).digest("hex");
}

/** Compare every tensor of two safetensors files bit for bit; returns the differing names. */
function diffTensors(a: string, b: string): string[] {
  const ta = decodeSafetensors(readFileSync(a)).tensors, tb = decodeSafetensors(readFileSync(b)).tensors;
  const names = new Set([...ta.keys(), ...tb.keys()]);
  const bad: string[] = [];
  for (const n of names) {
    const x = ta.get(n), y = tb.get(n);
    if (!x || !y) { bad.push(n); continue; }
    const bx = new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength);
    const by = new Uint8Array(y.data.buffer, y.data.byteOffset, y.data.byteLength);
    if (Buffer.compare(bx, by) !== 0) bad.push(n);
  }
  return bad;
}

async function main(): Promise<void> {
  rmSync(base, { recursive: true, force: true });
  mkdirSync(base, { recursive: true });
  const killedDir = join(base, "killed"), refDir = join(base, "reference");
  say(`soak: ${spec} on ${data}, ${minutes} min, ${kills} kills (kill seed ${killSeed}), run directories in ${base}`);

  let steps = Math.floor(numArg("steps", 0));
  let rate = 0;
  if (steps === 0) {
    rate = await calibrate(referenceMode === "concurrent" ? 2 : 1, Math.min(60, Math.max(20, minutes * 4)));
    if (!(rate > 0)) throw new Error("calibration measured no progress");
    // Each kill loses on average half a checkpoint interval plus a restart (compile from the cache, data).
    const budget = minutes * 60 - kills * 45;
    steps = Math.max(kills + 2, Math.round(rate * Math.max(budget, minutes * 30)));
    say(`calibration: ${rate.toFixed(3)} steps/s per run → ${steps} steps`);
  }
  const every = Math.max(1, Math.floor(numArg("checkpoint-every", 0)) || Math.round((rate || steps / (minutes * 60)) * 60));
  say(`training ${steps} steps, checkpoint every ${every} steps`);

  // Kill moments by progress, not by the clock (a calibration taken on a busy machine would leave
  // a fast run finishing before its kills): kill k comes once the run has logged step f_k·steps,
  // f_k uniform in [0.05, 0.9], after a further random delay of up to one step's time, so that
  // it lands anywhere in a step, a checkpoint write included.
  const rand = mulberry32(killSeed);
  const gap = Math.min(0.1, 0.5 / (kills + 1));
  let killFrac: number[] = [];
  for (let tries = 0; tries < 1000; tries++) {
    killFrac = Array.from({ length: kills }, () => 0.05 + 0.85 * rand()).sort((a, b) => a - b);
    if (killFrac.every((f, k) => k === 0 || f - killFrac[k - 1] >= gap)) break;
  }
  const stepSeconds = rate > 0 ? 1 / rate : (minutes * 60) / steps;

  const runStart = elapsed();
  const reference = referenceMode === "concurrent" ? startTrain(refDir, steps, every, false) : null;
  const killLog: { at: number; step: number; checkpoint: number | null }[] = [];
  let run = startTrain(killedDir, steps, every, false);
  for (const f of killFrac) {
    const target = Math.max(1, Math.floor(f * steps));
    const current = run;
    const reached = (async () => {
      while (current.lastStep < target) await sleep(50);
      await sleep(rand() * stepSeconds * 1000);
      return false;
    })();
    const finished = await Promise.race([current.done.then(() => true), reached]);
    if (finished) { say(`the run finished before the kill planned at step ${target}`); break; }
    run.child.kill("SIGKILL");
    await run.done;
    const ck = checkpointStep(killedDir);
    killLog.push({ at: elapsed() - runStart, step: run.lastStep, checkpoint: ck });
    say(`SIGKILL at ${(elapsed() - runStart).toFixed(0)} s: last logged step ${run.lastStep}, checkpoint at step ${ck ?? "none"}; restarting with --resume`);
    run = startTrain(killedDir, steps, every, true);
  }
  const code = await run.done;
  const killedSeconds = elapsed() - runStart;
  say(`killed run finished (exit ${code}) after ${killedSeconds.toFixed(0)} s`);
  const refRun = reference ?? startTrain(refDir, steps, every, false);
  const refCode = await refRun.done;
  say(`reference run finished (exit ${refCode})`);
  if (code !== 0 || refCode !== 0) throw new Error("a training run failed");

  const wk = join(killedDir, "weights.safetensors"), wr = join(refDir, "weights.safetensors");
  const ck = join(killedDir, "checkpoint.safetensors"), cr = join(refDir, "checkpoint.safetensors");
  const weightDiff = diffTensors(wk, wr), checkpointDiff = diffTensors(ck, cr);
  const equal = weightDiff.length === 0 && checkpointDiff.length === 0;
  const result = {
    date: new Date().toISOString(),
    machine: `${hostname()}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
    spec: spec.replace(root + "/", ""), data, batch: Number(batch), lr: Number(lr), seed: Number(seed),
    steps, checkpointEvery: every, minutes, killSeed,
    killedRunSeconds: Math.round(killedSeconds),
    kills: killLog.map((k) => ({ atSeconds: Math.round(k.at), lastLoggedStep: k.step, checkpointStep: k.checkpoint })),
    equal,
    weightsSha256: sha256(wk),
    referenceWeightsSha256: sha256(wr),
    differingTensors: [...weightDiff, ...checkpointDiff.map((n) => `checkpoint:${n}`)],
  };
  const allKills = killLog.length === kills;
  say(!equal ? `DIFFERENT: ${result.differingTensors.length} tensors differ`
    : allKills ? "EQUAL: the killed-and-resumed run reached the reference weights and optimizer state bit for bit"
    : `INCONCLUSIVE: equal, but only ${killLog.length} of ${kills} kills happened before the run ended`);
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  process.exitCode = equal && allKills ? 0 : 1;
}

main().catch((e) => {
  process.stderr.write(`soak failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
