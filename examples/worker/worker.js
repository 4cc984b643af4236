/**
 * @fileoverview A Cloudflare Worker serving a bundled flowc module
 * (`flowc bundle runs/moons -o model.wasm`):
 *
 *   GET  /sample?n=100&seed=1[&temperature=0.8]  → {"samples": [[x, y], …]}
 *   POST /logprob  {"x": [[x, y], …]}            → {"logProb": [ … ]}
 *        (or the rows as little-endian float32 with content-type application/octet-stream)
 *
 * Workers may not compile wasm from bytes at run time, so the module is
 * imported as a precompiled WebAssembly.Module. Every bad request gets a 400
 * with a JSON error that says what is wrong; nothing a client sends can make
 * it answer 500.
 */
import { loadFlow, FlowcInputError } from "flowc/runtime";
import model from "./model.wasm";

const MAX_SAMPLES = 10_000;
const MAX_ROWS = 10_000;
const MAX_BODY_BYTES = 1 << 20;
const MAX_TEMPERATURE = 10;

class BadRequest extends Error {}

// One flow per isolate, loaded on the first request and reused.
let loading = null;
const getFlow = () => (loading ??= loadFlow(model));

const json = (status, body) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });

function integerParam(params, name, max, fallback) {
  const raw = params.get(name);
  if (raw === null) {
    if (fallback === undefined) throw new BadRequest(`missing query parameter '${name}'`);
    return fallback;
  }
  // Digits only: Number() would also accept "", "0x10", "1e3" and " 5".
  const v = /^[0-9]{1,10}$/.test(raw) ? Number(raw) : NaN;
  const min = name === "n" ? 1 : 0;
  if (!(v >= min && v <= max)) throw new BadRequest(`'${name}' must be an integer from ${min} to ${max}, got ${JSON.stringify(raw.slice(0, 40))}`);
  return v;
}

function temperatureParam(params) {
  const raw = params.get("temperature");
  if (raw === null) return 1;
  const v = /^[0-9]{1,3}(\.[0-9]{1,8})?$/.test(raw) ? Number(raw) : NaN;
  if (!(v >= 0 && v <= MAX_TEMPERATURE)) throw new BadRequest(`'temperature' must be a number from 0 to ${MAX_TEMPERATURE}, got ${JSON.stringify(raw.slice(0, 40))}`);
  return v;
}

async function sample(flow, params) {
  const n = integerParam(params, "n", MAX_SAMPLES);
  const seed = integerParam(params, "seed", 2 ** 32 - 1, 0);
  const x = flow.sample(n, { seed, temperature: temperatureParam(params) });
  return { samples: rows(x, flow.eventSize) };
}

function rows(flat, width) {
  const out = [];
  for (let i = 0; i < flat.length; i += width) out.push(Array.from(flat.subarray(i, i + width)));
  return out;
}

/** The request's points as one flat Float32Array; the host then checks length, NaN and domain. */
async function readPoints(request, width) {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw new BadRequest(`the body is larger than ${MAX_BODY_BYTES} bytes`);
  const body = new Uint8Array(await request.arrayBuffer());
  if (body.length > MAX_BODY_BYTES) throw new BadRequest(`the body is larger than ${MAX_BODY_BYTES} bytes`);
  if (body.length === 0) throw new BadRequest("the body is empty: send {\"x\": [[…], …]} or float32 rows");
  if ((request.headers.get("content-type") ?? "").startsWith("application/octet-stream")) {
    if (body.length % 4) throw new BadRequest(`a float32 body must be a multiple of 4 bytes long, got ${body.length}`);
    const view = new DataView(body.buffer, body.byteOffset, body.length);
    const x = new Float32Array(body.length / 4);
    for (let i = 0; i < x.length; i++) x[i] = view.getFloat32(i * 4, true);
    return x;
  }
  let doc;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (e) {
    throw new BadRequest(`the body is not valid JSON: ${e.message}`);
  }
  const x = doc !== null && typeof doc === "object" && !Array.isArray(doc) ? doc.x : undefined;
  if (!Array.isArray(x)) throw new BadRequest("the body must be a JSON object {\"x\": [[…], …]} with one array of numbers per row");
  if (x.length === 0 || x.length > MAX_ROWS) throw new BadRequest(`'x' must hold 1 to ${MAX_ROWS} rows, got ${x.length}`);
  const flat = new Float32Array(x.length * width);
  x.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== width) throw new BadRequest(`row ${r} must be an array of ${width} numbers`);
    row.forEach((v, c) => {
      if (typeof v !== "number") throw new BadRequest(`row ${r}, column ${c} is ${JSON.stringify(v)?.slice(0, 40)}, not a number`);
      flat[r * width + c] = v;
    });
  });
  return flat;
}

async function logProb(flow, request) {
  const x = await readPoints(request, flow.eventSize);
  if (x.length > MAX_ROWS * flow.eventSize) throw new BadRequest(`at most ${MAX_ROWS} rows per request`);
  return { logProb: Array.from(flow.logProb(x), (v) => (Number.isFinite(v) ? v : null)) };
}

const routes = {
  "/sample": { method: "GET", run: (flow, request, url) => sample(flow, url.searchParams) },
  "/logprob": { method: "POST", run: (flow, request) => logProb(flow, request) },
};

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const route = Object.hasOwn(routes, url.pathname) ? routes[url.pathname] : null;
    if (!route) return json(404, { error: `no route ${url.pathname}; use GET /sample?n=…&seed=… or POST /logprob` });
    if (request.method !== route.method) return json(405, { error: `${url.pathname} takes ${route.method}` });
    let flow;
    try {
      flow = await getFlow();
    } catch (e) {
      // A module this runtime refuses (FLOW655: another flowc version) is the server's fault, not the client's.
      loading = null;
      console.error(e);
      return json(500, { error: `the model cannot be loaded: ${e.message}`, code: e.code });
    }
    try {
      return json(200, await route.run(flow, request, url));
    } catch (e) {
      if (e instanceof BadRequest) return json(400, { error: e.message });
      if (e instanceof FlowcInputError) return json(400, { error: e.message, code: e.code });
      console.error(e);
      return json(500, { error: "internal error" });
    }
  },
};
