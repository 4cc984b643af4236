/**
 * @fileoverview `compile()`: spec source → checked IR → AssemblyScript →
 * wasm bytes with the `flowc.manifest` section. Errors are returned as
 * diagnostics, never thrown.
 */
import type { Diagnostic } from "../diagnostics/types.ts";
import { diag } from "../diagnostics/catalogue.ts";
import type { IRFlow } from "../ir/types.ts";
import { check } from "../check/api.ts";
import { layers } from "../layers/index.ts";
import { nets } from "../layers/nets/index.ts";
import { bases } from "../layers/bases/index.ts";
import { generateModule } from "./module.ts";
import { ASC_FLAGS, SKIPPED_PASSES, compileAssemblyScript } from "./asc.ts";
import { runtimeLibrary } from "./runtime-lib.ts";
import { sha256 } from "../ir/hash.ts";
import { FLOWC_VERSION } from "../version.ts";
import { appendCustomSection } from "./wasm-sections.ts";
import type { Manifest } from "../../runtime-wasm/host/manifest.ts";
import { buildManifest } from "./manifest.ts";
import { MANIFEST_SECTION } from "../../runtime-wasm/host/manifest.ts";
import { RELAXED_FLAGS, withRelaxedBuild } from "./relaxed.ts";

export interface CompileOptions {
  filename?: string;
  precision?: "f32" | "f64";
  /** Rows per chunk; chosen from the workspace size when absent. */
  chunk?: number;
  /** Training memory flat in depth: the backward rebuilds each layer's input with its inverse
   *  instead of keeping every activation (ARCHITECTURE.md, "Recompute"). */
  recompute?: boolean;
  /** A cache of compiled kernels. The key hashes the generated AssemblyScript, the runtime
   *  library and the asc flags, so a cached module is never stale, whatever changed. */
  cache?: ModuleCache;
  /** Also build a relaxed-SIMD variant, embedded in the module and chosen at load where the runtime has relaxed SIMD. */
  relaxedSimd?: boolean;
}

export interface ModuleCache {
  get(key: string): Uint8Array | undefined;
  set(key: string, wasm: Uint8Array): void;
}

export interface CompileResult {
  wasm: Uint8Array | null;
  manifest: Manifest | null;
  diagnostics: Diagnostic[];
  /** The generated AssemblyScript, for debugging (`flowc compile --emit-as`). */
  assemblyScript?: string;
}

export const registry = { layers, nets, bases };

/** Compile a checked IR to wasm. */
export async function compileIR(ir: IRFlow, opts: CompileOptions = {}): Promise<CompileResult> {
  const precision = opts.precision ?? "f32";
  const filename = opts.filename ?? ir.filename;
  let gen;
  try {
    gen = generateModule(ir, registry, { precision, chunk: opts.chunk, recompute: opts.recompute });
  } catch (e) {
    return { wasm: null, manifest: null, diagnostics: [diag("FLOW500", { detail: (e as Error).message }, undefined, { filename })] };
  }
  if (gen.missing.length) {
    const diagnostics = gen.missing.map((m) => diag("FLOW501", { layer: m.kind }, m.index >= 0 ? ir.layers[m.index].span : ir.base.span, { filename }));
    return { wasm: null, manifest: null, diagnostics, assemblyScript: gen.source };
  }
  if (gen.refused.length) {
    const diagnostics = gen.refused.map((r) => diag("FLOW504", { layer: ir.layers[r.index].text, direction: r.direction, how: r.kind }, ir.layers[r.index].span, { filename }));
    return { wasm: null, manifest: null, diagnostics, assemblyScript: gen.source };
  }
  const key = opts.cache ? cacheKey(gen.source, precision) : "";
  const cached = opts.cache?.get(key);
  const res = cached ? { wasm: cached, errors: "" } : await compileAssemblyScript({ "main.ts": gen.source }, "main.ts", precision);
  if (!cached && res.wasm && opts.cache) opts.cache.set(key, res.wasm);
  if (!res.wasm) {
    return { wasm: null, manifest: null, diagnostics: [diag("FLOW502", { detail: res.errors.slice(0, 4000) }, undefined, { filename })], assemblyScript: gen.source };
  }
  const manifest = buildManifest(ir, precision, gen);
  const first = ir.layers[0];
  const dom = first ? registry.layers[first.kind]?.domain?.(first.opts) : undefined;
  if (dom) manifest.inputDomain = { ...dom, layer: first.text };
  manifest.layers.forEach((l, i) => {
    l.dataInit = gen.dataInit[i];
    l.bwdInv = gen.bwdInv[i];
    const hint = registry.layers[l.kind]?.anomaly;
    if (hint) l.anomaly = hint;
  });
  let wasm = appendCustomSection(res.wasm, MANIFEST_SECTION, new TextEncoder().encode(JSON.stringify(manifest)));
  if (opts.relaxedSimd) {
    const relaxed = await withRelaxedBuild(wasm, gen.source, precision, opts.cache ? { store: opts.cache, key: cacheKey(gen.source, precision, RELAXED_FLAGS) } : undefined);
    if (!relaxed.wasm) return { wasm: null, manifest: null, diagnostics: [diag("FLOW502", { detail: relaxed.errors.slice(0, 4000) }, undefined, { filename })], assemblyScript: gen.source };
    wasm = relaxed.wasm;
  }
  return { wasm, manifest, diagnostics: [], assemblyScript: gen.source };
}

function cacheKey(source: string, precision: string, extraFlags: string[] = []): string {
  const lib = Object.entries(runtimeLibrary()).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, t]) => `${n}\n${t}`).join("\n");
  return sha256(new TextEncoder().encode([FLOWC_VERSION, precision, [...ASC_FLAGS, ...extraFlags].join(" "), SKIPPED_PASSES.join(" "), source, lib].join("\n\u0000")));
}

/** Check and compile a spec. Never throws. */
export async function compile(source: string, opts: CompileOptions = {}): Promise<CompileResult> {
  try {
    const checked = check(source, { filename: opts.filename });
    if (!checked.ok || !checked.ir) return { wasm: null, manifest: null, diagnostics: checked.diagnostics };
    const res = await compileIR(checked.ir, opts);
    return { ...res, diagnostics: [...checked.diagnostics.filter((d) => d.severity !== "error"), ...res.diagnostics] };
  } catch (e) {
    return { wasm: null, manifest: null, diagnostics: [diag("FLOW500", { detail: (e as Error).stack ?? String(e) }, undefined, { filename: opts.filename })] };
  }
}
