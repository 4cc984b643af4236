/**
 * @fileoverview `flowc/runtime`: the host API for compiled flows. No Node
 * built-ins anywhere in this import graph.
 */
export { loadFlow, readManifest, Flow, Trainer, NonFiniteError } from "./flow.ts";
export type { LoadOptions, TrainerOptions, FloatArray, Numbers } from "./flow.ts";
export type { Manifest } from "./manifest.ts";
export { FlowcInputError } from "./errors.ts";
export { encodeSafetensors, decodeSafetensors } from "./safetensors.ts";
export { sampleToy } from "./toys.ts";
export { targets, getTarget, gridLogZ } from "./targets.ts";
export type { LogDensity } from "./flow.ts";
