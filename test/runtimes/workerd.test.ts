/**
 * @fileoverview Cloudflare's workerd: examples/worker (bundled with
 * esbuild as its config.capnp expects) serves a bundled moons module over
 * HTTP on 127.0.0.1. Samples and log-densities must equal Node's bit for bit;
 * bad requests get 400 with a JSON error; and a property test throws random
 * and mutated requests at it: every answer is 200 or 400 with JSON, never a
 * 500 or a dropped connection.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import fc from "fast-check";
import { POINTS, SAMPLE, bits, buildAll, root, type Built } from "./fixture.ts";
import { freePort } from "../net.ts";

let built: Built;
let workerd: ChildProcess | null = null;
let base = "";
let log = "";

beforeAll(async () => {
  built = await buildAll("workerd");
  const example = join(root, "examples/worker");
  for (const f of ["worker.js", "config.capnp"]) copyFileSync(join(example, f), join(built.dir, f));
  mkdirSync(join(built.dir, "dist"));
  // As the example's instructions do, with flowc/runtime taken from this checkout's build.
  await build({
    entryPoints: [join(built.dir, "worker.js")],
    outfile: join(built.dir, "dist/worker.js"),
    bundle: true,
    format: "esm",
    external: ["./model.wasm"],
    alias: { "flowc/runtime": built.runtime },
    logLevel: "warning",
  });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  workerd = spawn(join(root, "node_modules/.bin/workerd"), ["serve", "config.capnp", "--socket-addr", `http=127.0.0.1:${port}`], { cwd: built.dir, stdio: ["ignore", "pipe", "pipe"] });
  workerd.stdout!.on("data", (d) => (log += d));
  workerd.stderr!.on("data", (d) => (log += d));
  const exited = new Promise<never>((_, fail) => {
    workerd!.on("exit", (code) => fail(new Error(`workerd exited with ${code}:\n${log}`)));
    // Not installed: fail, never skip (npm ci installs it).
    workerd!.on("error", (e) => fail(new Error(`workerd exited: cannot start node_modules/.bin/workerd: ${e.message}`)));
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await Promise.race([fetch(`${base}/`), exited]);
      break;
    } catch (e) {
      if (Date.now() > deadline || String(e).includes("workerd exited")) throw e;
      await new Promise((ok) => setTimeout(ok, 200));
    }
  }
});

afterAll(() => {
  if (workerd && workerd.exitCode === null) workerd.kill("SIGTERM");
  if (built) rmSync(built.dir, { recursive: true, force: true });
});

async function call(path: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown>; type: string }> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${init?.method ?? "GET"} ${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body, type: res.headers.get("content-type") ?? "" };
}

const post = (body: BodyInit, type = "application/json") => ({ method: "POST", body, headers: { "content-type": type } });
const f32Body = (x: Float32Array) => new Uint8Array(x.buffer as ArrayBuffer, x.byteOffset, x.byteLength);
const pointRows = () => Array.from({ length: POINTS.length / 2 }, (_, r) => [POINTS[2 * r], POINTS[2 * r + 1]]);

describe("workerd", () => {
  it("GET /sample gives Node's samples bit for bit", async () => {
    const r = await call(`/sample?n=${SAMPLE.n}&seed=${SAMPLE.seed}&temperature=${SAMPLE.temperature}`);
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^application\/json/);
    const samples = r.body.samples as number[][];
    expect(samples).toHaveLength(SAMPLE.n);
    expect(bits(samples.flat())).toEqual(bits(built.expected.sample));
  });

  it("POST /logprob, as JSON rows or float32 bytes, gives Node's log-densities bit for bit", async () => {
    const asJson = await call("/logprob", post(JSON.stringify({ x: pointRows() })));
    expect(asJson.status).toBe(200);
    expect(bits(asJson.body.logProb as number[])).toEqual(bits(built.expected.logProb));
    const asBytes = await call("/logprob", post(f32Body(POINTS), "application/octet-stream"));
    expect(asBytes.status).toBe(200);
    expect(bits(asBytes.body.logProb as number[])).toEqual(bits(built.expected.logProb));
  });

  it("answers bad requests with 400 and a JSON error that says what is wrong", async () => {
    const bad: [string, RequestInit | undefined, RegExp][] = [
      ["/sample?n=0", undefined, /'n' must be an integer from 1/],
      ["/sample?n=-3", undefined, /'n' must be an integer/],
      ["/sample?n=2.5", undefined, /'n' must be an integer/],
      ["/sample?n=abc", undefined, /'n' must be an integer/],
      ["/sample?n=1e3", undefined, /'n' must be an integer/],
      ["/sample?n=10001", undefined, /to 10000/],
      ["/sample?n=99999999999999999999", undefined, /'n' must be an integer/],
      ["/sample", undefined, /missing query parameter 'n'/],
      ["/sample?n=5&seed=4294967296", undefined, /'seed'/],
      ["/sample?n=5&temperature=NaN", undefined, /'temperature'/],
      ["/logprob", post(f32Body(POINTS.subarray(0, 3)), "application/octet-stream"), /FLOW661|whole number of rows/],
      ["/logprob", post(f32Body(Float32Array.from([0.5, NaN, 1, 2])), "application/octet-stream"), /NaN; values must be finite/],
      ["/logprob", post(new Uint8Array(6), "application/octet-stream"), /multiple of 4 bytes/],
      ["/logprob", post('{"x": [[0.5, NaN]]}'), /not valid JSON/],
      ["/logprob", post('{"x": [[0.5, 1, 2]]}'), /row 0 must be an array of 2 numbers/],
      ["/logprob", post('{"x": [[0.5, "1"]]}'), /row 0, column 1/],
      ["/logprob", post('{"x": [[1e39, 0]]}'), /values must be finite/],
      ["/logprob", post('{"x": []}'), /1 to 10000 rows/],
      ["/logprob", post("[1, 2]"), /must be a JSON object/],
      ["/logprob", post(""), /body is empty/],
      ["/logprob", post(new Uint8Array([0xff, 0xfe, 0x7b])), /not valid JSON/],
      ["/logprob", post(new Uint8Array(2 << 20), "application/octet-stream"), /larger than/],
    ];
    for (const [path, init, why] of bad) {
      const r = await call(path, init);
      expect({ path, status: r.status }).toEqual({ path, status: 400 });
      expect(r.body.error).toMatch(why);
    }
    expect((await call("/nowhere")).status).toBe(404);
    expect((await call("/sample?n=1", post("{}"))).status).toBe(405);
    // Still serving, and still exact.
    const again = await call(`/sample?n=${SAMPLE.n}&seed=${SAMPLE.seed}&temperature=${SAMPLE.temperature}`);
    expect(bits((again.body.samples as number[][]).flat())).toEqual(bits(built.expected.sample));
  });

  it("property: random and mutated requests get 200 or 400 with JSON, never 500 or a dropped connection", async () => {
    const numberish = fc.oneof(
      fc.nat({ max: 20_000 }).map(String),
      fc.integer().map(String),
      fc.double().map(String),
      fc.string({ maxLength: 12 }),
      fc.constantFrom("", "0", "1", " 1", "0x10", "1e2", "Infinity", "NaN", "-0", "00001", "4294967295", "1.", ".5", "%00"),
    );
    const query = fc.oneof(
      fc.record({ n: numberish, seed: numberish, temperature: numberish }, { requiredKeys: [] }).map((q) => new URLSearchParams(q as Record<string, string>).toString()),
      fc.string({ maxLength: 40 }).map((s) => encodeURIComponent(s).replace(/%3D/g, "=").replace(/%26/g, "&")),
    );
    const good = JSON.stringify({ x: pointRows() });
    const mutated = fc.tuple(fc.nat({ max: good.length - 1 }), fc.nat({ max: 8 }), fc.string({ maxLength: 6 })).map(([at, cut, ins]) => good.slice(0, at) + ins + good.slice(at + cut));
    const jsonBody = fc.oneof(
      mutated,
      fc.json({ maxDepth: 3 }),
      fc.array(fc.array(fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 3 }), fc.constant(null)), { maxLength: 4 }), { maxLength: 6 }).map((x) => JSON.stringify({ x })),
    );
    const binaryBody = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array(b)),
      fc.float32Array({ maxLength: 16 }).map((x) => f32Body(x)),
    );
    const request = fc.oneof(
      query.map((q) => ({ path: `/sample?${q}`, init: undefined as RequestInit | undefined })),
      jsonBody.map((b) => ({ path: "/logprob", init: post(b) as RequestInit })),
      binaryBody.map((b) => ({ path: "/logprob", init: post(b, "application/octet-stream") as RequestInit })),
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ path, init }) => {
        const r = await call(path, init);
        expect([200, 400], `${init?.method ?? "GET"} ${path} → ${r.status} ${JSON.stringify(r.body)}`).toContain(r.status);
        if (r.status === 400) expect(typeof r.body.error).toBe("string");
      }),
      { numRuns: 300, seed: 20261122 },
    );
    expect(log).not.toMatch(/internal error|Uncaught/);
  });
});
