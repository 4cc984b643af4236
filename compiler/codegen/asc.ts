/**
 * @fileoverview Runs the AssemblyScript compiler in memory: a map of virtual
 * source files in, wasm bytes out. The runtime library in
 * runtime-wasm/assembly/ is served to asc as virtual files too, so no file
 * is ever written and the same code path can run in a browser.
 */
import asc from "assemblyscript/asc";
// The Binaryen instance asc itself uses (one module, so its pass options are shared).
import binaryen from "binaryen";
import { runtimeLibrary } from "./runtime-lib.ts";

export interface AscResult {
  wasm: Uint8Array | null;
  /** asc's stderr (diagnostics) when it failed, else "". */
  errors: string;
}

/** FLOWC_ASC_STATS=1 echoes asc's own output; `process` is absent in browsers and Workers. */
const ascStats = (): boolean => typeof process !== "undefined" && !!process.env?.FLOWC_ASC_STATS;

export type Precision = "f32" | "f64";

/** The flags every flowc module is compiled with (DESIGN §6). `-O2`, not `-O3`: the same kernel
 *  speed (moons and glow-mnist training measured within noise) for a third of Binaryen's time. */
export const ASC_FLAGS = ["-O2", "--runtime", "stub", "--noAssert", "--enable", "simd", "--exportRuntime", "--importMemory", "--maximumMemory", "65536"];

/**
 * Passes of asc's `-O2` pipeline that Binaryen skips for flowc modules: together a fifth of the
 * optimiser's time on glow-mnist (dead-argument elimination alone ≈ 20 %), with kernel speed
 * unchanged in interleaved A/B training (bench/ANALYSIS.md). Skipping passes cannot change what
 * a module computes, only how well it is optimised.
 */
export const SKIPPED_PASSES = ["dae-optimizing", "generate-global-effects", "avoid-reinterprets"];

/** Compiles in flight: the skip list is Binaryen-global, so it is set by the first and cleared by the last. */
let inFlight = 0;

/**
 * Compile `files` (name → AssemblyScript source; names relative, e.g. "main.ts")
 * with entry `entry`. The runtime library is available to them as "./lib/<name>"
 * and the precision alias as "./lib/prec" (`export type F = f32|f64`).
 */
export async function compileAssemblyScript(
  files: Record<string, string>,
  entry: string,
  precision: Precision,
  extraFlags: string[] = [],
): Promise<AscResult> {
  const lib = runtimeLibrary();
  const all: Record<string, string> = { ...files };
  for (const [name, text] of Object.entries(lib)) all[`lib/${name}`] = text;
  all["lib/prec.ts"] = `export type F = ${precision};\n`;
  const out: Record<string, Uint8Array | string> = {};
  let stderr = "";
  const sink = (write: (s: string) => void) => ({ write: (chunk: string | Uint8Array) => { write(typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk)); return true; } });
  if (inFlight++ === 0) for (const pass of SKIPPED_PASSES) binaryen.addPassToSkip(pass);
  let error: Error | null;
  try {
    ({ error } = await asc.main([entry, ...ASC_FLAGS, ...extraFlags, "--outFile", "out.wasm"], {
      readFile: (name: string) => (name in all ? all[name] : null),
      writeFile: (name: string, contents: Uint8Array | string) => { out[name] = contents; },
      listFiles: (dir: string) => Object.keys(all).filter((k) => k.startsWith(dir + "/")).map((k) => k.slice(dir.length + 1)),
      stdout: sink(() => {}) as never,
      stderr: sink((s) => { stderr += s; if (ascStats()) console.error(s); }) as never,
    }));
  } finally {
    if (--inFlight === 0) binaryen.clearPassesToSkip();
  }
  const wasm = out["out.wasm"];
  if (error || !(wasm instanceof Uint8Array)) return { wasm: null, errors: stderr || String(error) };
  return { wasm, errors: "" };
}
