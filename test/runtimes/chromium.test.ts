/**
 * @fileoverview Headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core): a page served from 127.0.0.1 imports the bundled runtime
 * as an ES module, streams the bundled module into a WebAssembly.Module,
 * samples and scores — exactly as Node does, bit for bit; a Worker in a
 * cross-origin isolated page runs the flow on 2 threads (Web Workers) with
 * Node's 2-thread results, bit for bit. And the compiler,
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
import { POINTS, SAMPLE, THREAD_RUN_JS, bits, buildAll, nodeThreadRun, root, threadData as makeThreadData, type Built, type ThreadRun } from "./fixture.ts";

const CHROMIUM = "/usr/bin/chromium";
const TYPES: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

let built: Built;
let server: Server;
let context: BrowserContext | null = null;
let url = "";

let threadData: Float32Array;

/**
 * threads.html starts a module Worker (threads on Web Workers need one: a page's main thread may
 * not block on Atomics.wait) that loads the flow on 2 threads and on 1, and reports what each did.
 * The main thread also asks for 2 threads, which must fall back to one with a note.
 */
async function threadPages(dir: string): Promise<void> {
  threadData = makeThreadData();
  writeFileSync(join(dir, "data.bin"), threadData);
  writeFileSync(join(dir, "threads-worker.js"), `
import { loadFlow } from "./runtime.js";
${THREAD_RUN_JS}
const bytes = new Uint8Array(await (await fetch("./model.wasm")).arrayBuffer());
const data = new Float32Array(await (await fetch("./data.bin")).arrayBuffer());
try {
  const two = { ...(await runOn(loadFlow, bytes, data, 2)), isolated: self.crossOriginIsolated };
  postMessage({ two, one: await runOn(loadFlow, bytes, data, 1) });
} catch (e) {
  postMessage({ error: String(e && e.stack || e) });
}
`);
  writeFileSync(join(dir, "threads.html"), `<!doctype html>
<meta charset="utf-8">
<title>flowc threads in a browser</title>
<link rel="icon" href="data:,">
<script type="module">
  import { loadFlow } from "./runtime.js";
  const bytes = new Uint8Array(await (await fetch("./model.wasm")).arrayBuffer());
  const main = await loadFlow(bytes, { threads: 2 });
  const w = new Worker("./threads-worker.js", { type: "module" });
  w.onmessage = (ev) => { window.result = { ...ev.data, main: { threads: main.threads, notes: main.notes } }; };
  w.onerror = (ev) => { window.result = { error: ev.message || "worker error" }; };
</script>`);
}

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
  await threadPages(built.dir);
  server = createServer((req, res) => {
    // Under /iso/ the same files come with the headers that make a page cross-origin isolated.
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    const isolated = pathname.startsWith("/iso/");
    const path = normalize(join(built.dir, pathname.replace(/^\/iso\//, "/").replace(/^\/$/, "/index.html")));
    if (!path.startsWith(built.dir)) return res.writeHead(403).end();
    try {
      const body = readFileSync(path);
      const headers: Record<string, string> = { "content-type": TYPES[extname(path)] ?? "application/octet-stream" };
      if (isolated) Object.assign(headers, { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" });
      res.writeHead(200, headers).end(body);
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

  it("threads on Web Workers: a Worker in a cross-origin isolated page trains, scores and samples on 2 threads as Node does, bit for bit", async () => {
    const inPage = async (path: string) => {
      const page = await context!.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(String(e)));
      await page.goto(`${url}${path}`);
      await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, undefined, { timeout: 120_000 });
      const r = await page.evaluate(() => (window as unknown as { result: { two: ThreadRun & { isolated: boolean }; one: ThreadRun; main: { threads: number; notes: string[] }; error?: string } }).result);
      await page.close();
      expect(r.error).toBeUndefined();
      expect(problems).toEqual([]);
      return r;
    };
    const [n1, n2] = [await nodeThreadRun(built.wasm, threadData, 1), await nodeThreadRun(built.wasm, threadData, 2)];
    expect([n1.threads, n2.threads]).toEqual([1, 2]);

    const iso = await inPage("iso/threads.html");
    expect(iso.two.isolated).toBe(true);
    expect(iso.two.threads).toBe(2);
    expect(iso.two.notes).toEqual([]);
    // Scoring and sampling do not depend on the thread count; training is deterministic for a given count.
    for (const r of [iso.two, iso.one]) {
      expect(bits(r.logProb)).toEqual(bits(n1.logProb));
      expect(bits(r.sample)).toEqual(bits(n1.sample));
    }
    expect(iso.two.losses).toEqual(n2.losses);
    expect(bits(iso.two.params)).toEqual(bits(n2.params));
    expect(bits(iso.one.params)).toEqual(bits(n1.params));
    // The page's main thread may not block: it runs on one thread and says why.
    expect(iso.main.threads).toBe(1);
    expect(iso.main.notes.join(" ")).toMatch(/Atomics\.wait.*inside a Worker/);

    // Without the isolation headers there is no shared memory: one thread, a note, the same answers.
    const plain = await inPage("threads.html");
    expect(plain.two.threads).toBe(1);
    expect(plain.two.notes.join(" ")).toMatch(/cross-origin isolat|SharedArrayBuffer/);
    expect(bits(plain.two.params)).toEqual(bits(n1.params));
  }, 300_000);

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
