/**
 * @fileoverview `flowc verify SPEC`: compile the flow in f64 with random
 * parameters and prove every layer numerically (DESIGN §10): inverse error,
 * log-det against a finite-difference Jacobian, gradients against central
 * differences. Users writing specs get the proof the test suite has.
 */
import type { Command } from "commander";
import { loadFlow } from "../../../runtime-wasm/host/flow.ts";
import { checkLayer, layerInputs, mulberry, gaussian, type LayerCheckResult } from "../numeric.ts";
import { compileSpecFile, describeError, fail, parseInteger } from "../shared.ts";

export const TOLERANCES = { inverse: 1e-9, logdetSum: 1e-9, logdet: 1e-6, grad: 1e-5 };

export function passes(r: LayerCheckResult): boolean {
  const ok = (v: number, tol: number) => Number.isNaN(v) || v <= tol;
  return ok(r.inverseErr, TOLERANCES.inverse) && ok(r.logdetSumErr, TOLERANCES.logdetSum) && ok(r.logdetErr, TOLERANCES.logdet) && ok(r.gradInputErr, TOLERANCES.grad) && ok(r.gradParamErr, TOLERANCES.grad);
}

export function register(program: Command): void {
  program
    .command("verify")
    .description("numerically check every layer of a flow (inverse, log-det, gradients) in f64")
    .argument("<spec>", ".flow file")
    .option("--seed <s>", "seed for parameters and inputs", "1")
    .option("--rows <n>", "rows per check", "4")
    .option("--json", "print the table as JSON")
    .action(async (spec: string, o: { seed: string; rows: string; json?: boolean }) => {
      try {
        const seed = parseInteger(o.seed, "--seed");
        const rows = parseInteger(o.rows, "--rows", 1);
        const { wasm } = await compileSpecFile(spec, { precision: "f64", chunk: Math.max(8, rows) });
        const flow = await loadFlow(wasm);
        flow.initialize({ seed });
        // Random parameters: zero-initialised conditioners would make the checks trivial.
        const g = gaussian(mulberry(seed + 99));
        const P = flow.getParams();
        for (const p of flow.manifest.params) if (p.trainable) for (let k = 0; k < p.size; k++) P[p.offset + k] += 0.1 * g();
        flow.setParams(P);
        const x = Float64Array.from({ length: rows * flow.eventSize }, g);
        const inputs = layerInputs(flow, x);
        const results = flow.manifest.layers.map((l) => checkLayer(flow, l.index, inputs[l.index], { seed: seed + l.index }));
        const allOk = results.every(passes);
        if (o.json) process.stdout.write(JSON.stringify({ ok: allOk, tolerances: TOLERANCES, layers: results }, null, 2) + "\n");
        else {
          const f = (v: number) => (Number.isNaN(v) ? "—" : v.toExponential(1));
          const head = ["#", "layer", "inverse", "logdet sum", "logdet vs J", "grad x", "grad θ", ""];
          const body = results.map((r) => [String(r.index), r.text, f(r.inverseErr), f(r.logdetSumErr), f(r.logdetErr), f(r.gradInputErr), f(r.gradParamErr), passes(r) ? "ok" : "FAIL"]);
          const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
          const line = (c: string[]) => c.map((s, i) => s.padEnd(w[i])).join("  ");
          process.stdout.write([line(head), ...body.map(line)].join("\n") + "\n");
          process.stdout.write(allOk ? `all ${results.length} layers pass (f64; tolerances ${JSON.stringify(TOLERANCES)})\n` : "some layers FAIL\n");
        }
        if (!allOk) process.exitCode = 1;
      } catch (e) {
        fail(describeError(e));
      }
    });
}
