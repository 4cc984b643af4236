/**
 * @fileoverview The `flowc.manifest` custom section: the JSON a compiled
 * module carries about itself, and the only thing (with the exports) the
 * host knows about a flow. The compiler writes it; the host reads and
 * validates it.
 */
import { FLOWC_VERSION } from "../../compiler/version.ts";
import { inputError } from "./errors.ts";

export type InitDesc =
  | { kind: "zeros" }
  | { kind: "const"; value: number }
  | { kind: "normal"; std: number }
  | { kind: "uniform"; bound: number }
  | { kind: "rotation"; n: number }
  | { kind: "lu-rotation"; n: number; part: "P" | "L" | "U" | "sign" | "logs"; group: string }
  | { kind: "permutation"; n: number; seed?: number; reverse?: boolean };

export interface ManifestParam {
  name: string;
  /** Layer index, or -1 for the base distribution. */
  layer: number;
  shape: number[];
  offset: number;
  size: number;
  init: InitDesc;
  trainable: boolean;
}

export interface ManifestSide {
  kind: "analytic" | "iterative" | "none";
  cost: "parallel" | "sequential";
  passes?: number;
}

export interface ManifestLayer {
  index: number;
  kind: string;
  text: string;
  inShape: number[];
  outShape: number[];
  /** Byte offset of the layer's output buffer in a workspace. */
  act: number;
  direction: { forward: ManifestSide; inverse: ManifestSide };
  /** Whether the layer has a data-dependent init (actnorm). */
  dataInit: boolean;
  /** Whether the layer has the backward of its inverse (needed for reverse-KL training). */
  bwdInv?: boolean;
  /** The layer's own explanation of known failures, for `--detect-anomaly` (see AnomalyHint). */
  anomaly?: AnomalyHint;
}

/**
 * How a layer explains the known ways it makes training non-finite. The host's anomaly
 * report reads these from the manifest, so it names causes without knowing layer kinds.
 */
export interface AnomalyHint {
  /** Said when the first non-finite value appears in this layer's output. */
  whenHere?: string;
  /** A failure visible in a parameter: entries of `layers.<i>.<param>` at or above `atLeast`
   *  (each reported as "<what> <value>"), explained by `hint`. */
  saturated?: { param: string; atLeast: number; what: string; hint: string };
}

export interface Manifest {
  format: "flowc-module";
  formatVersion: 1;
  compiler: string;
  precision: "f32" | "f64";
  filename: string;
  source: string;
  hash: string;
  inputShape: number[];
  eventSize: number;
  contextSize: number;
  latentSize: number;
  latentLayout: { layer: number; offset: number; size: number; shape: number[] }[];
  chunk: number;
  workspaceBytes: number;
  /** Built with `--recompute`: layers' `act` buffers alternate between two, so only the last two outputs survive a pass. */
  recompute?: boolean;
  /** Byte offsets inside a workspace of the internal latent buffer and its gradient. */
  workspace: { z: number; gz: number };
  paramCount: number;
  trainableCount: number;
  params: ManifestParam[];
  layers: ManifestLayer[];
  base: { kind: string; opts: Record<string, unknown> };
  capabilities: { logProb: boolean; sample: boolean; trainLikelihood: boolean; trainReverseKL: boolean; notes: string[] };
  exports: string[];
  /** Values the data must lie in (from the first layer, e.g. logit or dequantize); checked by the host. */
  inputDomain?: { lo: number; hi: number; loClosed: boolean; hiClosed: boolean; integer?: boolean; describe: string; layer: string };
  /** Bundled modules (issue: deployable modules) carry their weights in a data segment. */
  bakedWeights?: { offset: number; count: number };
}

export const MANIFEST_SECTION = "flowc.manifest";

/** The manifest layout this runtime reads; bumped whenever the module ABI or manifest fields change. */
export const MANIFEST_FORMAT_VERSION = 1;

/** "0.1" of "0.1.3" (also of "0.1.3-dev"); null when `v` is not a version. */
function majorMinor(v: unknown): string | null {
  const m = typeof v === "string" ? /^(\d+)\.(\d+)\.\d+/.exec(v) : null;
  return m ? `${m[1]}.${m[2]}` : null;
}

/**
 * A module loads only into a runtime of the same manifest format and the same
 * compiler major.minor: patch releases keep the module ABI, anything else may
 * change kernel signatures or manifest fields. The weights inside a bundle are
 * checked separately, against the spec hash (FLOW670).
 */
export function checkModuleVersion(m: { compiler?: unknown; formatVersion?: unknown }, runtimeVersion: string = FLOWC_VERSION): void {
  const module = typeof m.compiler === "string" ? m.compiler : "(unknown version)";
  const want = majorMinor(runtimeVersion);
  if (m.formatVersion === MANIFEST_FORMAT_VERSION && want !== null && majorMinor(m.compiler) === want) return;
  throw inputError("FLOW655", {
    module,
    format: String(m.formatVersion),
    runtime: runtimeVersion,
    runtimeFormat: MANIFEST_FORMAT_VERSION,
    fix: `recompile the spec with flowc ${want ?? runtimeVersion}.x (\`flowc compile\`, \`flowc bundle\`), or load the module with the runtime of flowc ${module}`,
  });
}
