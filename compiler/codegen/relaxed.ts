/**
 * @fileoverview Builds the optional relaxed-SIMD variant of a flow (compile
 * option `relaxedSimd`): the same generated AssemblyScript compiled with
 * relaxed SIMD enabled, so the runtime library's multiply-adds become
 * f32x4.relaxed_madd (fused where the CPU has FMA), then embedded into the
 * plain module as a custom section. runtime-wasm/host/relaxed.ts picks it
 * at load when the runtime supports relaxed SIMD; other runtimes never see
 * a relaxed instruction.
 */
import { compileAssemblyScript, type AscResult, type Precision } from "./asc.ts";
import { appendCustomSection } from "./wasm-sections.ts";
import type { ModuleCache } from "./compile.ts";
import { RELAXED_SECTION, VARIANT_SECTION } from "../../runtime-wasm/host/relaxed.ts";

/** asc flags added for the relaxed build (ASC_FEATURE_RELAXED_SIMD is then true in the library). */
export const RELAXED_FLAGS = ["--enable", "relaxed-simd"];

/**
 * `plain` (a finished module) with the relaxed build of `source` embedded,
 * or the asc errors when that build fails. The relaxed build is cached like
 * the plain one, under a key that includes its flags.
 */
export async function withRelaxedBuild(plain: Uint8Array, source: string, precision: Precision, cache?: { store: ModuleCache; key: string }): Promise<AscResult> {
  const cached = cache?.store.get(cache.key);
  const res = cached ? { wasm: cached, errors: "" } : await compileAssemblyScript({ "main.ts": source }, "main.ts", precision, RELAXED_FLAGS);
  if (!res.wasm) return res;
  if (!cached && cache) cache.store.set(cache.key, res.wasm);
  const relaxed = appendCustomSection(res.wasm, VARIANT_SECTION, new TextEncoder().encode("relaxed-simd"));
  return { wasm: appendCustomSection(plain, RELAXED_SECTION, relaxed), errors: "" };
}
