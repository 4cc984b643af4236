/**
 * @fileoverview Deno (the `deno` npm package): the bundled runtime loads a
 * bundled module read with Deno.readFile, from bytes and from a precompiled
 * WebAssembly.Module, and samples and scores exactly as Node does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { POINTS, SAMPLE, bits, buildAll, root, type Built } from "./fixture.ts";

let built: Built;
beforeAll(async () => {
  built = await buildAll("deno");
});
afterAll(() => {
  if (built) rmSync(built.dir, { recursive: true, force: true });
});

describe("Deno", () => {
  it("samples and log-densities equal Node's bit for bit", () => {
    writeFileSync(join(built.dir, "main.js"), `
      import { loadFlow, FlowcInputError } from "./runtime.js";
      const bytes = await Deno.readFile(new URL("./model.wasm", import.meta.url));
      const out = {};
      for (const [how, wasm] of [["bytes", bytes], ["module", await WebAssembly.compile(bytes)]]) {
        const flow = await loadFlow(wasm);
        out[how] = {
          sample: Array.from(flow.sample(${SAMPLE.n}, { seed: ${SAMPLE.seed}, temperature: ${SAMPLE.temperature} })),
          logProb: Array.from(flow.logProb(Float32Array.from(${JSON.stringify(Array.from(POINTS))}))),
        };
        try { flow.logProb(Float32Array.from([1, NaN])); } catch (e) { out[how].refusal = e instanceof FlowcInputError ? e.code : String(e); }
      }
      console.log(JSON.stringify(out));
    `);
    const denoDir = join(built.dir, "deno-dir");
    mkdirSync(denoDir);
    const r = spawnSync(join(root, "node_modules/.bin/deno"), ["run", "--no-config", "--no-prompt", `--allow-read=${built.dir}`, "main.js"], {
      cwd: built.dir,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    });
    expect(r.error, "the deno binary must be installed (npm ci installs it)").toBeUndefined();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    for (const how of ["bytes", "module"]) {
      expect(bits(out[how].sample)).toEqual(bits(built.expected.sample));
      expect(bits(out[how].logProb)).toEqual(bits(built.expected.logProb));
      expect(out[how].refusal).toBe("FLOW662");
    }
  });
});
