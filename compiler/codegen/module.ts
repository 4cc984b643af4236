/**
 * @fileoverview Stitches the layers' emitters into one AssemblyScript module
 * for a checked flow: plans the workspace, wraps each layer's kernel bodies
 * in functions, and writes the exported entry points of the module ABI
 * (ARCHITECTURE.md). Knows no layer kinds: it only calls `emit()`.
 */
import type { IRFlow, IRLayer } from "../ir/types.ts";
import type { BaseKind, EmitCtx, LayerCode, LayerKind, NetCode, NetConfig, NetKind, Shape } from "../layers/types.ts";
import { runtimeLibrary } from "./runtime-lib.ts";

export interface Registry {
  layers: Record<string, LayerKind>;
  nets: Record<string, NetKind>;
  bases: Record<string, BaseKind>;
}

export interface GenOptions {
  precision: "f32" | "f64";
  /** Rows per chunk; default chosen from the workspace size. */
  chunk?: number;
  /** Keep no per-layer activations: the backward rebuilds them with the inverse (ARCHITECTURE.md). */
  recompute?: boolean;
}

export interface LayerPlan {
  index: number;
  /** Byte offset of this layer's output buffer in the workspace. */
  act: number;
}

export interface GeneratedModule {
  source: string;
  chunk: number;
  workspaceBytes: number;
  layers: LayerPlan[];
  /** Byte offsets in the workspace of the internal latent buffer and its gradient (used by split layers). */
  wsZ: number;
  wsGZ: number;
  /** Layer kinds without kernels (the module cannot be built). */
  missing: { index: number; kind: string }[];
  /** Distinct layer bodies emitted (layers with equal code share one). */
  bodies: number;
  /** Per layer: has a data-dependent init; has a backward of the inverse. */
  dataInit: boolean[];
  bwdInv: boolean[];
  recompute: boolean;
  /** In recompute mode, layers whose direction is not closed-form (the module cannot be built). */
  refused: { index: number; direction: string; kind: string }[];
}

const prod = (s: Shape) => s.reduce((a, b) => a * b, 1);
const align = (n: number, a = 16) => Math.ceil(n / a) * a;

/** Budget for one workspace when picking the chunk size automatically. */
const WS_BUDGET = 48 * 1024 * 1024;
const MAX_CHUNK = 256;
const MIN_CHUNK = 4;

/** Names the module itself exports; library functions of the same name are imported as `lib_<name>`. */
const MODULE_EXPORTS = new Set(["heap_base", "chunk_size", "seed", "forward", "inverse", "log_prob", "sample", "backward", "train_chunk", "layer_init", "project", "layer_fwd", "layer_inv", "layer_bwd", "layer_bwd_inv", "backward_inv", "adam", "grad_sqnorm", "scale", "first_nonfinite", "zero_buf", "add_buf"]);

/** Names exported by each runtime-library file, so the module can import them all. */
function libraryImports(): string {
  const lines: string[] = [];
  for (const [file, text] of Object.entries(runtimeLibrary())) {
    const names = new Set<string>();
    for (const m of text.matchAll(/^\s*(?:@inline\s+)?export\s+(?:function|const|let|var)\s+([A-Za-z_]\w*)/gm)) names.add(m[1]);
    const list = [...names].map((n) => (MODULE_EXPORTS.has(n) ? `${n} as lib_${n}` : n));
    if (list.length) lines.push(`import { ${list.join(", ")} } from "./lib/${file.replace(/\.ts$/, "")}";`);
  }
  return lines.join("\n");
}

/**
 * Spec text (a layer's text, the file name) for a line comment of the generated
 * source: printable ASCII only, everything else as \\uXXXX, since AssemblyScript
 * also ends a line at U+2028/U+2029 and the rest of the text would become code.
 */
export function commentText(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Render a JS number as an AssemblyScript float literal of type F. */
export function floatLit(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`non-finite literal ${v}`);
  let s = String(v);
  if (!/[.eE]/.test(s)) s += ".0";
  return `<F>(${s})`;
}

interface Emitted {
  code: string;
  wsBytes: number;
  wsZ: number;
  wsGZ: number;
  layers: LayerPlan[];
  missing: { index: number; kind: string }[];
  bodies: number;
  dataInit: boolean[];
  bwdInv: boolean[];
}

/** What one layer body's emission collected: its slots (relative to the layer's slot base), uids and helpers. */
interface BodyState {
  slots: Map<string, number>;
  slotBytes: number;
  uids: number;
  helpers: string[];
}

/** Marks a body-local uid until the body's number is known (never appears in real code). */
const UID_MARK = "\u0001";

function emitAll(ir: IRFlow, reg: Registry, precision: "f32" | "f64", chunk: number, recompute: boolean): Emitted {
  const sz = precision === "f32" ? 4 : 8;
  const shift = precision === "f32" ? 2 : 3;
  let ws = 64; // RNG state and scratch scalars
  const reserve = (bytes: number) => {
    const at = align(ws);
    ws = at + align(bytes);
    return at;
  };
  const L = ir.layers.length;
  const latent = ir.latentSize;
  const sizes = ir.layers.map((l) => prod(l.outShape));
  const maxSize = Math.max(ir.eventSize, ...sizes);
  // Recompute mode keeps two ping-pong activation buffers instead of one per layer: the
  // backward walk rebuilds each layer's input from its output with the inverse.
  const ping = recompute ? [reserve(chunk * maxSize * sz), reserve(chunk * maxSize * sz)] : [];
  const acts = recompute ? sizes.map((_, i) => ping[i % 2]) : sizes.map((s) => reserve(chunk * s * sz));
  const Z = reserve(chunk * latent * sz);
  const LD = reserve(chunk * sz);
  const LP = reserve(chunk * sz);
  const GZ = reserve(chunk * latent * sz);
  const GA = reserve(chunk * maxSize * sz);
  const GB = reserve(chunk * maxSize * sz);
  const GX = reserve(chunk * ir.eventSize * sz);
  // Recompute mode: a scratch log-det row for the walk's re-runs, and the 16-byte RNG state
  // before each layer's forward, so a re-run forward draws the same numbers (dequantize).
  const LD2 = recompute ? reserve(chunk * sz) : 0;
  const RNGSAVE = recompute ? reserve(16) : 0;
  const SNAP = recompute ? reserve(16 * L) : 0;

  const missing: { index: number; kind: string }[] = [];
  const baseHelpers: string[] = [];
  let baseUid = 0;

  /**
   * Layer code addresses parameters, gradients and slots relative to per-layer bases held in
   * module globals (`__pt` trainable parameters, `__pb` buffers, `__sb` slots; bytes), set by
   * the layer's wrapper before it calls the shared body. Bodies of layers with the same kind,
   * options and shapes are then textually identical and are emitted once. The base
   * distribution is emitted once anyway and uses absolute offsets.
   */
  const makeCtx = (layer: IRLayer | null, paramOf: (name: string) => string, gradOf: (name: string) => string, idx: number, body: BodyState | null, extra: Partial<EmitCtx> = {}): EmitCtx => {
    const ctx: EmitCtx = {
      precision,
      sz,
      shift,
      index: idx,
      opts: layer?.opts ?? {},
      inShape: layer?.inShape ?? [],
      outShape: layer?.outShape ?? [],
      parity: layer?.parity ?? 0,
      contextSize: ir.contextSize,
      chunk,
      latentOffset: idx >= 0 ? ir.latentLayout.find((part) => part.layer === idx)?.offset : undefined,
      latentSize: latent,
      p: paramOf,
      g: gradOf,
      slot: (name, perRow, fixed = 0) => {
        if (!body) {
          const key = `base:${name}`;
          let at = baseSlots.get(key);
          if (at === undefined) baseSlots.set(key, (at = reserve((chunk * perRow + fixed) * sz)));
          return `(ws + ${at})`;
        }
        let at = body.slots.get(name);
        if (at === undefined) {
          at = body.slotBytes;
          body.slotBytes = at + align((chunk * perRow + fixed) * sz);
          body.slots.set(name, at);
        }
        return `(ws + __sb + ${at})`;
      },
      uid: (prefix) => (body ? `${prefix}_${UID_MARK}${body.uids++}` : `${prefix}_b_${baseUid++}`),
      helper: (code) => { (body ? body.helpers : baseHelpers).push(code); },
      lit: floatLit,
      net: (config: NetConfig, inDim: number | Shape, outDim: number | Shape, prefix = "net"): NetCode => {
        const kind = reg.nets[config.kind];
        if (!kind?.emit) throw new Error(`conditioner net '${config.kind}' has no kernels`);
        const sub = makeCtx(layer, (name) => paramOf(`${prefix}.${name}`), (name) => gradOf(`${prefix}.${name}`), idx, body, {});
        // slots of the net are namespaced by prefix so two nets in one layer don't collide
        const subCtx: EmitCtx = { ...sub, slot: (name, perRow, fixed) => ctx.slot(`${prefix}.${name}`, perRow, fixed) };
        return kind.emit(subCtx, inDim, outDim, config.opts, prefix);
      },
      ...extra,
    };
    return ctx;
  };
  const baseSlots = new Map<string, number>();

  /** Distinct bodies by their text; `code` has uids still marked. */
  const bodyIds = new Map<string, number>();
  const bodyList: { code: LayerCode; helpers: string[]; slotBytes: number }[] = [];
  /** Per layer: body number and bases (bytes). */
  const plan: ({ body: number; pt: number; pb: number } | null)[] = [];
  for (const layer of ir.layers) {
    const kind = reg.layers[layer.kind];
    if (!kind?.emit) {
      missing.push({ index: layer.index, kind: layer.kind });
      plan.push(null);
      continue;
    }
    const trainable = layer.params.filter((p) => p.trainable);
    const buffers = layer.params.filter((p) => !p.trainable);
    const pt = trainable.length ? Math.min(...trainable.map((p) => p.offset)) : 0;
    const pb = buffers.length ? Math.min(...buffers.map((p) => p.offset)) : 0;
    const byLocal = new Map(layer.params.map((p) => [p.local, p]));
    const rel = (name: string, buf: string) => {
      const p = byLocal.get(name);
      if (!p) throw new Error(`layer ${layer.index} (${layer.kind}) has no parameter '${name}'`);
      return p.trainable ? `(${buf} + __pt + ${(p.offset - pt) * sz})` : `(${buf} + __pb + ${(p.offset - pb) * sz})`;
    };
    const body: BodyState = { slots: new Map(), slotBytes: 0, uids: 0, helpers: [] };
    const code = kind.emit(makeCtx(layer, (n) => rel(n, "P"), (n) => rel(n, "G"), layer.index, body));
    if (!code) {
      missing.push({ index: layer.index, kind: layer.text });
      plan.push(null);
      continue;
    }
    const key = JSON.stringify([code.fwd, code.inv, code.bwd, code.bwdInv ?? null, code.init ?? "", code.project ?? "", body.helpers, body.slotBytes]);
    let id = bodyIds.get(key);
    if (id === undefined) {
      id = bodyList.length;
      bodyIds.set(key, id);
      bodyList.push({ code, helpers: body.helpers, slotBytes: body.slotBytes });
    }
    plan.push({ body: id, pt: pt * sz, pb: pb * sz });
  }
  // Slot regions: one per layer, or in recompute mode one shared region (only one layer's
  // scratch is live at a time there, since the backward walk re-runs each layer's forward).
  const shared = recompute ? reserve(Math.max(0, ...bodyList.map((b) => b.slotBytes))) : 0;
  const slotBase = plan.map((p) => (p === null ? 0 : recompute ? shared : reserve(bodyList[p.body].slotBytes)));

  const named = (s: string, b: number) => s.split(UID_MARK).join(`u${b}_`);
  const helpers: string[] = [];
  const fns: string[] = [];
  bodyList.forEach(({ code, helpers: hs }, b) => {
    helpers.push(...hs.map((h) => named(h, b)));
    fns.push(
      `// body ${b}: layers ${plan.flatMap((p, i) => (p?.body === b ? [i] : [])).join(", ")}`,
      `function B${b}_fwd(P: usize, ws: usize, x: usize, y: usize, ld: usize, n: i32, zl: usize, cx: usize): void {\n${named(code.fwd, b)}\n}`,
      `function B${b}_inv(P: usize, ws: usize, y: usize, x: usize, ld: usize, n: i32, zl: usize, cx: usize): void {\n${named(code.inv, b)}\n}`,
      `function B${b}_bwd(P: usize, G: usize, ws: usize, x: usize, y: usize, gy: usize, gx: usize, gld: F, n: i32, zl: usize, gzl: usize, cx: usize): void {\n${named(code.bwd, b)}\n}`,
      `function B${b}_bwdinv(P: usize, G: usize, ws: usize, y: usize, x: usize, gx: usize, gy: usize, gld: F, n: i32, zl: usize, gzl: usize, cx: usize): void {\n${code.bwdInv === undefined ? "  unreachable();" : named(code.bwdInv, b)}\n}`,
      `function B${b}_init(P: usize, ws: usize, x: usize, n: i32, cx: usize): void {\n${named(code.init ?? "", b)}\n}`,
      `function B${b}_project(P: usize): void {\n${named(code.project ?? "", b)}\n}`,
    );
  });
  // Per-layer wrappers: set the layer's bases, call its body (Binaryen inlines them).
  ir.layers.forEach((layer, i) => {
    const p = plan[i];
    if (!p) return;
    const set = `__pt = ${p.pt}; __pb = ${p.pb}; __sb = ${slotBase[i]};`;
    const b = p.body;
    fns.push(
      `// layer ${i}: ${commentText(layer.text)}`,
      `function L${i}_fwd(P: usize, ws: usize, x: usize, y: usize, ld: usize, n: i32, zl: usize, cx: usize): void { ${set} B${b}_fwd(P, ws, x, y, ld, n, zl, cx); }`,
      `function L${i}_inv(P: usize, ws: usize, y: usize, x: usize, ld: usize, n: i32, zl: usize, cx: usize): void { ${set} B${b}_inv(P, ws, y, x, ld, n, zl, cx); }`,
      `function L${i}_bwd(P: usize, G: usize, ws: usize, x: usize, y: usize, gy: usize, gx: usize, gld: F, n: i32, zl: usize, gzl: usize, cx: usize): void { ${set} B${b}_bwd(P, G, ws, x, y, gy, gx, gld, n, zl, gzl, cx); }`,
      `function L${i}_bwdinv(P: usize, G: usize, ws: usize, y: usize, x: usize, gx: usize, gy: usize, gld: F, n: i32, zl: usize, gzl: usize, cx: usize): void { ${set} B${b}_bwdinv(P, G, ws, y, x, gx, gy, gld, n, zl, gzl, cx); }`,
      `function L${i}_init(P: usize, ws: usize, x: usize, n: i32, cx: usize): void { ${set} B${b}_init(P, ws, x, n, cx); }`,
      `function L${i}_project(P: usize): void { ${set} B${b}_project(P); }`,
    );
  });
  const dataInit = plan.map((p) => (p ? /\S/.test(bodyList[p.body].code.init ?? "") : false));
  const bwdInv = plan.map((p) => (p ? bodyList[p.body].code.bwdInv !== undefined : false));
  const hasSlots = plan.map((p) => (p ? bodyList[p.body].slotBytes > 0 : false));

  const baseKind = reg.bases[ir.base.kind];
  let baseCode = { logp: "", grad: "", sample: "" };
  if (!baseKind?.emit) missing.push({ index: -1, kind: `base ${ir.base.kind}` });
  else {
    const byLocal = new Map(ir.base.params.map((p) => [p.local, p.offset]));
    const offsetOf = (name: string) => {
      const o = byLocal.get(name);
      if (o === undefined) throw new Error(`base has no parameter '${name}'`);
      return o * sz;
    };
    baseCode = baseKind.emit(makeCtx({ opts: ir.base.opts } as IRLayer, (n) => `(P + ${offsetOf(n)})`, (n) => `(G + ${offsetOf(n)})`, -1, null, { opts: ir.base.opts, inShape: ir.finalShape, outShape: ir.finalShape }), prod(ir.finalShape));
  }

  const inOf = (i: number, x: string) => (i === 0 ? x : `(ws + ${acts[i - 1]})`);
  const outOf = (i: number) => `(ws + ${acts[i]})`;
  const finalPart = ir.latentLayout.find((p) => p.layer === -1)!;
  const lastOut = L > 0 ? outOf(L - 1) : null;
  const finalSize = prod(ir.finalShape);
  // Split parts of the latent hold standardised ε (see split.ts) scored by N(0, 1); the base
  // distribution scores only the final part. Without splits the latent is the final part.
  const direct = finalSize === latent && finalPart.offset === 0;
  const ZF = direct ? 0 : reserve(chunk * finalSize * sz);
  const GZF = direct ? 0 : reserve(chunk * finalSize * sz);
  const splitParts = ir.latentLayout.filter((p) => p.layer !== -1);
  const eachSplit = (body: (off: number, size: number) => string) => splitParts.map((p) => body(p.offset, p.size)).join("\n");
  const latentFns = direct
    ? `function latent_logp(P: usize, ws: usize, z: usize, out: usize, n: i32): void { base_logp(P, z, out, n); }
function latent_grad(P: usize, G: usize, ws: usize, z: usize, gz: usize, scale: F, n: i32): void { base_grad(P, G, z, gz, scale, n); }
function latent_sample(P: usize, ws: usize, z: usize, n: i32, temp: F): void { base_sample(P, ws, z, n, temp); }`
    : `function latent_logp(P: usize, ws: usize, z: usize, out: usize, n: i32): void {
  const zf: usize = ws + ${ZF};
  for (let r = 0; r < n; r++) copy(zf + ((<usize>r * ${finalSize}) << ${shift}), z + ((<usize>r * ${latent} + ${finalPart.offset}) << ${shift}), ${finalSize});
  base_logp(P, zf, out, n);
  for (let r = 0; r < n; r++) {
    let s: f64 = 0;
${eachSplit((off, size) => `    for (let j = 0; j < ${size}; j++) { const e = <f64>ldf(z, r * ${latent} + ${off} + j); s += e * e; }`)}
    addf(out, r, <F>(-0.5 * s - ${0.5 * Math.log(2 * Math.PI) * (latent - finalSize)}));
  }
}
function latent_grad(P: usize, G: usize, ws: usize, z: usize, gz: usize, scale: F, n: i32): void {
  const zf: usize = ws + ${ZF};
  const gzf: usize = ws + ${GZF};
  for (let r = 0; r < n; r++) copy(zf + ((<usize>r * ${finalSize}) << ${shift}), z + ((<usize>r * ${latent} + ${finalPart.offset}) << ${shift}), ${finalSize});
  base_grad(P, G, zf, gzf, scale, n);
  for (let r = 0; r < n; r++) {
    copy(gz + ((<usize>r * ${latent} + ${finalPart.offset}) << ${shift}), gzf + ((<usize>r * ${finalSize}) << ${shift}), ${finalSize});
${eachSplit((off, size) => `    for (let j = 0; j < ${size}; j++) stf(gz, r * ${latent} + ${off} + j, -scale * ldf(z, r * ${latent} + ${off} + j));`)}
  }
}
function latent_sample(P: usize, ws: usize, z: usize, n: i32, temp: F): void {
  const zf: usize = ws + ${ZF};
  base_sample(P, ws, zf, n, temp);
  for (let r = 0; r < n; r++) {
    copy(z + ((<usize>r * ${latent} + ${finalPart.offset}) << ${shift}), zf + ((<usize>r * ${finalSize}) << ${shift}), ${finalSize});
${eachSplit((off, size) => `    for (let j = 0; j < ${size}; j++) stf(z, r * ${latent} + ${off} + j, temp * <F>rng_normal(ws));`)}
  }
}`;

  // Copy rows between the final layer's buffer (finalSize per row) and the latent rows.
  const copyFinal = (toLatent: boolean, z: string, src: string) =>
    finalSize === latent && finalPart.offset === 0
      ? (toLatent ? `copy(${z}, ${src}, n * ${latent});` : `copy(${src}, ${z}, n * ${latent});`)
      : `for (let r = 0; r < n; r++) { ${toLatent
          ? `copy(${z} + ((<usize>r * ${latent} + ${finalPart.offset}) << ${shift}), ${src} + ((<usize>r * ${finalSize}) << ${shift}), ${finalSize});`
          : `copy(${src} + ((<usize>r * ${finalSize}) << ${shift}), ${z} + ((<usize>r * ${latent} + ${finalPart.offset}) << ${shift}), ${finalSize});`} }`;

  // Recompute mode saves the RNG state before each layer's forward (snapshot i), so that the
  // backward walk's re-run of that forward draws exactly the same numbers.
  const snap = (i: number) => (recompute ? `  ws_copy16(ws + ${SNAP + 16 * i}, ws);\n` : "");
  const fwdCalls = ir.layers.map((l, i) => `${snap(i)}  L${i}_fwd(P, ws, ${inOf(i, "x")}, ${outOf(i)}, ld, n, z, cx);`).join("\n");
  const invCalls = ir.layers.map((l, i) => i).reverse().map((i) => `  L${i}_inv(P, ws, ${outOf(i)}, ${inOf(i, "x")}, ld, n, z, cx);`).join("\n");
  const LD2e = `(ws + ${LD2})`;
  const bwdCalls: string[] = recompute ? [`  zero(${LD2e}, n);`] : [];
  for (let i = L - 1; i >= 0; i--) {
    const gy = (L - 1 - i) % 2 === 0 ? `(ws + ${GA})` : `(ws + ${GB})`;
    const gxb = i === 0 ? "gx" : (L - 1 - i) % 2 === 0 ? `(ws + ${GB})` : `(ws + ${GA})`;
    if (recompute) {
      // x_i = f_i⁻¹(y_i) into the other ping-pong buffer (layer 0's input is the data itself),
      // then f_i(x_i) again with the forward's RNG state to refill the layer's slots for bwd.
      // The re-run writes its y over y_i, which the walk no longer needs after bwd_i.
      if (i > 0) bwdCalls.push(`  L${i}_inv(P, ws, ${outOf(i)}, ${inOf(i, "x")}, ${LD2e}, n, z, cx);`);
      if (hasSlots[i]) {
        bwdCalls.push(`  ws_copy16(ws + ${RNGSAVE}, ws); ws_copy16(ws, ws + ${SNAP + 16 * i});`);
        bwdCalls.push(`  L${i}_fwd(P, ws, ${inOf(i, "x")}, ${outOf(i)}, ${LD2e}, n, z, cx);`);
        bwdCalls.push(`  ws_copy16(ws, ws + ${RNGSAVE});`);
      }
    }
    bwdCalls.push(`  L${i}_bwd(P, G, ws, ${inOf(i, "x")}, ${outOf(i)}, ${gy}, ${gxb}, <F>gld, n, z, gz, cx);`);
  }
  // Backward of the inverse (latent → data) direction, walked from the data side to the latent.
  const bwdInvCalls: string[] = recompute ? [`  zero(${LD2e}, n);`] : [];
  for (let i = 0; i < L; i++) {
    const gIn = i === 0 ? "gx" : i % 2 === 1 ? `(ws + ${GA})` : `(ws + ${GB})`;
    const gOut = i % 2 === 0 ? `(ws + ${GA})` : `(ws + ${GB})`;
    if (recompute) {
      // After `inverse`, the ping-pong buffers still hold y_0 and y_1; from layer 2 on, y_i is
      // rebuilt from x_i with the forward (RNG state kept). Then the inverse runs again on y_i
      // to refill the slots bwdInv reads (for i ≤ 1 it reproduces x_i exactly).
      if (i >= 2) {
        bwdInvCalls.push(`  ws_copy16(ws + ${RNGSAVE}, ws);`);
        bwdInvCalls.push(`  L${i}_fwd(P, ws, ${inOf(i, "x")}, ${outOf(i)}, ${LD2e}, n, z, cx);`);
        bwdInvCalls.push(`  ws_copy16(ws, ws + ${RNGSAVE});`);
      }
      if (hasSlots[i]) bwdInvCalls.push(`  L${i}_inv(P, ws, ${outOf(i)}, ${inOf(i, "x")}, ${LD2e}, n, z, cx);`);
    }
    bwdInvCalls.push(`  L${i}_bwdinv(P, G, ws, ${outOf(i)}, ${inOf(i, "x")}, ${gIn}, ${gOut}, <F>gld, n, z, gz, cx);`);
  }
  const lastG = L % 2 === 1 ? `(ws + ${GA})` : `(ws + ${GB})`;
  const project = ir.layers.map((_, i) => `  L${i}_project(P);`).join("\n");
  const dispatch = (name: string, sig: string, call: (i: number) => string) =>
    `export function ${name}(i: i32, ${sig}): void {\n  switch (i) {\n${ir.layers.map((_, i) => `    case ${i}: ${call(i)}; break;`).join("\n")}\n    default: break;\n  }\n}`;

  const main = `// flowc generated module: ${commentText(ir.filename)} (${precision}, chunk ${chunk})
import { F } from "./lib/prec";
${libraryImports()}

const CHUNK: i32 = ${chunk};
const LATENT: i32 = ${latent};

/** Bases of the running layer's parameters (trainable, buffers) and slots, in bytes: set by L<i>_* wrappers. */
let __pt: usize = 0;
let __pb: usize = 0;
let __sb: usize = 0;
@inline function ws_copy16(dst: usize, src: usize): void { store<u64>(dst, load<u64>(src)); store<u64>(dst, load<u64>(src, 8), 8); }

${[...helpers, ...baseHelpers].join("\n\n")}

${fns.join("\n")}

function base_logp(P: usize, z: usize, out: usize, n: i32): void {
${baseCode.logp}
}
function base_grad(P: usize, G: usize, z: usize, gz: usize, scale: F, n: i32): void {
${baseCode.grad}
}
function base_sample(P: usize, ws: usize, z: usize, n: i32, temp: F): void {
${baseCode.sample}
}
${latentFns}

export function heap_base(): usize { return __heap_base; }
export function chunk_size(): i32 { return CHUNK; }

export function seed(ws: usize, s: u32): void { rng_seed(ws, s); }

export function forward(P: usize, ws: usize, x: usize, z: usize, ld: usize, n: i32, cx: usize): void {
  zero(ld, n);
${fwdCalls}
${lastOut ? "  " + copyFinal(true, "z", lastOut) : `  copy(z, x, n * ${latent});`}
}

export function inverse(P: usize, ws: usize, z: usize, x: usize, ld: usize, n: i32, cx: usize): void {
  zero(ld, n);
${lastOut ? "  " + copyFinal(false, "z", lastOut) : `  copy(x, z, n * ${latent});`}
${invCalls}
}

export function log_prob(P: usize, ws: usize, x: usize, out: usize, n: i32, cx: usize): void {
  const z: usize = ws + ${Z};
  const ld: usize = ws + ${LD};
  forward(P, ws, x, z, ld, n, cx);
  latent_logp(P, ws, z, out, n);
  for (let r = 0; r < n; r++) {
    const p = out + (<usize>r << ${shift});
    store<F>(p, load<F>(p) + load<F>(ld + (<usize>r << ${shift})));
  }
}

export function sample(P: usize, ws: usize, x: usize, lp: usize, n: i32, temp: f64, cx: usize): void {
  const z: usize = ws + ${Z};
  const ld: usize = ws + ${LD};
  latent_sample(P, ws, z, n, <F>temp);
  if (lp != 0) latent_logp(P, ws, z, lp, n);
  inverse(P, ws, z, x, ld, n, cx);
  if (lp != 0) {
    for (let r = 0; r < n; r++) {
      const p = lp + (<usize>r << ${shift});
      store<F>(p, load<F>(p) - load<F>(ld + (<usize>r << ${shift})));
    }
  }
}

export function backward(P: usize, G: usize, ws: usize, x: usize, z: usize, gz: usize, gld: f64, gx: usize, n: i32, cx: usize): void {
${lastOut ? "  " + copyFinal(false, "gz", `(ws + ${GA})`) : `  copy(gx, gz, n * ${latent});`}
${bwdCalls.join("\n")}
}

export function backward_inv(P: usize, G: usize, ws: usize, z: usize, x: usize, gx: usize, gld: f64, gz: usize, n: i32, cx: usize): void {
${bwdInvCalls.join("\n")}
${lastOut ? "  " + copyFinal(true, "gz", lastG) : `  copy(gz, gx, n * ${latent});`}
}

export function train_chunk(P: usize, G: usize, ws: usize, x: usize, n: i32, scale: f64, cx: usize): f64 {
  const z: usize = ws + ${Z};
  const ld: usize = ws + ${LD};
  const lp: usize = ws + ${LP};
  const gz: usize = ws + ${GZ};
  forward(P, ws, x, z, ld, n, cx);
  latent_logp(P, ws, z, lp, n);
  let nll: f64 = 0;
  for (let r = 0; r < n; r++) nll -= <f64>load<F>(lp + (<usize>r << ${shift})) + <f64>load<F>(ld + (<usize>r << ${shift}));
  latent_grad(P, G, ws, z, gz, <F>(-scale), n);
  backward(P, G, ws, x, z, gz, -scale, ws + ${GX}, n, cx);
  return nll;
}

export function project(P: usize): void {
${project}
}

${dispatch("layer_init", "P: usize, ws: usize, x: usize, n: i32, cx: usize", (i) => `L${i}_init(P, ws, x, n, cx)`)}
${dispatch("layer_fwd", "P: usize, ws: usize, x: usize, y: usize, ld: usize, n: i32, cx: usize", (i) => `L${i}_fwd(P, ws, x, y, ld, n, ws + ${Z}, cx)`)}
${dispatch("layer_inv", "P: usize, ws: usize, y: usize, x: usize, ld: usize, n: i32, cx: usize", (i) => `L${i}_inv(P, ws, y, x, ld, n, ws + ${Z}, cx)`)}
${dispatch("layer_bwd_inv", "P: usize, G: usize, ws: usize, y: usize, x: usize, gx: usize, gy: usize, gld: f64, n: i32, cx: usize", (i) => `L${i}_bwdinv(P, G, ws, y, x, gx, gy, <F>gld, n, ws + ${Z}, ws + ${GZ}, cx)`)}
${dispatch("layer_bwd", "P: usize, G: usize, ws: usize, x: usize, y: usize, gy: usize, gx: usize, gld: f64, n: i32, cx: usize", (i) => `L${i}_bwd(P, G, ws, x, y, gy, gx, <F>gld, n, ws + ${Z}, ws + ${GZ}, cx)`)}

export function adam(P: usize, G: usize, M: usize, V: usize, count: i32, lr: f64, b1: f64, b2: f64, eps: f64, wd: f64, t: i32): void {
  adam_step(P, G, M, V, count, lr, b1, b2, eps, wd, t);
}
export function grad_sqnorm(G: usize, count: i32): f64 { return sqnorm(G, count); }
export function scale(G: usize, count: i32, s: f64): void { scale_inplace(G, count, s); }
export function first_nonfinite(p: usize, count: i32): i32 { return lib_first_nonfinite(p, count); }
export function zero_buf(p: usize, count: i32): void { zero(p, count); }
export function add_buf(dst: usize, src: usize, count: i32): void { net_add(dst, src, count); }
`;
  return { code: main, wsBytes: align(ws), wsZ: Z, wsGZ: GZ, layers: acts.map((act, index) => ({ index, act })), missing, bodies: bodyList.length, dataInit, bwdInv };
}

/** Generate the module's AssemblyScript for a checked flow. */
export function generateModule(ir: IRFlow, reg: Registry, opts: GenOptions): GeneratedModule {
  const recompute = !!opts.recompute;
  const refused = recompute ? recomputeRefusals(ir) : [];
  let chunk = opts.chunk;
  if (!chunk) {
    // Measure the per-row workspace with two trial chunk sizes, then fit the budget.
    const a = emitAll(ir, reg, opts.precision, 8, recompute).wsBytes;
    const b = emitAll(ir, reg, opts.precision, 16, recompute).wsBytes;
    const perRow = Math.max(1, (b - a) / 8);
    const fixed = Math.max(0, a - 8 * perRow);
    chunk = Math.floor((WS_BUDGET - fixed) / perRow);
    chunk = Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, chunk));
    if (chunk >= 8) chunk -= chunk % 8;
  }
  const e = emitAll(ir, reg, opts.precision, chunk, recompute);
  return {
    source: e.code, chunk, workspaceBytes: e.wsBytes, wsZ: e.wsZ, wsGZ: e.wsGZ, layers: e.layers, missing: e.missing,
    bodies: e.bodies, dataInit: e.dataInit, bwdInv: e.bwdInv, recompute, refused,
  };
}

/** Layers the recompute walk cannot handle: it needs both directions of every layer in closed
 *  form (the backward rebuilds inputs with the inverse, the backward of the inverse rebuilds
 *  outputs with the forward). Iterative or missing directions are refused rather than silently
 *  stored, so `--recompute` always means memory flat in depth. */
function recomputeRefusals(ir: IRFlow): { index: number; direction: string; kind: string }[] {
  const out: { index: number; direction: string; kind: string }[] = [];
  for (const l of ir.layers) {
    for (const dir of ["inverse", "forward"] as const) {
      const side = l.direction[dir];
      if (side.kind !== "analytic") {
        out.push({ index: l.index, direction: dir, kind: side.kind === "none" ? "unavailable" : side.kind });
        break;
      }
    }
  }
  return out;
}
