/**
 * @fileoverview `flowc/runtime`: the host API for compiled flows. No Node
 * built-ins anywhere in this import graph (scripts/build.mjs refuses to
 * build dist/runtime.js otherwise), so it runs in Node, Deno, browsers and
 * Cloudflare Workers alike.
 */
export { loadFlow, readManifest, Flow, Trainer, NonFiniteError, WEIGHTS_SECTION } from "./flow.ts";
export type { LoadOptions, TrainerOptions, FloatArray, Numbers } from "./flow.ts";
export type { Manifest } from "./manifest.ts";
export { MANIFEST_SECTION, MANIFEST_FORMAT_VERSION } from "./manifest.ts";
export { FLOWC_VERSION } from "../../compiler/version.ts";
export { FlowcInputError } from "./errors.ts";
export type { InputErrorDetails } from "./errors.ts";
export { encodeSafetensors, decodeSafetensors } from "./safetensors.ts";
export { sampleToy } from "./toys.ts";
export type { ToyName } from "./toys.ts";
export { targets, getTarget, gridLogZ } from "./targets.ts";
export type { Target } from "./targets.ts";
export type { LogDensity } from "./flow.ts";
