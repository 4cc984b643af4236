/**
 * @fileoverview glow-mnist.flow training speed of the relaxed-SIMD build
 * (compile option relaxedSimd), 1 and 2 threads, batch 64. bench/run.ts runs
 * it in a child process under `node --experimental-wasm-relaxed-simd` (Node 20
 * keeps relaxed SIMD behind that flag) and reads the one JSON line it prints:
 * { relaxed, ips1, ips2, threads2 }. `relaxed` says whether the relaxed build
 * was actually the one instantiated. Usage: glow-relaxed.ts [steps]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { compile } from "../compiler/codegen/compile.ts";
import { trainSpeed as measure } from "./glow-speed.ts";
import { VARIANT_SECTION } from "../runtime-wasm/host/relaxed.ts";
import { loadImageSet } from "../compiler/cli/io/builtin.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const steps = Number(process.argv[2] ?? 12);
const res = await compile(readFileSync(join(root, "spec-examples/glow-mnist.flow"), "utf8"), { filename: "glow-mnist.flow", relaxedSimd: true });
if (!res.wasm) throw new Error(res.diagnostics.map((d) => d.message).join("\n"));
const data = loadImageSet("mnist", "train").data;
const B = 64, D = 784;
let relaxed = false;

/** Training images/s with `threads`, measured as bench/run.ts measures the plain build. */
async function trainSpeed(threads: number): Promise<{ ips: number; threads: number }> {
  const r = await measure(res.wasm!, data, { threads, steps, batch: B, eventSize: D });
  relaxed = WebAssembly.Module.customSections(r.module, VARIANT_SECTION).length === 1;
  return r;
}

const one = await trainSpeed(1);
const two = await trainSpeed(2);
console.log(JSON.stringify({ relaxed, ips1: one.ips, ips2: two.ips, threads2: two.threads }));
