/**
 * @fileoverview `flowc bundle DIR -o model.wasm`: one self-contained module
 * from a run directory — the compiled kernels, the manifest and the trained
 * weights (a `flowc.weights` custom section holding the safetensors file).
 * `loadFlow(bytes)` needs nothing else. Reports the size and load time.
 */
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { appendCustomSection } from "../../codegen/wasm-sections.ts";
import { loadFlow, WEIGHTS_SECTION } from "../../../runtime-wasm/host/flow.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { RUN_FILES, loadRun } from "../run-dir.ts";
import { describeError, fail } from "../shared.ts";

/** Append weights to a compiled module, after checking they load into it. */
export async function bundleModule(wasm: Uint8Array, weights: Uint8Array): Promise<Uint8Array> {
  const check = await loadFlow(wasm);
  check.loadWeights(weights); // throws a FlowcInputError naming the problem (other spec, missing tensor…)
  if (WebAssembly.Module.customSections(check.module, WEIGHTS_SECTION).length) fail("this module already carries weights");
  return appendCustomSection(wasm, WEIGHTS_SECTION, weights);
}

export function register(program: Command): void {
  program
    .command("bundle")
    .description("write one self-contained .wasm: kernels, manifest and trained weights")
    .argument("<dir>", "run directory written by `flowc train`")
    .requiredOption("-o, --out <file>", "output .wasm")
    .action(async (dir: string, o: { out: string }) => {
      try {
        await loadRun(dir); // validates the run directory first
        const bytes = await bundleModule(readFileSync(join(dir, RUN_FILES.model)), readFileSync(join(dir, RUN_FILES.weights)));
        writeFileAtomic(o.out, bytes);
        const t0 = performance.now();
        const flow = await loadFlow(bytes);
        const ms = performance.now() - t0;
        process.stderr.write(`${o.out}: ${(bytes.length / 1024).toFixed(1)} KiB (${flow.manifest.paramCount} parameters), loads in ${ms.toFixed(1)} ms\n`);
      } catch (e) {
        fail(describeError(e));
      }
    });
}
