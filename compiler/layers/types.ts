/**
 * @fileoverview The contract every layer kind, conditioner net and base
 * distribution implements. A layer file exports one `LayerKind`; everything
 * about the layer (options, shape rule, parameters, direction, cost and its
 * AssemblyScript kernels) lives behind this interface, so the checker,
 * code generator, host and tests never switch over layer names.
 */
import type { Span } from "../syntax/ast.ts";
import type { AnomalyHint, InitDesc } from "../../runtime-wasm/host/manifest.ts";

/** An event shape: `[D]` or `[C, H, W]`. */
export type Shape = number[];

// ---------------------------------------------------------------- options

export type OptionSpec =
  | { type: "int"; default?: number; min?: number; max?: number; doc: string }
  | { type: "float"; default?: number; min?: number; max?: number; /** value must be > min, not >= */ exclusiveMin?: boolean; /** value must be < max, not <= */ exclusiveMax?: boolean; doc: string }
  | { type: "enum"; values: string[]; default?: string; doc: string }
  | { type: "bool"; default?: boolean; doc: string }
  /** A conditioner net such as `mlp(hidden=64, depth=2)`; `allowed` limits the kinds. */
  | { type: "net"; default: NetConfig; allowed?: string[]; doc: string }
  | { type: "intlist"; default?: number[]; doc: string };

/** A resolved conditioner net. */
export interface NetConfig {
  kind: string;
  opts: Record<string, number | string | boolean>;
}

/** A set of mutually exclusive bare-word flags, e.g. coupling's `additive|affine|spline`. */
export interface VariantGroup {
  /** Key under which the chosen value appears in the resolved options, e.g. "transform". */
  name: string;
  values: string[];
  /** If absent the group is required. */
  default?: string;
  doc: string;
}

/** Options after validation: defaults filled in, variants resolved under their group name. */
export type Opts = Record<string, number | string | boolean | number[] | NetConfig>;

// ---------------------------------------------------------------- checking context

/** Passed to shape/validate rules so they can report problems as data. */
export interface RuleCtx {
  /** Report a diagnostic from the catalogue at the layer statement (or at a given span). */
  error(code: string, args?: Record<string, unknown>, span?: Span, hint?: string): void;
  warn(code: string, args?: Record<string, unknown>, span?: Span, hint?: string): void;
  /** Span of a named option or flag if written in the source, else the layer's span. */
  spanOf(option: string): Span;
  /** Parity 0/1 of this layer's mask kind (alternates on successive couplings with the same mask). */
  parity: number;
  /** The conditioning context size (0 when the spec has no `context`). */
  contextSize: number;
  /** Whether the option or flag was written in the source (not a default). */
  written?(option: string): boolean;
}

// ---------------------------------------------------------------- parameters

/** Parameter init descriptors: the same type the module manifest carries to the host
 *  (zeros, const, normal, uniform, rotation, lu-rotation parts, permutation). */
export type InitSpec = InitDesc;

export interface ParamDecl {
  /** Relative name; the weight file uses `layers.<i>.<name>`, e.g. `net.0.weight`. */
  name: string;
  /** PyTorch layout: dense weight [out, in], conv weight [out, in, kh, kw], bias [out]. */
  shape: number[];
  init: InitSpec;
  /** Buffers (fixed permutations, signs) are stored but never trained. Default true. */
  trainable?: boolean;
  /** Names of a data-dependent init (actnorm) or a zero-init rule, for the summary. */
  note?: string;
}

// ---------------------------------------------------------------- direction and cost

export interface DirectionSide {
  /** analytic: closed form; iterative: fixed point / bisection; none: unavailable. */
  kind: "analytic" | "iterative" | "none";
  /** parallel: one pass over the features; sequential: `passes` dependent passes (e.g. D for MAF). */
  cost: "parallel" | "sequential";
  passes?: number;
}

export interface DirectionInfo {
  /** data → latent (used by logProb and likelihood training). */
  forward: DirectionSide;
  /** latent → data (used by sample and reverse-KL training). */
  inverse: DirectionSide;
  note?: string;
}

/** How a layer moves and couples features, for the "untouched features" analysis.
 *  Features are flat indices into the event (C·H·W or D). */
export interface FeatureFlow {
  /** Output feature j comes from input feature `map[j]`; absent = identity.
   *  A shorter map (split) means the other input features leave the flow here. */
  map?: number[];
  /** Which output features were transformed by a function of *other* features. */
  coupled: "all" | "none" | boolean[];
}

// ---------------------------------------------------------------- code generation

/**
 * Handed to a layer's emitter. Generated kernels see these AssemblyScript
 * variables (all `usize` byte addresses unless noted):
 *
 *   fwd(P, ws, x, y, ld, n, zl, cx):  y = f(x) row by row for n rows (n ≤ CHUNK);
 *                                     ld[r] += log|det ∂f/∂x| (F per row).
 *   inv(P, ws, y, x, ld, n, zl, cx):  x = f⁻¹(y); ld[r] += log|det ∂f⁻¹/∂y| (= −forward's).
 *   bwd(P, G, ws, x, y, gy, gx, gld, n, zl, gzl, cx):
 *       called right after fwd on the same chunk and workspace; gy = ∂L/∂y,
 *       gld: F = ∂L/∂ld[r] (the same for every row); writes gx = ∂L/∂x (overwrite,
 *       never accumulate) and ACCUMULATES parameter gradients into G.
 *   init(P, ws, x, n, cx):            data-dependent init from the rows x (actnorm).
 *   project(P):                       restore parameter invariants (e.g. MADE masks) after a load.
 *
 * `n: i32` is the chunk's row count. `zl` is the latent buffer (rows of
 * latentSize F) used by `split` to write what leaves the flow; `gzl` its gradient.
 * `cx` is the context batch (rows of contextSize F) or 0.
 */
export interface EmitCtx {
  /** "f32" or "f64": the generated code's float type is aliased `F`. */
  precision: "f32" | "f64";
  /** Bytes per F (4 or 8) and log2 of it. */
  sz: number;
  shift: number;
  index: number;
  opts: Opts;
  inShape: Shape;
  outShape: Shape;
  parity: number;
  contextSize: number;
  /** Rows per chunk (compile-time constant). */
  chunk: number;
  /** For a layer that factors features out of the flow (`split`): where its part starts in a
   *  latent row of `zl`/`gzl` (elements) and the latent row length. Absent elsewhere. */
  latentOffset?: number;
  latentSize?: number;
  /** Byte address expression of a parameter of this layer in P, e.g. `(P + 1024)`. */
  p(name: string): string;
  /** Byte address expression of the same parameter's gradient in G. */
  g(name: string): string;
  /** Reserve workspace for this layer: `perRow` F per row of the chunk plus `fixed` F;
   *  returns the byte address expression, e.g. `(ws + 65536)`. Same name → same slot. */
  slot(name: string, perRow: number, fixed?: number): string;
  /** A fresh identifier with the given prefix, unique in the module. */
  uid(prefix: string): string;
  /** Add a module-level declaration (a helper function, a constant table). */
  helper(code: string): void;
  /** Float literal in the module's precision, e.g. `<F>0.5`. */
  lit(v: number): string;
  /** Emit a conditioner net (see NetKind) bound to this layer's `net.` parameters. */
  net(config: NetConfig, inDim: number | Shape, outDim: number | Shape, prefix?: string): NetCode;
}

export interface LayerCode {
  fwd: string;
  inv: string;
  bwd: string;
  /** Backward of the inverse direction (reverse-KL training, sampleAndLogProb gradients):
   *  `bwdInv(P, G, ws, y, x, gx, gy, gld, n, zl, gzl, cx)` runs right after `inv` on the same
   *  chunk and workspace; gx = ∂L/∂x (data side), gld = ∂L/∂ld[r] where ld is the inverse's
   *  log|det ∂x/∂y|; writes gy = ∂L/∂y (overwrite) and ACCUMULATES parameter gradients into G.
   *  Layers without it make reverse-KL training unavailable (the host says which). */
  bwdInv?: string;
  init?: string;
  project?: string;
}

export interface LayerKind {
  name: string;
  /** One line for `inspect` and docs. */
  summary: string;
  /** The paper it follows, e.g. "Kingma & Dhariwal 2018, Glow". */
  paper?: string;
  variants?: VariantGroup[];
  options: Record<string, OptionSpec>;
  /** Which kinds of events it accepts, for the checker's first shape test. */
  accepts: "vector" | "image" | "any";
  /** The mask kind for parity alternation (e.g. "checker"), or undefined. */
  maskKind?(opts: Opts): string | undefined;
  /** Cross-option checks beyond the schema (e.g. `leaky_relu slope=0`). */
  validate?(opts: Opts, ctx: RuleCtx): void;
  /** Fill options whose default depends on the input shape or on other options
   *  (coupling's mask and net, dequantize's levels) and drop options that do not
   *  apply to the chosen variant, so resolved options are canonical. Called per
   *  unrolled copy after validation; `input` is null when it is unknown. Reports nothing. */
  resolve?(opts: Opts, input: Shape | null, written: (option: string) => boolean): Opts;
  /** Output shape, or null after reporting an error through ctx. */
  shape(input: Shape, opts: Opts, ctx: RuleCtx): Shape | null;
  params(input: Shape, opts: Opts, ctx: RuleCtx): ParamDecl[];
  direction(input: Shape, opts: Opts): DirectionInfo;
  flops(input: Shape, opts: Opts): { forward: number; inverse: number };
  features(input: Shape, opts: Opts, parity: number): FeatureFlow;
  /** The values this layer accepts as input, when restricted (logit: [0, 1]; dequantize:
   *  integers in [0, levels)). When it is the first layer, the host checks data against it
   *  (FLOW6xx error naming the first offending value instead of a NaN). */
  domain?(opts: Opts): InputDomain | undefined;
  /** How this layer explains the known ways it makes training non-finite (`--detect-anomaly`
   *  hints); carried in the manifest so the host needs no layer names. */
  anomaly?: AnomalyHint;
  /** Present once the layer has kernels. Returns null for option combinations that have
   *  no kernels yet (the compiler then reports FLOW501 instead of failing). */
  emit?(ctx: EmitCtx): LayerCode | null;
  /** Configurations the generic numeric suite (test/layers-numeric.test.ts) runs this layer at.
   *  Absent: the kind's defaults at a few shapes fitting `accepts`. */
  testCases?: LayerTestCase[];
  /** At init the conditioner's last layer is zero, so the layer acts elementwise
   *  (its Jacobian is diagonal); the generic suite checks this. */
  zeroInitElementwise?: boolean;
}

export interface InputDomain {
  lo: number;
  hi: number;
  /** Whether lo / hi themselves are allowed. */
  loClosed: boolean;
  hiClosed: boolean;
  integer?: boolean;
  /** Shown in errors, e.g. "integers in [0, 256) (dequantize bits=8)". */
  describe: string;
}

export interface LayerTestCase {
  input: Shape;
  /** The layer statement, e.g. `coupling affine mask=alternate net=mlp(hidden=8, depth=1)`.
   *  Several statements may be separated by `;` (e.g. to test parity flips). */
  text: string;
  context?: number;
  /** Data range for layers with a restricted domain (logit: [0, 1]; dequantize: integers). */
  domain?: { lo: number; hi: number; integer?: boolean };
}

// ---------------------------------------------------------------- conditioner nets

/** Code for a conditioner net mapping rows of `inDim` F to rows of `outDim` F.
 *  Strings are AssemblyScript statements using the variables of the enclosing kernel. */
export interface NetCode {
  /** `(inp: string, out: string, n: string) => statements`: out = net(inp), saving activations. */
  forward(inp: string, out: string, n: string): string;
  /** After forward on the same rows: given gOut, accumulate parameter grads into G and,
   *  if gInp is not null, write ∂L/∂inp into gInp (overwrite). gOut may be clobbered. */
  backward(inp: string, gOut: string, gInp: string | null, n: string): string;
}

export interface NetKind {
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
  /** "vector": rows of features; "image": [C,H,W] feature maps. */
  accepts: "vector" | "image";
  /** Parameters, named relative to the net (`0.weight`, `0.bias`, ...); the layer prefixes `net.`.
   *  The last layer is zero-initialised so the owning coupling starts as the identity. */
  params(inDim: number | Shape, outDim: number | Shape, opts: NetConfig["opts"]): ParamDecl[];
  flops(inDim: number | Shape, outDim: number | Shape, opts: NetConfig["opts"]): number;
  /** Cross-option checks beyond the schema (e.g. conv's odd kernel); spans refer to the net's args. */
  validate?(opts: NetConfig["opts"], ctx: RuleCtx): void;
  emit?(ctx: EmitCtx, inDim: number | Shape, outDim: number | Shape, opts: NetConfig["opts"], prefix: string): NetCode;
}

// ---------------------------------------------------------------- base distributions

export interface BaseKind {
  name: string;
  summary: string;
  variants?: VariantGroup[];
  options: Record<string, OptionSpec>;
  params(latent: Shape, opts: Opts): ParamDecl[];
  /**
   * Kernels over the latent buffer z (n rows of `size` F):
   *   logp(P, z, out, n):           out[r] = log p(z_r)
   *   grad(P, G, z, gz, scale, n):  gz = scale·∂log p/∂z (overwrite); G += scale·∂log p/∂θ
   *   sample(P, ws, z, n, temp):    z = draws at temperature temp (uses the module RNG)
   */
  emit?(ctx: EmitCtx, size: number): { logp: string; grad: string; sample: string };
}
