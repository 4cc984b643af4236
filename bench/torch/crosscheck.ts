/**
 * @fileoverview Writes a fixture that lets bench/torch/glow.py check flowc's
 * image layers against PyTorch with the same weights: compiles the spec
 * without its `dequantize` layer (so the dequantisation noise is fixed by
 * this script rather than drawn inside the module), initialises it (random
 * init and the data-dependent actnorm init on `--init-rows` rows), and saves
 *   init.safetensors  the weights after init, named as in the full spec
 *   weights.safetensors  the same plus N(0, perturb²) noise on every trainable
 *                     weight (at init the last conv of each conditioner is zero,
 *                     which would hide the nets' inner gradients)
 *   init_y.npy, y.npy the dequantised rows used for the init and for scoring
 *   logp.npy          flowc's log p of y.npy under weights.safetensors
 *   grad.safetensors  flowc's gradient of the mean NLL of y.npy there
 *   z_inv.npy, x_inv.npy  latent rows drawn at temperature 0.7 and flowc's inverse
 *                     of them (the sampling direction) under weights.safetensors
 *   fixture.json      spec, precision, seed, and `start` (layers skipped)
 *
 *   node bin/run-ts.mjs bench/torch/crosscheck.ts spec-examples/glow-mnist.flow \
 *       --data mnist --out /tmp/fx [--precision f64] [--rows 32] [--init-rows 16]
 *   /usr/bin/python3 bench/torch/glow.py --mode check \
 *       --spec spec-examples/glow-mnist.flow --fixture /tmp/fx
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compile } from "../../compiler/codegen/compile.ts";
import { loadFlow } from "../../runtime-wasm/host/flow.ts";
import { encodeSafetensors } from "../../runtime-wasm/host/safetensors.ts";
import { loadImageSet, isBuiltinImageSet } from "../../compiler/cli/io/builtin.ts";
import { encodeNpy } from "../../compiler/cli/io/npy.ts";
import { gaussian, mulberry } from "../../compiler/cli/numeric.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: "string", default: "digits" },
    out: { type: "string" },
    precision: { type: "string", default: "f32" },
    rows: { type: "string", default: "32" },
    "init-rows": { type: "string", default: "64" },
    seed: { type: "string", default: "0" },
    perturb: { type: "string", default: "0.02" },
  },
});
const spec = positionals[0];
if (!spec || !values.out || !isBuiltinImageSet(values.data!)) {
  process.stderr.write("usage: crosscheck.ts SPEC --data digits|mnist --out DIR [--precision f32|f64] [--rows N] [--init-rows N] [--seed S] [--perturb s]\n");
  process.exit(2);
}
const precision = values.precision as "f32" | "f64";
const seed = Number(values.seed);
const out = values.out;
mkdirSync(out, { recursive: true });

// The spec without its dequantize layer; the layers after it keep their order, one index lower.
const source = readFileSync(spec, "utf8");
const dq = /^[ \t]*dequantize\b[^\n;#]*/m.exec(source);
const lv = dq ? /levels=(\d+)/.exec(dq[0]) : null, bits = dq ? /bits=(\d+)/.exec(dq[0]) : null;
const levels = !dq ? 1 : lv ? Number(lv[1]) : 2 ** Number(bits ? bits[1] : 8);
const start = dq ? 1 : 0;
const variant = dq ? source.replace(dq[0], "") : source;
const res = await compile(variant, { filename: spec, precision });
if (!res.wasm) throw new Error(res.diagnostics.map((d) => d.message).join("\n"));
const flow = await loadFlow(res.wasm);
const D = flow.eventSize;

// Rows of the training split in a seeded order, dequantised with seeded noise.
const set = loadImageSet(values.data as "digits" | "mnist", "train");
const nAll = set.data.length / D;
const rand = mulberry(seed + 1);
const pick = Array.from({ length: nAll }, (_, i) => i);
for (let i = nAll - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [pick[i], pick[j]] = [pick[j], pick[i]];
}
const dequantised = (from: number, count: number): Float64Array => {
  const y = new Float64Array(count * D);
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < D; j++) {
      const x = set.data[pick[from + r] * D + j];
      y[r * D + j] = dq ? (x + 0.02 + 0.96 * rand()) / levels : x;
    }
  }
  return y;
};
const initRows = Number(values["init-rows"]), rows = Number(values.rows);
const initY = dequantised(0, initRows);
const y = dequantised(initRows, rows);

flow.initialize({ seed, data: initY });
const rename = (name: string) => name.replace(/^layers\.(\d+)\./, (_, i: string) => `layers.${Number(i) + start}.`);
const tensorsOf = (buf: Float32Array | Float64Array) =>
  flow.manifest.params.map((p) => ({ name: rename(p.name), dtype: precision === "f32" ? "F32" : "F64", shape: p.shape, data: buf.slice(p.offset, p.offset + p.size) }));
writeFileSync(join(out, "init.safetensors"), encodeSafetensors(tensorsOf(flow.getParams()) as never));
const P = flow.getParams();
const noise = gaussian(mulberry(seed + 2));
const perturb = Number(values.perturb);
for (const p of flow.manifest.params) if (p.trainable) for (let i = 0; i < p.size; i++) P[p.offset + i] += perturb * noise();
flow.setParams(P);
writeFileSync(join(out, "weights.safetensors"), encodeSafetensors(tensorsOf(flow.getParams()) as never));
const logp = flow.logProb(y);
// A step with lr = 0 leaves the weights alone and the gradient of the mean NLL in G.
flow.trainer({ lr: 0, batchSize: rows }).step(y);
writeFileSync(join(out, "grad.safetensors"), encodeSafetensors(tensorsOf(flow.view(flow.mem.G, flow.manifest.paramCount).slice()) as never));
writeFileSync(join(out, "y.npy"), encodeNpy(y, [rows, ...flow.eventShape]));
writeFileSync(join(out, "init_y.npy"), encodeNpy(initY, [initRows, ...flow.eventShape]));
writeFileSync(join(out, "logp.npy"), encodeNpy(Float64Array.from(logp), [rows]));
const zInv = Float64Array.from({ length: rows * flow.latentSize }, () => 0.7 * noise());
writeFileSync(join(out, "z_inv.npy"), encodeNpy(zInv, [rows, flow.latentSize]));
writeFileSync(join(out, "x_inv.npy"), encodeNpy(Float64Array.from(flow.inverse(zInv).x), [rows, ...flow.eventShape]));
writeFileSync(join(out, "fixture.json"), JSON.stringify({ spec, data: values.data, precision, seed, perturb, start, levels, rows, initRows, chunk: flow.chunk }, null, 2) + "\n");
process.stderr.write(`${out}: fixture for ${spec} (${precision}, chunk ${flow.chunk}), mean log p ${(Array.from(logp).reduce((a, b) => a + b, 0) / rows).toFixed(4)}\n`);
