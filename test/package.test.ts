/**
 * @fileoverview The npm package as a user gets it: `npm pack` (which builds
 * dist/), install the tarball into an empty project, then run the README's
 * Node example there, the packed `flowc` command (check, train, bundle),
 * TypeScript against the shipped declarations, and publint on exactly the
 * files that ship.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type SpawnSyncOptions } from "node:child_process";
import { fetchWhenUp, freePort } from "./net.ts";
import { build } from "esbuild";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
let work = "";
let project = "";
let files: string[] = [];
let tarball = "";

function run(cmd: string, args: string[], opts: SpawnSyncOptions & { ok?: boolean } = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 300_000, ...opts, env: { ...process.env, NO_COLOR: "1", npm_config_update_notifier: "false", ...opts.env } });
  const out = { status: r.status, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
  if (opts.ok !== false && r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status} (${r.error ?? r.signal ?? ""}):\n${out.stdout}\n${out.stderr}`);
  return out;
}

/** The first ```lang block after the README heading `heading`. */
function readmeBlock(heading: string, lang: "js" | "sh"): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const at = readme.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README.md has no section '${heading}'`);
  const m = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(readme.slice(at));
  if (!m) throw new Error(`README.md section '${heading}' has no ${lang} block`);
  return m[1];
}

/** The commands of the first ```sh block after the README heading `heading`, each with its `#` comment. */
function readmeShell(heading: string): { line: string; comment: string }[] {
  return readmeBlock(heading, "sh").split("\n").filter((l) => l.trim()).map((l) => {
    const hash = l.indexOf(" #");
    return hash < 0 ? { line: l.trim(), comment: "" } : { line: l.slice(0, hash).trim(), comment: l.slice(hash + 2).trim() };
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "flowc-pack-"));
  const packed = JSON.parse(run(npm, ["pack", "--json", "--pack-destination", work], { cwd: root }).stdout);
  files = packed[0].files.map((f: { path: string }) => f.path);
  tarball = join(work, packed[0].filename);
  project = join(work, "app");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  // The dependencies are in the npm cache after `npm ci`; fall back to the registry if not.
  const offline = run(npm, ["install", "--offline", "--no-audit", "--no-fund", tarball], { cwd: project, ok: false });
  if (offline.status !== 0) run(npm, ["install", "--no-audit", "--no-fund", tarball], { cwd: project });
}, 600_000);

// The installed project holds binaryen (~100 MB): do not leave it behind.
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm package", () => {
  it("ships the bundles, declarations and the CLI, and no sources or tests", () => {
    for (const f of ["dist/compiler.js", "dist/runtime.js", "dist/cli/main.js", "dist/types/compiler/index.d.ts", "dist/types/runtime-wasm/host/index.d.ts", "bin/flowc.mjs", "data/digits.csv.gz", "spec-examples/moons.flow", "package.json", "README.md"]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^(compiler|runtime-wasm|test|bench|scripts)\//.test(f) || /\.test\.ts$/.test(f))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(project, "node_modules/flowc/package.json"), "utf8"));
    expect(Object.keys(pkg.dependencies)).not.toContain("tsx");
  });

  it("runs the README's Node example in a fresh project", () => {
    copyFileSync(join(root, "spec-examples/moons.flow"), join(project, "moons.flow"));
    writeFileSync(join(project, "example.mjs"), readmeBlock("### Node", "js"));
    const r = run(process.execPath, ["example.mjs"], { cwd: project });
    const lines = r.stdout.trim().split("\n");
    // The example prints the training loss, then a sample and its log-densities.
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const nums = r.stdout.match(/-?\d+\.\d+/g)!.map(Number);
    expect(nums.length).toBeGreaterThan(4);
    expect(nums.every(Number.isFinite)).toBe(true);
  }, 300_000);

  it("`npx flowc` works from the package: check, train, bundle, compile --weights, and the bundles load with flowc/runtime", () => {
    const ok = run("npx", ["--no-install", "flowc", "check", "moons.flow"], { cwd: project });
    expect(ok.stdout + ok.stderr).toMatch(/moons\.flow: ok, 16 layers/);
    writeFileSync(join(project, "bad.flow"), "input [2]\ncouplng affine\n");
    const bad = run("npx", ["--no-install", "flowc", "check", "bad.flow"], { cwd: project, ok: false });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/bad\.flow:2:1: error FLOW201: unknown layer `couplng`/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);

    run("npx", ["--no-install", "flowc", "train", "moons.flow", "--data", "moons", "--steps", "20", "--batch", "128", "--lr", "1e-3", "--seed", "1", "--out", "run"], { cwd: project });
    const b = run("npx", ["--no-install", "flowc", "bundle", "run", "-o", "model.wasm"], { cwd: project });
    expect(b.stderr).toMatch(/model\.wasm: [\d.]+ KiB \(35360 parameters\), loads in [\d.]+ ms/);
    const c = run("npx", ["--no-install", "flowc", "compile", "moons.flow", "--weights", "run/weights.safetensors", "-o", "from-spec.wasm"], { cwd: project });
    expect(c.stdout + c.stderr).not.toMatch(/error/i);
    writeFileSync(join(project, "load.mjs"), `
      import { readFileSync } from "node:fs";
      import { loadFlow } from "flowc/runtime";
      const out = [];
      for (const file of ["model.wasm", "from-spec.wasm"]) {
        const flow = await loadFlow(readFileSync(file));
        out.push(Array.from(flow.logProb(flow.sample(5, { seed: 1 }))));
      }
      console.log(JSON.stringify(out));
    `);
    const [lp, lp2] = JSON.parse(run(process.execPath, ["load.mjs"], { cwd: project }).stdout);
    expect(lp).toHaveLength(5);
    expect(lp.every(Number.isFinite)).toBe(true);
    // Both ways of making a bundle carry the same trained weights.
    expect(lp2).toEqual(lp);
  }, 300_000);

  it("the shipped Worker example bundles against the installed flowc/runtime and serves the bundle in workerd", async () => {
    const dir = join(project, "worker");
    mkdirSync(join(dir, "dist"), { recursive: true });
    for (const f of ["worker.js", "config.capnp"]) copyFileSync(join(project, "node_modules/flowc/examples/worker", f), join(dir, f));
    copyFileSync(join(project, "model.wasm"), join(dir, "model.wasm"));
    // What the README's esbuild line does: flowc/runtime resolves through the package's exports.
    await build({ entryPoints: [join(dir, "worker.js")], outfile: join(dir, "dist/worker.js"), bundle: true, format: "esm", external: ["./model.wasm"], logLevel: "warning" });
    const port = await freePort();
    const workerd = spawn(join(root, "node_modules/.bin/workerd"), ["serve", "config.capnp", "--socket-addr", `http=127.0.0.1:${port}`], { cwd: dir, stdio: "ignore" });
    try {
      const res = await fetchWhenUp(`http://127.0.0.1:${port}/sample?n=3&seed=1`, 60_000);
      expect(res?.status).toBe(200);
      const body = (await res!.json()) as { samples: number[][] };
      expect(body.samples).toHaveLength(3);
      expect(body.samples.flat().every(Number.isFinite)).toBe(true);
    } finally {
      workerd.kill("SIGTERM");
    }
  });

  it("the README's Worker example works as written: its commands, then `wrangler dev` serving samples and 400s", async () => {
    // A new empty project, where the tarball stands in for `npm install flowc`.
    const dir = join(work, "worker-app");
    mkdirSync(dir);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "worker-app", private: true, type: "module" }));
    const steps = readmeShell("### In a Cloudflare Worker");
    expect(steps.map((s) => s.line.split(" ").slice(0, 2).join(" "))).toEqual(["npm install", "cp node_modules/flowc/spec-examples/moons.flow", "npx flowc", "npx flowc", "npx wrangler"]);
    for (const { line } of steps.slice(0, -1)) {
      run("bash", ["-c", line.replace(/^npm install flowc /, `npm install --no-audit --no-fund ${tarball} `)], { cwd: dir });
    }
    const port = await freePort();
    const [cmd, ...args] = steps[steps.length - 1].line.split(" ");
    // wrangler reaches for Cloudflare (the request.cf object, metrics); offline it warns and goes on.
    const wrangler = spawn(cmd, [...args, "--ip", "127.0.0.1", "--port", String(port)], {
      cwd: dir, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
    });
    let log = "";
    wrangler.stdout!.on("data", (d) => { log += d; });
    wrangler.stderr!.on("data", (d) => { log += d; });
    try {
      // The README's own request (`curl '…'` in the comment), on the port chosen here.
      const url = /curl '([^']+)'/.exec(steps[steps.length - 1].comment)![1].replace(":8787", `:${port}`);
      const res = await fetchWhenUp(url, 120_000);
      expect(res?.status, log).toBe(200);
      const body = (await res!.json()) as { samples: number[][] };
      expect(body.samples).toHaveLength(5);
      expect(body.samples.flat().every(Number.isFinite)).toBe(true);
      const again = (await (await fetch(url)).json()) as { samples: number[][] };
      expect(again.samples).toEqual(body.samples);
      const bad = await fetch(`http://127.0.0.1:${port}/sample?n=0`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toMatch(/'n' must be an integer/);
      const lp = await fetch(`http://127.0.0.1:${port}/logprob`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ x: body.samples }) });
      expect(lp.status).toBe(200);
      expect(((await lp.json()) as { logProb: number[] }).logProb.every(Number.isFinite)).toBe(true);
    } finally {
      try { process.kill(-wrangler.pid!, "SIGTERM"); } catch { /* already gone */ }
    }
  }, 600_000);

  it("type-checks a TypeScript consumer against the shipped declarations (nodenext resolution)", () => {
    writeFileSync(join(project, "use.ts"), `
      import { check, compile, type CompileResult, type Diagnostic } from "flowc";
      import { loadFlow, FlowcInputError, type Flow, type Manifest } from "flowc/runtime";
      const r = check("input [2]\\nbase normal\\n", { filename: "x.flow" });
      const d: Diagnostic[] = r.diagnostics;
      export async function go(): Promise<number> {
        const c: CompileResult = await compile("input [2]", { filename: "y.flow", precision: "f64" });
        const flow: Flow = await loadFlow(c.wasm!);
        const m: Manifest = flow.manifest;
        const e = new FlowcInputError("FLOW665", "x");
        return d.length + m.paramCount + flow.sample(3, { seed: 1 }).length + e.code.length;
      }
    `);
    const tsc = join(root, "node_modules/typescript/bin/tsc");
    // No @types/node and no skipLibCheck: the declarations must stand on their own.
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: { noEmit: true, strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022", "dom"], types: [] },
      files: ["use.ts"],
    }));
    const r = run(process.execPath, [tsc, "-p", "."], { cwd: project, ok: false });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("publint finds nothing in the files that ship", () => {
    expect(readdirSync(join(project, "node_modules/flowc"))).toContain("dist");
    const r = run(join(root, "node_modules/.bin/publint"), ["run", tarball, "--strict"], { cwd: project, ok: false });
    expect(r.stdout).toMatch(/All good/);
    expect(r.status).toBe(0);
  });
});
