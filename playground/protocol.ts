/**
 * @fileoverview The messages between the playground page (main.ts) and its
 * Web Worker (worker.ts), which compiles specs and trains flows off the
 * page's thread.
 */
import type { Diagnostic } from "../compiler/diagnostics/types.ts";

/** Where training data come from: a built-in toy or rows parsed from a CSV upload. */
export type DataSource = { kind: "toy"; name: string } | { kind: "csv"; name: string; rows: Float64Array };

export interface TrainSettings {
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  /** Redraw the heat map after this many steps. */
  refresh: number;
}

export type ToWorker =
  | { type: "compile"; id: number; source: string; filename: string }
  /** Fresh init from `seed`, then train. */
  | { type: "start"; data: DataSource; settings: TrainSettings }
  /** Train further from the current weights. */
  | { type: "continue"; settings: TrainSettings }
  | { type: "stop" }
  | { type: "bundle"; id: number }
  | { type: "logProb"; id: number; points: Float64Array };

/** The view of the density the page draws. */
export interface Snapshot {
  step: number;
  /** Mean NLL of the last batch (nats); NaN before the first step. */
  loss: number;
  /** Mean log-likelihood of the held-out points (nats). */
  heldOut: number;
  stepsPerSec: number;
  /** Square box [x0, x1] × [y0, y1] the grid covers. */
  box: [number, number, number, number];
  /** grid × grid log-densities, row 0 at the top (largest y). */
  grid: number;
  logDensity: Float32Array;
  /** Samples from the flow, n × 2. */
  samples: Float32Array;
}

export type FromWorker =
  /** The worker's modules are loaded and its handler is installed. */
  | { type: "ready" }
  | { type: "compiled"; id: number; ok: boolean; ms: number; diagnostics: Diagnostic[]; bytes: number; params: number; dims: number[] }
  /** Data loaded and the flow initialised: the held-out log-likelihood of the base (step 0). */
  | { type: "started"; points: number; heldOutPoints: number; snapshot: Snapshot }
  | { type: "progress"; snapshot: Snapshot }
  | { type: "stopped"; reason: "done" | "stopped"; snapshot: Snapshot }
  | { type: "bundle"; id: number; wasm: Uint8Array }
  | { type: "logProb"; id: number; values: Float64Array }
  /** Anything that went wrong in the worker, as code + message (never a stack trace). */
  | { type: "error"; id?: number; code: string; message: string };
