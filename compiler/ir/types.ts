/**
 * @fileoverview The typed IR the checker produces and every later pass reads:
 * the unrolled layer list with shapes, the flat parameter table, the latent
 * layout and the flow's capabilities. `verifyIR` (verify.ts) checks its
 * invariants between passes.
 */
import type { Span } from "../syntax/ast.ts";
import type { DirectionInfo, InitSpec, Opts, Shape } from "../layers/types.ts";

export interface IRParam {
  /** Full name as in the weight file: `layers.3.net.0.weight`, `base.loc`. */
  name: string;
  /** Name relative to its layer: `net.0.weight`. */
  local: string;
  shape: number[];
  /** Element count (product of shape). */
  size: number;
  /** Offset in elements into the flat parameter buffer. Trainable params come first. */
  offset: number;
  init: InitSpec;
  trainable: boolean;
}

export interface IRLayer {
  index: number;
  kind: string;
  opts: Opts;
  /** The statement's source text with options as written, e.g. `coupling affine mask=half`. */
  text: string;
  span: Span;
  inShape: Shape;
  outShape: Shape;
  parity: number;
  params: IRParam[];
  direction: DirectionInfo;
  flops: { forward: number; inverse: number };
}

export interface LatentPart {
  /** Layer index of the `split` that factored it out, or -1 for the flow's final output. */
  layer: number;
  /** Offset and size in elements within a latent row. */
  offset: number;
  size: number;
  shape: Shape;
}

export interface Capabilities {
  logProb: boolean;
  sample: boolean;
  trainLikelihood: boolean;
  trainReverseKL: boolean;
  /** Human-readable notes on slow directions, e.g. "sampling runs 5 sequential passes (layer 2 maf)". */
  notes: string[];
}

export interface IRFlow {
  filename: string;
  source: string;
  /** Hex digest of the canonical unrolled flow (kinds, resolved options, shapes, params). */
  hash: string;
  inputShape: Shape;
  /** Product of inputShape. */
  eventSize: number;
  contextSize: number;
  layers: IRLayer[];
  base: { kind: string; opts: Opts; params: IRParam[]; span?: Span };
  /** Shape handed to the base (the last layer's output). */
  finalShape: Shape;
  latentLayout: LatentPart[];
  /** Elements per latent row (= eventSize: flows preserve dimension). */
  latentSize: number;
  paramCount: number;
  trainableCount: number;
  capabilities: Capabilities;
}
