/**
 * @fileoverview `flowc compile SPEC -o model.wasm`: check and compile a spec to
 * a self-describing module (kernels + flowc.manifest section).
 */
import type { Command } from "commander";
import { writeFileAtomic } from "../io/atomic.ts";
import { compileSpecFile, describeError, fail, parseInteger } from "../shared.ts";
import { compile } from "../../codegen/compile.ts";
import { readFileSync } from "node:fs";
import { bundleModule } from "./bundle.ts";
import { readInputFile } from "../io/read.ts";

export function register(program: Command): void {
  program
    .command("compile")
    .description("compile a .flow spec to a WebAssembly module")
    .argument("<spec>", ".flow file")
    .requiredOption("-o, --out <file>", "output .wasm")
    .option("--precision <p>", "f32 or f64 (f64 is for numeric checks)", "f32")
    .option("--chunk <rows>", "rows per kernel call (default: fitted to a 48 MiB workspace)")
    .option("--emit-as <file>", "also write the generated AssemblyScript")
    .option("--weights <file>", "bundle these trained weights (safetensors) into the module")
    .option("--recompute", "training memory flat in depth: the backward rebuilds activations with the inverse instead of storing them")
    .option("--relaxed-simd", "also embed a relaxed-SIMD build (fused multiply-add), used where the runtime supports relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd)")
    .action(async (spec: string, o: { out: string; precision: string; chunk?: string; emitAs?: string; weights?: string; relaxedSimd?: boolean; recompute?: boolean }) => {
      try {
        if (o.precision !== "f32" && o.precision !== "f64") fail(`--precision must be f32 or f64, got ${o.precision}`);
        const chunk = o.chunk ? parseInteger(o.chunk, "--chunk", 1) : undefined;
        const t0 = performance.now();
        const compiled = await compileSpecFile(spec, { precision: o.precision as "f32" | "f64", chunk, relaxedSimd: o.relaxedSimd, recompute: o.recompute });
        const manifest = compiled.manifest;
        const ms = performance.now() - t0;
        const wasm = o.weights ? await bundleModule(compiled.wasm, readInputFile(o.weights)) : compiled.wasm;
        writeFileAtomic(o.out, wasm);
        if (o.emitAs) {
          const res = await compile(readFileSync(spec, "utf8"), { filename: spec, precision: o.precision as "f32" | "f64", chunk, recompute: o.recompute });
          writeFileAtomic(o.emitAs, new TextEncoder().encode(res.assemblyScript ?? ""));
        }
        process.stderr.write(`${o.out}: ${(wasm.length / 1024).toFixed(1)} KiB, ${manifest.layers.length} layers, ${manifest.paramCount} parameters, chunk ${manifest.chunk}, compiled in ${ms.toFixed(0)} ms\n`);
      } catch (e) {
        fail(describeError(e));
      }
    });
}
