/**
 * @fileoverview The playground end to end in headless Chromium: the page
 * builds and serves, live diagnostics appear for a broken spec, moons.flow
 * compiles in the browser, a few hundred training steps move the density
 * away from the base (held-out log-likelihood and the heat map), Stop and
 * Continue work, a bad CSV upload names its row and column, and the
 * downloaded bundle loads in Node with the trained weights. Also the page's
 * CSV parser on its own. Chromium missing is a failure, not a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { parseCsv2d } from "../playground/csv.ts";
import { FlowcInputError } from "../runtime-wasm/host/errors.ts";
import { loadFlow, WEIGHTS_SECTION } from "../runtime-wasm/host/flow.ts";
import { sampleToy } from "../runtime-wasm/host/toys.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const CHROMIUM = process.env.FLOWC_CHROMIUM ?? "/usr/bin/chromium";
const moons = readFileSync(join(root, "spec-examples/moons.flow"), "utf8");

function csvError(text: string): FlowcInputError {
  try {
    parseCsv2d(text, "up.csv");
  } catch (e) {
    if (e instanceof FlowcInputError) return e;
    throw e;
  }
  throw new Error("parseCsv2d accepted bad input");
}

describe("playground CSV upload parser", () => {
  it("reads comma- or whitespace-separated rows with an optional header and comments", () => {
    expect(Array.from(parseCsv2d("x,y\n1,2\n# note\n\n-3.5, 4e-1\n", "a.csv"))).toEqual([1, 2, -3.5, 0.4]);
    expect(Array.from(parseCsv2d("\ufeff0.5 1\n2\t-1\n", "b.txt"))).toEqual([0.5, 1, 2, -1]);
  });

  it("names the file, line and column of a bad value", () => {
    const e = csvError("x,y\n1,2\n3,abc\n");
    expect(e.code).toBe("FLOW601");
    expect(e.message).toMatch(/^up\.csv:3:2: cell 'abc' is not a number/);
    expect([e.row, e.column]).toEqual([3, 2]);
    expect(csvError("1,2\nnan,2\n").message).toMatch(/^up\.csv:2:1: .*not finite/);
    expect(csvError("1,2\n1e999,2\n").code).toBe("FLOW602");
    const wide = csvError("1,2\n1,2,3\n");
    expect(wide.code).toBe("FLOW604");
    expect(wide.message).toMatch(/^up\.csv:2: the data have 3 values per row but a 2-D flow needs 2/);
    expect(csvError("# nothing\n\n").code).toBe("FLOW600");
  });
});

describe("playground build script", () => {
  const run = (args: string[]) => new Promise<{ code: number | null; out: string; err: string }>((ok) => {
    const p = spawn(process.execPath, [join(root, "scripts/playground.mjs"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => { out += d; });
    p.stderr.on("data", (d) => { err += d; });
    p.on("exit", (code) => ok({ code, out, err }));
  });

  it("writes the static page with --build-only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flowc-playground-build-"));
    try {
      const r = await run(["--build-only", dir]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^playground built in [\d.]+ s \(\d+ KiB\) → /);
      expect(readdirSync(dir).sort()).toEqual(["index.html", "main.js", "style.css", "worker.js"]);
      expect(readFileSync(join(dir, "index.html"), "utf8")).toContain('<script type="module" src="main.js">');
      // The runtime library is embedded; Node built-ins are reached only through asc's and binaryen's
      // guarded dynamic imports (the browser test checks that the page never fetches them).
      const worker = readFileSync(join(dir, "worker.js"), "utf8");
      expect(worker).toContain("export function adam_step(P: usize");
      expect([...new Set(worker.match(/\bimport\("[\w:]+"\)/g))].sort()).toEqual(['import("fs")', 'import("module")', 'import("node:module")', 'import("path")', 'import("url")']);
      expect(readFileSync(join(dir, "main.js"), "utf8")).not.toMatch(/\bimport\(/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad arguments with a message", async () => {
    const r = await run(["--port", "http"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--port must be an integer in \[0, 65535\], got 'http'/);
    expect((await run(["--bogus"])).err).toMatch(/unknown argument '--bogus'/);
  });
});

describe("playground in headless Chromium", () => {
  let server: ChildProcess | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let url = "";
  const userDir = mkdtempSync(join(tmpdir(), "flowc-playground-"));
  const problems: string[] = [];
  const requested = new Set<string>();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM} (apt-get install chromium, or set FLOWC_CHROMIUM)`);
    server = spawn(process.execPath, [join(root, "scripts/playground.mjs"), "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    // Even if the test process dies before afterAll, the server goes with it.
    process.once("exit", () => server?.kill());
    let out = "", err = "";
    server.stderr!.on("data", (d) => { err += d; });
    url = await new Promise<string>((ok, fail) => {
      server!.stdout!.on("data", (d) => {
        out += d;
        const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
        if (m) ok(m[0]);
      });
      server!.once("exit", (code) => fail(new Error(`the playground server exited with ${code}: ${err}`)));
    });
    context = await chromium.launchPersistentContext(join(userDir, "profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      acceptDownloads: true,
      viewport: { width: 1200, height: 780 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
    page.on("request", (r) => { if (r.url().startsWith(url)) requested.add(r.url().slice(url.length)); });
    page.on("worker", (w) => w.on("console", (m) => { if (m.type() === "error") problems.push(`worker console error: ${m.text()}`); }));
  });

  afterAll(async () => {
    await context?.close();
    server?.kill();
    rmSync(userDir, { recursive: true, force: true });
  });

  type PageState = {
    status: string;
    diagnostics: { code: string; span?: { line: number; column: number } }[];
    compile: null | { ok: boolean; ms: number; bytes: number; params: number };
    initialHeldOut: number | null;
    snapshot: null | { step: number; loss: number; heldOut: number; stepsPerSec: number };
  };
  const pageState = () => page.evaluate(() => (window as unknown as { flowcPlayground: { state: unknown } }).flowcPlayground.state) as Promise<PageState>;
  const waitStatus = (statuses: string[], timeout: number) =>
    page.waitForFunction((s) => s.includes((window as unknown as { flowcPlayground?: { state: { status: string } } }).flowcPlayground?.state.status ?? ""), statuses, { timeout, polling: 200 });

  it("checks live, compiles moons.flow, trains, and downloads a bundle that loads in Node", async () => {
    await page.goto(url);
    await page.waitForFunction(() => "flowcPlayground" in window);
    expect(await page.inputValue("#source")).toBe(moons);
    await expect.poll(() => page.textContent("#check-status")).toMatch(/no problems: 16 layers, 35,360 parameters/);

    // Live diagnostics: a misspelt layer gets its code, place, message and fix, underlined in the editor.
    await page.fill("#source", moons.replace("  coupling affine", "  couplng affine"));
    const item = page.locator('#diagnostics li[data-code="FLOW201"]');
    await item.waitFor({ timeout: 10_000 });
    const text = await item.textContent();
    expect(text).toContain("4:3");
    expect(text).toMatch(/unknown layer `couplng`; did you mean `coupling`\?/);
    expect(text).toMatch(/fix: known layers: .*coupling/);
    expect(await page.textContent("#backdrop mark.error")).toBe("couplng");
    expect(await page.textContent("#gutter .bad")).toBe("4");
    // The underline sits under the misspelt word in the textarea: line 4, after two spaces.
    const geom = await page.evaluate(() => {
      const ta = document.getElementById("source")!, cs = getComputedStyle(ta);
      const mark = document.querySelector("#backdrop mark.error")!.getBoundingClientRect(), box = ta.getBoundingClientRect();
      const ctx = document.createElement("canvas").getContext("2d")!;
      ctx.font = `${cs.fontSize} ${cs.fontFamily}`;
      return {
        x: mark.x - box.x - parseFloat(cs.paddingLeft), y: mark.y - box.y - parseFloat(cs.paddingTop), w: mark.width, h: mark.height,
        indent: ctx.measureText("  ").width, word: ctx.measureText("couplng").width, line: parseFloat(cs.lineHeight),
      };
    });
    expect(Math.abs(geom.x - geom.indent)).toBeLessThan(1);
    expect(Math.abs(geom.w - geom.word)).toBeLessThan(1);
    expect(geom.y).toBeGreaterThanOrEqual(3 * geom.line - 1);
    expect(geom.y + geom.h).toBeLessThanOrEqual(4 * geom.line + 1);
    expect(await page.isDisabled("#compile")).toBe(true);

    await page.fill("#source", moons);
    await expect.poll(() => page.locator("#diagnostics li").count()).toBe(0);

    // Compile in the page's worker.
    await page.click("#compile");
    await waitStatus(["compiled", "compile-failed"], 120_000);
    const compiled = await pageState();
    expect(compiled.status).toBe("compiled");
    expect(compiled.compile).toMatchObject({ ok: true, params: 35360 });
    expect(await page.textContent("#compile-status")).toMatch(/^compiled in \d+\.\d s: [\d.]+ KiB, 35,360 parameters, input \[2\]$/);
    // The kernels went into the page's cache (IndexedDB), so a later visit compiles without asc.
    const cached = await page.evaluate(() => new Promise<number>((ok, fail) => {
      const req = indexedDB.open("flowc-playground");
      req.onerror = () => fail(req.error);
      req.onsuccess = () => {
        const count = req.result.transaction("modules", "readonly").objectStore("modules").count();
        count.onsuccess = () => ok(count.result);
        count.onerror = () => fail(count.error);
      };
    }));
    expect(cached).toBe(1);

    // A bad CSV names its row and column and leaves the toys selected.
    await page.setInputFiles("#csv", { name: "bad.csv", mimeType: "text/csv", buffer: Buffer.from("x,y\n0.1,0.2\n0.3,oops\n") });
    await expect.poll(() => page.textContent("#data-status")).toMatch(/FLOW601: bad\.csv:3:2: cell 'oops' is not a number/);
    expect(await page.inputValue("#data")).toBe("toy:moons");
    // A good one becomes a data choice.
    await page.setInputFiles("#csv", { name: "pts.csv", mimeType: "text/csv", buffer: Buffer.from("a b\n" + Array.from({ length: 40 }, (_, i) => `${i / 10} ${-i / 20}`).join("\n")) });
    await expect.poll(() => page.textContent("#data-status")).toMatch(/^pts\.csv: 40 rows of 2 values/);
    expect(await page.inputValue("#data")).toBe("csv");
    await page.selectOption("#data", "toy:moons");

    // Train a few hundred steps on moons.
    await page.fill("#steps", "300");
    await page.fill("#batch", "256");
    await page.fill("#lr", "0.001");
    await page.fill("#seed", "0");
    await page.click("#start");
    await waitStatus(["done", "stopped"], 120_000);
    const trained = await pageState();
    expect(trained.status).toBe("done");
    expect(trained.snapshot!.step).toBe(300);
    const before = trained.initialHeldOut!, after = trained.snapshot!.heldOut;
    // The base N(0, I) scores held-out moons at about −3.1 nats; 300 steps reach about −2.0.
    expect(before).toBeLessThan(-2.8);
    expect(after - before).toBeGreaterThan(0.6);
    expect(after).toBeGreaterThan(-2.4);

    // The heat map is a picture, not a flat colour.
    const pixels = await page.evaluate(() => {
      const c = document.getElementById("density") as HTMLCanvasElement;
      const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      const colours = new Set<number>();
      let s = 0, s2 = 0;
      for (let i = 0; i < d.length; i += 4) {
        const l = 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
        s += l; s2 += l * l;
        colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      }
      const n = d.length / 4;
      return { colours: colours.size, std: Math.sqrt(s2 / n - (s / n) ** 2) };
    });
    expect(pixels.colours).toBeGreaterThan(200);
    expect(pixels.std).toBeGreaterThan(20);

    const shot = process.env.FLOWC_UPDATE_SCREENSHOT === "1" ? join(root, "docs/playground.png") : join(userDir, "playground.png");
    await page.screenshot({ path: shot });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe("PNG");

    // Continue, then Stop part-way.
    await page.fill("#steps", "100000");
    await page.click("#continue");
    await page.waitForFunction(() => ((window as unknown as { flowcPlayground: { state: { snapshot: { step: number } } } }).flowcPlayground.state.snapshot.step ?? 0) >= 350, null, { timeout: 60_000, polling: 100 });
    await page.click("#stop");
    await waitStatus(["stopped"], 30_000);
    const stopped = await pageState();
    expect(stopped.snapshot!.step).toBeGreaterThanOrEqual(350);
    expect(stopped.snapshot!.step).toBeLessThan(100300);

    // Download the bundle; Node loads it with the weights the page has now.
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 30_000 }), page.click("#download")]);
    expect(download.suggestedFilename()).toBe("moons.wasm");
    const bytes = readFileSync((await download.path())!);
    const flow = await loadFlow(bytes);
    expect(WebAssembly.Module.customSections(flow.module, WEIGHTS_SECTION)).toHaveLength(1);
    expect(flow.manifest.source).toBe(moons);
    const points = Array.from(sampleToy("moons", 6, 99));
    points.push(3, -2, 0, 0); // one point far from the data, one near the middle
    const inPage = await page.evaluate((p) => (window as unknown as { flowcPlayground: { logProb(p: number[]): Promise<number[]> } }).flowcPlayground.logProb(p), points);
    const inNode = Array.from(flow.logProb(points));
    for (let i = 0; i < inNode.length; i++) expect(Math.abs(inNode[i] - inPage[i])).toBeLessThan(1e-4);
    const held = Array.from(flow.logProb(sampleToy("moons", 2000, 0, "test")));
    expect(Math.abs(held.reduce((a, b) => a + b, 0) / held.length - stopped.snapshot!.heldOut)).toBeLessThan(1e-3);

    // The page fetched only its own four files: asc's and binaryen's Node-only imports were never reached.
    expect([...requested].sort()).toEqual(["", "main.js", "style.css", "worker.js"]);
    expect(problems).toEqual([]);
  }, 240_000);
});
