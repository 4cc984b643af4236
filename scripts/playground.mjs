#!/usr/bin/env node
/**
 * @fileoverview `npm run playground`: bundles the playground page
 * (playground/) for the browser with esbuild — the compiler, asc and
 * binaryen included, so specs compile in the page — and serves it on
 * 127.0.0.1, printing the URL.
 *
 *   node scripts/playground.mjs [--port N] [--host H]   build in memory and serve (port 0 = any free port)
 *   node scripts/playground.mjs --build-only DIR        write the page to DIR and exit
 */
import * as esbuild from "esbuild";
import { createServer } from "node:http";
import { mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, dirname, extname, resolve } from "node:path";
import { embedRuntimeLibrary } from "./embed-runtime-lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const pageDir = join(root, "playground");

// asc and binaryen import these only behind a "running under Node" test; the page never reaches them.
const NODE_ONLY = ["fs", "module", "path", "url", "node:module", "node:fs", "node:path", "node:url"];

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".flow": "text/plain; charset=utf-8",
};

/** Bundle the page. Returns path (relative to the site root, e.g. "main.js") → bytes. */
export async function buildPlayground() {
  const result = await esbuild.build({
    entryPoints: { main: join(pageDir, "main.ts"), worker: join(pageDir, "worker.ts") },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    outdir: "/out",
    external: NODE_ONLY,
    plugins: [embedRuntimeLibrary()],
    loader: { ".flow": "text" },
    logLevel: "silent",
    minify: false,
    sourcemap: false,
  });
  const files = new Map();
  for (const f of result.outputFiles) files.set(f.path.replace(/^\/out\//, ""), f.contents);
  files.set("index.html", readFileSync(join(pageDir, "index.html")));
  files.set("style.css", readFileSync(join(pageDir, "style.css")));
  return files;
}

/** Write a built page to `dir` (each file through a temporary name, so none is left half-written). */
export function writePlayground(files, dir) {
  for (const [name, bytes] of files) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path + ".tmp", bytes);
    renameSync(path + ".tmp", path);
  }
}

/** Serve the built files; resolves with the server once it listens. */
export function servePlayground(files, { port = 0, host = "127.0.0.1" } = {}) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const name = url.pathname === "/" ? "index.html" : decodeURIComponent(url.pathname.slice(1));
    const body = files.get(name);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "content-type": "text/plain" }).end("method not allowed\n");
    } else if (!body) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${url.pathname}\n`);
    } else {
      res.writeHead(200, { "content-type": TYPES[extname(name)] ?? "application/octet-stream", "content-length": body.length, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    }
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => ok(server));
  });
}

function usage(message) {
  process.stderr.write(`playground: ${message}\nusage: node scripts/playground.mjs [--port N] [--host H] | --build-only DIR\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { port: 0, host: "127.0.0.1", buildOnly: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === "--port") {
      const v = value();
      o.port = Number(v);
      if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) usage(`--port must be an integer in [0, 65535], got '${v}'`);
    } else if (a === "--host") o.host = value();
    else if (a === "--build-only") o.buildOnly = resolve(value());
    else if (a === "--help" || a === "-h") usage("help");
    else usage(`unknown argument '${a}'`);
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  let files;
  try {
    files = await buildPlayground();
  } catch (e) {
    const errors = e.errors?.map((m) => `${m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : ""}${m.text}`).join("\n");
    process.stderr.write(`playground: the page does not build:\n${errors ?? e.message}\n`);
    process.exit(1);
  }
  const kib = [...files.values()].reduce((s, b) => s + b.length, 0) / 1024;
  const built = `built in ${((performance.now() - t0) / 1000).toFixed(1)} s (${kib.toFixed(0)} KiB)`;
  if (o.buildOnly) {
    writePlayground(files, o.buildOnly);
    process.stdout.write(`playground ${built} → ${o.buildOnly}\n`);
    return;
  }
  let server;
  try {
    server = await servePlayground(files, { port: o.port, host: o.host });
  } catch (e) {
    process.stderr.write(`playground: cannot listen on ${o.host}:${o.port}: ${e.message}\n`);
    process.exit(1);
  }
  const { port } = server.address();
  process.stdout.write(`playground ${built}\nhttp://${o.host}:${port}/\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
