#!/usr/bin/env node
/**
 * @fileoverview Builds the npm package's dist/: esbuild bundles for
 * `flowc` (the compiler, dist/compiler.js), `flowc/runtime` (the host,
 * dist/runtime.js, self-contained and free of Node built-ins) and the CLI
 * (dist/cli/, Node only), then tsc writes the type declarations into
 * dist/types/. `npm pack` runs it through `prepack`.
 *
 *   node scripts/build.mjs            build everything
 *   node scripts/build.mjs --no-types skip the declarations (faster, for tests that only run code)
 */
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { builtinModules, createRequire } from "node:module";
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { embedRuntimeLibrary } from "./embed-runtime-lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const nodeBuiltins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/**
 * A bundle moves code to another directory, so `new URL("../../x", import.meta.url)`
 * (package files the CLI reads: data/digits.csv.gz, the kernel cache) must be
 * re-aimed from the source file's directory to the output directory.
 */
function relocateAssetUrls(outdir) {
  return {
    name: "flowc-relocate-asset-urls",
    setup(b) {
      b.onLoad({ filter: /[\\/]compiler[\\/].*\.ts$/ }, (args) => {
        const text = readFileSync(args.path, "utf8");
        if (!text.includes("import.meta.url")) return undefined;
        const contents = text.replace(/new URL\((["'])(\.{1,2}\/[^"']*)\1, import\.meta\.url\)/g, (_, q, rel) => {
          const target = resolve(dirname(args.path), rel);
          let moved = relative(outdir, target).split(sep).join("/");
          if (!moved.startsWith(".")) moved = `./${moved}`;
          if (rel.endsWith("/") && !moved.endsWith("/")) moved += "/";
          return `new URL(${q}${moved}${q}, import.meta.url)`;
        });
        return { contents, loader: "ts" };
      });
    },
  };
}

const common = { bundle: true, format: "esm", target: "es2022", logLevel: "warning", legalComments: "none", metafile: true };

/**
 * The compiler: runs in Node and, through a bundler, in browsers; dependencies
 * stay packages. Exported for the browser test, which bundles it for a page.
 */
export async function buildCompiler(outfile = join(dist, "compiler.js")) {
  const r = await build({
    ...common,
    entryPoints: [join(root, "compiler/index.ts")],
    outfile,
    platform: "neutral",
    packages: "external",
    plugins: [embedRuntimeLibrary()],
  });
  refuseNodeBuiltins(r.metafile, "dist/compiler.js");
}

/**
 * The host: one file with no imports at all, so a Worker, Deno or a browser page
 * can load it as is. Exported for the runtime tests, which build it into a temp dir.
 */
export async function buildRuntime(outfile = join(dist, "runtime.js")) {
  const r = await build({
    ...common,
    entryPoints: [join(root, "runtime-wasm/host/index.ts")],
    outfile,
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["import"],
  });
  refuseNodeBuiltins(r.metafile, "dist/runtime.js");
  const imports = Object.values(r.metafile.outputs).flatMap((o) => o.imports);
  if (imports.length) throw new Error(`dist/runtime.js must be self-contained but imports ${imports.map((i) => i.path).join(", ")}`);
}

/** The CLI, for Node: each command in its own chunk, so `flowc check` never loads asc. */
async function buildCli() {
  const outdir = join(dist, "cli");
  await build({
    ...common,
    entryPoints: { main: join(root, "compiler/cli/main.ts") },
    outdir,
    splitting: true,
    chunkNames: "chunk-[hash]",
    platform: "node",
    packages: "external",
    plugins: [embedRuntimeLibrary(), relocateAssetUrls(outdir)],
  });
}

function refuseNodeBuiltins(metafile, what) {
  const used = Object.values(metafile.outputs).flatMap((o) => o.imports).filter((i) => nodeBuiltins.has(i.path));
  if (used.length) throw new Error(`${what} must not import Node built-ins, but imports ${[...new Set(used.map((i) => i.path))].join(", ")}`);
}

/** Declarations for both entry points; relative `.ts` specifiers become `.js` so every resolver finds the `.d.ts`. */
function buildTypes() {
  const require = createRequire(import.meta.url);
  const tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc");
  try {
    execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: ["ignore", 2, 2], cwd: root });
  } catch {
    // tsc has printed the errors; a package must not ship declarations of code that does not typecheck.
    console.error("build: type errors (above); dist/ is incomplete");
    process.exit(1);
  }
  const walk = (dir) => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
  for (const f of walk(join(dist, "types")).filter((f) => f.endsWith(".d.ts"))) {
    const text = readFileSync(f, "utf8");
    const fixed = text.replace(/((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g, "$1$2.js$3");
    if (fixed !== text) writeFileSync(f, fixed);
  }
}

async function main() {
  const t0 = performance.now();
  rmSync(dist, { recursive: true, force: true });
  await Promise.all([buildCompiler(), buildRuntime(), buildCli()]);
  if (!process.argv.includes("--no-types")) buildTypes();
  console.error(`dist/ built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
