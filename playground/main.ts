/**
 * @fileoverview The playground page: checks the spec on every edit (the
 * checker runs here, it is cheap), hands compiling and training to a Web
 * Worker (worker.ts), draws the snapshots it sends back, parses CSV uploads,
 * and downloads the bundled module. `window.flowcPlayground` exposes the
 * page's state and a `logProb` probe for scripted use (the browser test).
 */
import { check } from "../compiler/check/api.ts";
import type { Diagnostic } from "../compiler/diagnostics/types.ts";
import { FlowcInputError } from "../runtime-wasm/host/errors.ts";
import moonsSpec from "../spec-examples/moons.flow";
import moonsExpSpec from "../spec-examples/moons-exp.flow";
import nsfMoonsSpec from "../spec-examples/nsf-moons.flow";
import { parseCsv2d } from "./csv.ts";
import { SpecEditor } from "./editor.ts";
import { drawSnapshot } from "./heatmap.ts";
import type { DataSource, FromWorker, Snapshot, ToWorker, TrainSettings } from "./protocol.ts";

const EXAMPLES: Record<string, string> = { "moons.flow": moonsSpec, "moons-exp.flow": moonsExpSpec, "nsf-moons.flow": nsfMoonsSpec };
const CHECK_DELAY_MS = 150;

const $ = <T extends HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

const ui = {
  example: $<HTMLSelectElement>("example"),
  filename: $<HTMLInputElement>("filename"),
  compile: $<HTMLButtonElement>("compile"),
  checkStatus: $("check-status"),
  compileStatus: $("compile-status"),
  data: $<HTMLSelectElement>("data"),
  csv: $<HTMLInputElement>("csv"),
  dataStatus: $("data-status"),
  steps: $<HTMLInputElement>("steps"),
  batch: $<HTMLInputElement>("batch"),
  lr: $<HTMLInputElement>("lr"),
  seed: $<HTMLInputElement>("seed"),
  refresh: $<HTMLInputElement>("refresh"),
  start: $<HTMLButtonElement>("start"),
  cont: $<HTMLButtonElement>("continue"),
  stop: $<HTMLButtonElement>("stop"),
  download: $<HTMLButtonElement>("download"),
  showSamples: $<HTMLInputElement>("show-samples"),
  canvas: $<HTMLCanvasElement>("density"),
  stats: $("stats"),
  error: $("error"),
};

const editor = new SpecEditor($<HTMLTextAreaElement>("source"), $("backdrop"), $("gutter"), $("diagnostics"));

type Status = "idle" | "compiling" | "compiled" | "compile-failed" | "training" | "stopped" | "done";

/** What a script (or the browser test) can read; updated as the page runs. */
const state = {
  status: "idle" as Status,
  /** Diagnostics of the latest check (or of a failed compile). */
  diagnostics: [] as Diagnostic[],
  compile: null as null | { ok: boolean; ms: number; bytes: number; params: number },
  /** Held-out mean log-likelihood of the freshly initialised flow (the base), nats. */
  initialHeldOut: null as number | null,
  snapshot: null as null | Omit<Snapshot, "logDensity" | "samples">,
  lastError: null as null | { code: string; message: string },
  csv: null as null | { name: string; rows: number },
};

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
let nextId = 1;
const pending = new Map<number, { ok: (m: FromWorker) => void; fail: (e: Error) => void }>();
let compiledSource: string | null = null;
let csvRows: Float64Array | null = null;
let lastSnapshot: Snapshot | null = null;

/** Messages held back until the worker says it is ready. */
let queued: [ToWorker, Transferable[]][] | null = [];

function send(msg: ToWorker, transfer: Transferable[] = []): void {
  if (queued) queued.push([msg, transfer]);
  else worker.postMessage(msg, transfer);
}

function request<T extends FromWorker>(make: (id: number) => ToWorker, transfer: Transferable[] = []): Promise<T> {
  const id = nextId++;
  return new Promise<T>((ok, fail) => {
    pending.set(id, { ok: ok as (m: FromWorker) => void, fail });
    send(make(id), transfer);
  });
}

// ------------------------------------------------------------------ checking

let checkTimer: ReturnType<typeof setTimeout> | undefined;

function runCheck(): void {
  const source = editor.value;
  const t0 = performance.now();
  const res = check(source, { filename: ui.filename.value || "playground.flow" });
  const ms = performance.now() - t0;
  state.diagnostics = res.diagnostics;
  editor.setDiagnostics(res.diagnostics);
  const errors = res.diagnostics.filter((d) => d.severity === "error").length;
  const warnings = res.diagnostics.filter((d) => d.severity === "warning").length;
  if (res.ok && res.summary) {
    const s = res.summary, c = s.capabilities;
    const can = [c.logProb && "logProb", c.sample && "sample", c.trainLikelihood && "likelihood training", c.trainReverseKL && "reverse-KL training"].filter(Boolean).join(", ");
    setStatus(ui.checkStatus, `✓ ${warnings ? `${warnings} warning${warnings > 1 ? "s" : ""}, ` : "no problems: "}${s.totals.layers} layers, ${s.totals.params.toLocaleString("en")} parameters, input [${s.inputShape.join(", ")}]; ${can} (checked in ${ms.toFixed(0)} ms)`, "ok");
  } else {
    setStatus(ui.checkStatus, `${errors} error${errors === 1 ? "" : "s"}${warnings ? `, ${warnings} warning${warnings > 1 ? "s" : ""}` : ""}`, "bad");
  }
  ui.compile.disabled = !res.ok || state.status === "compiling";
  markStale();
}

function scheduleCheck(): void {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(runCheck, CHECK_DELAY_MS);
}

function markStale(): void {
  if (!state.compile?.ok) return;
  const stale = compiledSource !== editor.value;
  ui.compileStatus.dataset.stale = String(stale);
  const base = ui.compileStatus.dataset.text ?? "";
  ui.compileStatus.textContent = stale ? `${base} — the spec has changed since; compile again to train it` : base;
}

function setStatus(el: HTMLElement, text: string, kind: "ok" | "bad" | "" = ""): void {
  el.textContent = text;
  el.dataset.text = text;
  el.className = `status ${kind}`;
}

// ------------------------------------------------------------------ compiling

async function compileSpec(): Promise<void> {
  clearError();
  const source = editor.value;
  state.status = "compiling";
  state.compile = null;
  state.initialHeldOut = null;
  state.snapshot = null;
  lastSnapshot = null; // the worker drops the old flow and its training with it
  updateButtons();
  setStatus(ui.compileStatus, "compiling (the AssemblyScript compiler runs in a worker)…");
  const started = performance.now();
  const timer = setInterval(() => setStatus(ui.compileStatus, `compiling… ${((performance.now() - started) / 1000).toFixed(0)} s`), 1000);
  try {
    const res = await request<Extract<FromWorker, { type: "compiled" }>>((id) => ({ type: "compile", id, source, filename: ui.filename.value || "playground.flow" }));
    state.compile = { ok: res.ok, ms: res.ms, bytes: res.bytes, params: res.params };
    if (res.ok) {
      compiledSource = source;
      state.status = "compiled";
      setStatus(ui.compileStatus, `compiled in ${(res.ms / 1000).toFixed(1)} s: ${(res.bytes / 1024).toFixed(1)} KiB, ${res.params.toLocaleString("en")} parameters, input [${res.dims.join(", ")}]`, "ok");
    } else {
      state.status = "compile-failed";
      state.diagnostics = res.diagnostics;
      editor.setDiagnostics(res.diagnostics);
      setStatus(ui.compileStatus, `compile failed after ${(res.ms / 1000).toFixed(1)} s: ${res.diagnostics.map((d) => d.code).join(", ")}`, "bad");
    }
  } catch (e) {
    state.status = "compile-failed";
    setStatus(ui.compileStatus, `compile failed: ${(e as Error).message}`, "bad");
  } finally {
    clearInterval(timer);
    updateButtons();
  }
}

// ------------------------------------------------------------------ training

function readSettings(): TrainSettings {
  const num = (el: HTMLInputElement, what: string, integer: boolean, min: number) => {
    const v = Number(el.value);
    if (el.value.trim() === "" || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
      throw new FlowcInputError("FLOW608", `${what} must be ${integer ? "an integer" : "a number"} ≥ ${min}, got '${el.value}'`);
    }
    return v;
  };
  return {
    steps: num(ui.steps, "steps", true, 1),
    batch: num(ui.batch, "batch", true, 1),
    lr: num(ui.lr, "lr", false, 0),
    seed: num(ui.seed, "seed", true, 0),
    refresh: num(ui.refresh, "the redraw interval", true, 1),
  };
}

function dataSource(): DataSource {
  const v = ui.data.value;
  if (v === "csv") {
    if (!csvRows || !state.csv) throw new FlowcInputError("FLOW600", "no CSV file is loaded");
    return { kind: "csv", name: state.csv.name, rows: csvRows.slice() };
  }
  return { kind: "toy", name: v.replace(/^toy:/, "") };
}

function startTraining(fresh: boolean): void {
  clearError();
  try {
    const settings = readSettings();
    if (fresh) {
      const data = dataSource();
      state.initialHeldOut = null;
      send({ type: "start", data, settings }, data.kind === "csv" ? [data.rows.buffer] : []);
    } else {
      send({ type: "continue", settings });
    }
    state.status = "training";
    updateButtons();
  } catch (e) {
    showError(e);
  }
}

function showSnapshot(snap: Snapshot): void {
  lastSnapshot = snap;
  const { logDensity: _l, samples: _s, ...numbers } = snap;
  state.snapshot = numbers;
  drawSnapshot(ui.canvas, snap, ui.showSamples.checked);
  const f = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : String(v));
  ui.stats.textContent =
    `step ${snap.step}   loss ${f(snap.loss)} nats   ${f(snap.stepsPerSec, 0)} steps/s\n` +
    `held-out log-likelihood ${f(snap.heldOut)} nats` + (state.initialHeldOut !== null ? `   (at init ${f(state.initialHeldOut)})` : "");
}

// ------------------------------------------------------------------ CSV upload and download

async function loadCsv(file: File): Promise<void> {
  clearError();
  try {
    const rows = parseCsv2d(await file.text(), file.name);
    csvRows = rows;
    state.csv = { name: file.name, rows: rows.length / 2 };
    let opt = ui.data.querySelector<HTMLOptionElement>('option[value="csv"]');
    if (!opt) {
      opt = document.createElement("option");
      opt.value = "csv";
      ui.data.append(opt);
    }
    opt.textContent = `${file.name} (${(rows.length / 2).toLocaleString("en")} rows)`;
    ui.data.value = "csv";
    setStatus(ui.dataStatus, `${file.name}: ${(rows.length / 2).toLocaleString("en")} rows of 2 values; 10% are held out`, "ok");
  } catch (e) {
    setStatus(ui.dataStatus, e instanceof FlowcInputError ? `${e.code}: ${e.message}` : String(e), "bad");
    state.lastError = e instanceof FlowcInputError ? { code: e.code, message: e.message } : { code: "internal", message: String(e) };
  } finally {
    ui.csv.value = "";
  }
}

async function downloadBundle(): Promise<void> {
  clearError();
  try {
    const res = await request<Extract<FromWorker, { type: "bundle" }>>((id) => ({ type: "bundle", id }));
    const name = (ui.filename.value || "playground.flow").replace(/\.flow$/, "") + ".wasm";
    const url = URL.createObjectURL(new Blob([res.wasm as BlobPart], { type: "application/wasm" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    showError(e);
  }
}

// ------------------------------------------------------------------ messages from the worker

worker.onmessage = (ev: MessageEvent<FromWorker>) => {
  const m = ev.data;
  if ("id" in m && m.id !== undefined && pending.has(m.id)) {
    const p = pending.get(m.id)!;
    pending.delete(m.id);
    if (m.type === "error") p.fail(Object.assign(new Error(m.message), { code: m.code }));
    else p.ok(m);
    if (m.type === "error") showError(m);
    return;
  }
  if (m.type === "ready") {
    const held = queued ?? [];
    queued = null;
    for (const [msg, transfer] of held) worker.postMessage(msg, transfer);
  } else if (m.type === "started") {
    state.initialHeldOut = m.snapshot.heldOut;
    setStatus(ui.dataStatus, `${m.points.toLocaleString("en")} training points, ${m.heldOutPoints.toLocaleString("en")} held out`, "ok");
    showSnapshot(m.snapshot);
  } else if (m.type === "progress") {
    showSnapshot(m.snapshot);
  } else if (m.type === "stopped") {
    showSnapshot(m.snapshot);
    state.status = m.reason === "done" ? "done" : "stopped";
    updateButtons();
  } else if (m.type === "error") {
    showError(m);
    if (state.status === "training") state.status = lastSnapshot ? "stopped" : "compiled";
    updateButtons();
  }
};

worker.onerror = (ev) => {
  showError({ code: "internal", message: `the worker failed: ${ev.message}` });
};

function showError(e: unknown): void {
  const err = e instanceof FlowcInputError ? { code: e.code, message: e.message }
    : e && typeof e === "object" && "code" in e && "message" in e ? { code: String(e.code), message: String(e.message) }
    : { code: "internal", message: String(e) };
  state.lastError = err;
  ui.error.hidden = false;
  ui.error.textContent = `${err.code}: ${err.message}`;
}

function clearError(): void {
  state.lastError = null;
  ui.error.hidden = true;
  ui.error.textContent = "";
}

function updateButtons(): void {
  const s = state.status;
  const ready = !!state.compile?.ok && s !== "compiling";
  ui.compile.disabled = s === "compiling" || state.diagnostics.some((d) => d.severity === "error");
  ui.start.disabled = !ready || s === "training";
  ui.cont.disabled = !ready || s === "training" || !lastSnapshot || (s !== "stopped" && s !== "done");
  ui.stop.disabled = s !== "training";
  ui.download.disabled = !ready || s === "training" || !lastSnapshot;
}

// ------------------------------------------------------------------ wiring

for (const name of Object.keys(EXAMPLES)) ui.example.append(new Option(name, name));
ui.example.addEventListener("change", () => {
  ui.filename.value = ui.example.value;
  editor.value = EXAMPLES[ui.example.value];
  runCheck();
});
editor.textarea.addEventListener("input", scheduleCheck);
editor.textarea.addEventListener("keydown", (e) => {
  if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
  e.preventDefault();
  runCheck(); // the debounced check may not have run yet
  if (!ui.compile.disabled) void compileSpec();
});
ui.filename.addEventListener("input", scheduleCheck);
ui.compile.addEventListener("click", () => void compileSpec());
ui.start.addEventListener("click", () => startTraining(true));
ui.cont.addEventListener("click", () => startTraining(false));
ui.stop.addEventListener("click", () => send({ type: "stop" }));
ui.download.addEventListener("click", () => void downloadBundle());
ui.csv.addEventListener("change", () => { if (ui.csv.files?.[0]) void loadCsv(ui.csv.files[0]); });
ui.showSamples.addEventListener("change", () => { if (lastSnapshot) drawSnapshot(ui.canvas, lastSnapshot, ui.showSamples.checked); });

editor.value = moonsSpec;
runCheck();
updateButtons();

(window as unknown as { flowcPlayground: unknown }).flowcPlayground = {
  state,
  /** log p of rows (n × 2) under the flow as it is now, evaluated in the worker. */
  async logProb(points: ArrayLike<number>): Promise<number[]> {
    const res = await request<Extract<FromWorker, { type: "logProb" }>>((id) => ({ type: "logProb", id, points: Float64Array.from(points) }));
    return Array.from(res.values);
  },
};
