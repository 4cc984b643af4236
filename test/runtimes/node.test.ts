/**
 * @fileoverview Node: the bundled `flowc/runtime` (one file, no imports) loads
 * a bundled module from bytes and from a precompiled WebAssembly.Module in a
 * separate Node process and reproduces the in-process answers bit for bit.
 * Also the load-time checks of a bundle: a module of another flowc version
 * (FLOW655) and weights of another spec (FLOW670) are refused with both sides named.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compile } from "../../compiler/index.ts";
import { appendCustomSection } from "../../compiler/codegen/wasm-sections.ts";
import { diskCache } from "../../compiler/cli/cache.ts";
import { FLOWC_VERSION } from "../../compiler/version.ts";
import { FlowcInputError, loadFlow } from "../../runtime-wasm/host/index.ts";
import { MANIFEST_SECTION, checkModuleVersion } from "../../runtime-wasm/host/manifest.ts";
import { WEIGHTS_SECTION } from "../../runtime-wasm/host/flow.ts";
import { POINTS, SAMPLE, bits, buildAll, root, type Built } from "./fixture.ts";

let built: Built;
beforeAll(async () => {
  built = await buildAll("node");
});
afterAll(() => {
  if (built) rmSync(built.dir, { recursive: true, force: true });
});

/** Node 22, where the machine has it (`$FLOWC_NODE22`, or `node22` on the PATH): the same script must give the same bits. */
const node22 = process.env.FLOWC_NODE22 ?? ["/usr/local/bin/node22", "/usr/bin/node22"].find((p) => existsSync(p));

function runInNode(node: string): Record<string, { sample: number[]; logProb: number[] }> {
  const r = spawnSync(node, [join(built.dir, "main.mjs")], { encoding: "utf8", timeout: 120_000 });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

describe("Node", () => {
  it("the bundled runtime imports nothing, so it loads as is anywhere", () => {
    const text = readFileSync(built.runtime, "utf8");
    expect(text).not.toMatch(/^\s*import\s/m);
    expect(text).not.toMatch(/\bimport\(\s*["']/);
    // (Node's worker_threads is looked up at run time through process.getBuiltinModule, never imported;
    // scripts/build.mjs also refuses any Node built-in in the bundle's import graph.)
  });

  it("a separate Node process gives the same samples and log-densities, from bytes and from a WebAssembly.Module", () => {
    const script = join(built.dir, "main.mjs");
    writeFileSync(script, `
      import { readFileSync } from "node:fs";
      import { loadFlow } from "./runtime.js";
      const bytes = readFileSync(new URL("./model.wasm", import.meta.url));
      const out = {};
      for (const [how, wasm] of [["bytes", new Uint8Array(bytes)], ["module", await WebAssembly.compile(bytes)]]) {
        const flow = await loadFlow(wasm);
        out[how] = {
          sample: Array.from(flow.sample(${SAMPLE.n}, { seed: ${SAMPLE.seed}, temperature: ${SAMPLE.temperature} })),
          logProb: Array.from(flow.logProb(Float32Array.from(${JSON.stringify(Array.from(POINTS))}))),
        };
      }
      process.stdout.write(JSON.stringify(out));
    `);
    const out = runInNode(process.execPath);
    for (const how of ["bytes", "module"]) {
      expect(bits(out[how].sample)).toEqual(bits(built.expected.sample));
      expect(bits(out[how].logProb)).toEqual(bits(built.expected.logProb));
    }
    expect(built.expected.sample).toHaveLength(SAMPLE.n * 2);
    expect(built.expected.logProb.every(Number.isFinite)).toBe(true);
  });

  it.skipIf(!node22)("Node 22 gives the same bits", () => {
    const out = runInNode(node22!);
    for (const how of ["bytes", "module"]) {
      expect(bits(out[how].sample)).toEqual(bits(built.expected.sample));
      expect(bits(out[how].logProb)).toEqual(bits(built.expected.logProb));
    }
  });
});

/** The module with its manifest (and weights) sections removed: custom sections are id 0. */
function withoutSections(wasm: Uint8Array, names: string[]): Uint8Array {
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  let p = 8;
  const uleb = () => {
    let v = 0, shift = 0, b;
    do { b = wasm[p++]; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
    return v;
  };
  while (p < wasm.length) {
    const start = p;
    const id = wasm[p++];
    const size = uleb();
    const body = p;
    p += size;
    if (id === 0) {
      const q = p;
      p = body;
      const len = uleb();
      const name = new TextDecoder().decode(wasm.subarray(p, p + len));
      p = q;
      if (names.includes(name)) continue;
    }
    parts.push(wasm.subarray(start, p));
  }
  const out = new Uint8Array(parts.reduce((s, x) => s + x.length, 0));
  let o = 0;
  for (const x of parts) { out.set(x, o); o += x.length; }
  return out;
}

function manifestOf(wasm: Uint8Array): Record<string, unknown> {
  const [s] = WebAssembly.Module.customSections(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), MANIFEST_SECTION);
  return JSON.parse(new TextDecoder().decode(s));
}

function withManifest(wasm: Uint8Array, edit: (m: Record<string, unknown>) => void): Uint8Array {
  const m = manifestOf(wasm);
  edit(m);
  return appendCustomSection(withoutSections(wasm, [MANIFEST_SECTION]), MANIFEST_SECTION, new TextEncoder().encode(JSON.stringify(m)));
}

async function refusal(p: Promise<unknown>): Promise<FlowcInputError> {
  const e = await p.then(() => null, (err) => err);
  expect(e).toBeInstanceOf(FlowcInputError);
  return e as FlowcInputError;
}

describe("loading a bundle checks its version and its weights", () => {
  const [major, minor] = FLOWC_VERSION.split(".").map(Number);

  it("refuses a module of another flowc major.minor with FLOW655 naming both versions", async () => {
    for (const other of [`${major}.${minor + 1}.0`, `${major + 1}.${minor}.0`, "unknown"]) {
      const e = await refusal(loadFlow(withManifest(built.wasm, (m) => { m.compiler = other; })));
      expect(e.code).toBe("FLOW655");
      expect(e.message).toContain(`built by flowc ${other}`);
      expect(e.message).toContain(`this runtime is flowc ${FLOWC_VERSION}`);
      expect(e.message).toMatch(/recompile/);
    }
  });

  it("refuses another manifest format even from the same compiler version", async () => {
    const e = await refusal(loadFlow(withManifest(built.wasm, (m) => { m.formatVersion = 2; })));
    expect(e.code).toBe("FLOW655");
    expect(e.message).toContain("manifest format 2");
  });

  it("accepts another patch release of the same major.minor", async () => {
    const flow = await loadFlow(withManifest(built.wasm, (m) => { m.compiler = `${major}.${minor}.${99}`; }));
    expect(bits(flow.sample(SAMPLE.n, SAMPLE))).toEqual(bits(built.expected.sample));
    expect(() => checkModuleVersion({ compiler: "1.4.2", formatVersion: 1 }, "1.4.0")).not.toThrow();
    expect(() => checkModuleVersion({ compiler: "1.4.2", formatVersion: 1 }, "1.5.0")).toThrow(/flowc 1\.4\.2.*flowc 1\.5\.0/);
  });

  it("refuses bundled weights of another spec with FLOW670 naming both hashes", async () => {
    // Same tensor names and shapes, different spec (another scale function): only the hash tells them apart.
    const other = readFileSync(join(root, "spec-examples/moons.flow"), "utf8").replace("net=mlp", "scale=exp net=mlp");
    const { wasm: otherWasm, manifest: otherManifest } = await compile(other, { filename: "other.flow", cache: diskCache() });
    const foreign = await loadFlow(otherWasm!);
    foreign.initialize({ seed: 3 });
    const bytes = appendCustomSection(withoutSections(built.wasm, [WEIGHTS_SECTION]), WEIGHTS_SECTION, foreign.saveWeights());
    const e = await refusal(loadFlow(bytes));
    expect(e.code).toBe("FLOW670");
    const own = manifestOf(built.wasm).hash as string;
    expect(e.message).toContain(own.slice(0, 12));
    expect(e.message).toContain(otherManifest!.hash.slice(0, 12));
  });
});
