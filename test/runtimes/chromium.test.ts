/**
 * @fileoverview Headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core): a page served from 127.0.0.1 imports the bundled runtime
 * as an ES module, streams the bundled module into a WebAssembly.Module,
 * samples and scores — exactly as Node does, bit for bit. And the compiler,
 * bundled for a browser the way the README says, compiles a spec in the page
 * to the same bytes as in Node.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { build } from "esbuild";
import { chromium, type BrowserContext } from "playwright-core";
import { compile } from "../../compiler/index.ts";
import { diskCache } from "../../compiler/cli/cache.ts";
import { buildCompiler } from "../../scripts/build.mjs";
import { POINTS, SAMPLE, bits, buildAll, root, type Built } from "./fixture.ts";

const CHROMIUM = "/usr/bin/chromium";
const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

let built: Built;
let server: Server;
let context: BrowserContext | null = null;
let url = "";

beforeAll(async () => {
  built = await buildAll("chromium");
  writeFileSync(join(built.dir, "index.html"), `<!doctype html>
<meta charset="utf-8">
<title>flowc in a browser</title>
<link rel="icon" href="data:,">
<script type="module">
  import { loadFlow } from "./runtime.js";
  try {
    const flow = await loadFlow(await WebAssembly.compileStreaming(fetch("./model.wasm")));
    const fromBytes = await loadFlow(new Uint8Array(await (await fetch("./model.wasm")).arrayBuffer()));
    const run = (f) => ({
      sample: Array.from(f.sample(${SAMPLE.n}, { seed: ${SAMPLE.seed}, temperature: ${SAMPLE.temperature} })),
      logProb: Array.from(f.logProb(Float32Array.from(${JSON.stringify(Array.from(POINTS))}))),
    });
    window.result = { module: run(flow), bytes: run(fromBytes) };
  } catch (e) {
    window.result = { error: String(e && e.stack || e) };
  }
</script>`);
  // The compiler page: dist/compiler.js bundled for a browser with the Node-only modules external.
  await buildCompiler(join(built.dir, "compiler.js"));
  writeFileSync(join(built.dir, "compile-app.js"), `import { compile } from "./compiler.js";\nwindow.compileFlow = compile;\n`);
  await build({
    entryPoints: [join(built.dir, "compile-app.js")],
    outfile: join(built.dir, "compile-app.bundle.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    external: ["fs", "module", "path", "url", "node:*"],
    nodePaths: [join(root, "node_modules")],
    logLevel: "error",
  });
  writeFileSync(join(built.dir, "compile.html"), `<!doctype html>
<meta charset="utf-8">
<title>flowc compiler in a browser</title>
<link rel="icon" href="data:,">
<script type="module" src="./compile-app.bundle.js"></script>`);
  server = createServer((req, res) => {
    const path = normalize(join(built.dir, new URL(req.url ?? "/", "http://x").pathname.replace(/^\/$/, "/index.html")));
    if (!path.startsWith(built.dir)) return res.writeHead(403).end();
    try {
      const body = readFileSync(path);
      res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const profile = join(built.dir, "profile");
  mkdirSync(profile);
  // A persistent context is how playwright takes a fresh --user-data-dir.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await context?.close();
  await new Promise((ok) => server?.close(ok));
  if (built) rmSync(built.dir, { recursive: true, force: true });
});

describe("headless Chromium", () => {
  it("a page loads the runtime and the module, samples and scores exactly as Node does", async () => {
    const page = await context!.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 60_000 });
    const result = await page.evaluate(() => (window as unknown as { result: Record<string, { sample: number[]; logProb: number[] }> & { error?: string } }).result);
    expect(result.error).toBeUndefined();
    expect(problems).toEqual([]);
    for (const how of ["module", "bytes"]) {
      expect(bits(result[how].sample)).toEqual(bits(built.expected.sample));
      expect(bits(result[how].logProb)).toEqual(bits(built.expected.logProb));
    }
  });

  it("the compiler bundled for a browser compiles moons.flow in the page to the same bytes as Node", async () => {
    const source = readFileSync(join(root, "spec-examples/moons.flow"), "utf8");
    const page = await context!.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(String(e)));
    await page.goto(`${url}compile.html`);
    await page.waitForFunction(() => typeof (window as unknown as { compileFlow?: unknown }).compileFlow === "function", undefined, { timeout: 60_000 });
    const inPage = await page.evaluate(async (src) => {
      const compileFlow = (window as unknown as { compileFlow: typeof compile }).compileFlow;
      const r = await compileFlow(src, { filename: "moons.flow" });
      return { wasm: r.wasm ? Array.from(r.wasm) : null, diagnostics: r.diagnostics.map((d) => d.code) };
    }, source);
    expect(problems).toEqual([]);
    expect(inPage.diagnostics).toEqual([]);
    const inNode = await compile(source, { filename: "moons.flow", cache: diskCache() });
    expect(inPage.wasm).not.toBeNull();
    expect(Buffer.from(inPage.wasm!).equals(Buffer.from(inNode.wasm!))).toBe(true);
  }, 300_000);
});
