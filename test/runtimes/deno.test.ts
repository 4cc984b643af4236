/**
 * @fileoverview Deno (the `deno` npm package): the bundled runtime loads a
 * bundled module read with Deno.readFile, from bytes and from a precompiled
 * WebAssembly.Module, and samples and scores exactly as Node does; on 2
 * threads it trains, scores and samples as Node does on 2, bit for bit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { POINTS, SAMPLE, THREAD_RUN_JS, bits, buildAll, nodeThreadRun, root, threadData, type Built } from "./fixture.ts";

let built: Built;
beforeAll(async () => {
  built = await buildAll("deno");
});
afterAll(() => {
  if (built) rmSync(built.dir, { recursive: true, force: true });
});

function deno(script: string) {
  const denoDir = join(built.dir, "deno-dir");
  mkdirSync(denoDir, { recursive: true });
  const r = spawnSync(join(root, "node_modules/.bin/deno"), ["run", "--no-config", "--no-prompt", `--allow-read=${built.dir}`, script], {
    cwd: built.dir,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  });
  expect(r.error, "the deno binary must be installed (npm ci installs it)").toBeUndefined();
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

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
    const out = deno("main.js");
    for (const how of ["bytes", "module"]) {
      expect(bits(out[how].sample)).toEqual(bits(built.expected.sample));
      expect(bits(out[how].logProb)).toEqual(bits(built.expected.logProb));
      expect(out[how].refusal).toBe("FLOW662");
    }
  });

  it("runs on 2 threads (its worker_threads) with Node's 2-thread results, bit for bit", async () => {
    const data = threadData();
    writeFileSync(join(built.dir, "data.bin"), data);
    writeFileSync(join(built.dir, "threads.js"), `
      import { loadFlow } from "./runtime.js";
      ${THREAD_RUN_JS}
      const bytes = await Deno.readFile(new URL("./model.wasm", import.meta.url));
      const data = new Float32Array((await Deno.readFile(new URL("./data.bin", import.meta.url))).buffer);
      console.log(JSON.stringify(await runOn(loadFlow, bytes, data, 2)));
    `);
    const out = deno("threads.js");
    const node = await nodeThreadRun(built.wasm, data, 2);
    expect(out.notes).toEqual([]);
    expect(out.threads).toBe(2);
    expect(bits(out.logProb)).toEqual(bits(node.logProb));
    expect(bits(out.sample)).toEqual(bits(node.sample));
    expect(out.losses).toEqual(node.losses);
    expect(bits(out.params)).toEqual(bits(node.params));
  });
});
