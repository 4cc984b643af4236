/**
 * @fileoverview Non-finite provenance with anomaly detection
 * (`detectAnomaly`, `flowc train --detect-anomaly`): each common cause is
 * provoked — a learning rate too high, an actnorm initialised on a constant
 * channel, a `logit` fed 0 — and the report must name the step, the
 * direction, the layer index and kind, the row and feature of the first
 * non-finite value, and the matching hint. A healthy batch reports nothing
 * and leaves the training bit-for-bit as it would have been without the check.
 */
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { compile } from "../compiler/index.ts";
import { loadFlow, type Flow } from "../runtime-wasm/host/flow.ts";
import { detectAnomaly } from "../runtime-wasm/host/anomaly.ts";
import { sampleToy } from "../runtime-wasm/host/toys.ts";

async function load(source: string): Promise<Flow> {
  const r = await compile(source, { filename: "anomaly.flow" });
  if (!r.wasm) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return loadFlow(r.wasm);
}

describe("detectAnomaly", () => {
  it("a learning rate too high: the step, forward, the affine layer, row and feature, and the learning-rate hint", async () => {
    const flow = await load("input [2]\naffine\ncoupling affine mask=half net=mlp(hidden=8, depth=1)\nbase normal\n");
    const data = sampleToy("moons", 256, 1);
    flow.initialize({ seed: 1, data });
    const lr = 200;
    const trainer = flow.trainer({ lr, batchSize: 64 });
    let found = null;
    for (let step = 1; step <= 20 && !found; step++) {
      const batch = data.subarray(((step - 1) % 4) * 128, ((step - 1) % 4 + 1) * 128);
      found = detectAnomaly(flow, batch, { step, lr });
      if (!found) trainer.step(batch);
    }
    expect(found).not.toBeNull();
    const a = found!;
    expect(a.step).toBeGreaterThan(1);
    expect(a.direction).toBe("forward");
    expect(a.layer).toBe(0);
    expect(a.kind).toBe("affine");
    expect(a.row).toBe(0);
    expect([0, 1]).toContain(a.feature);
    expect(Number.isFinite(a.value!)).toBe(false);
    expect(a.message).toMatch(new RegExp(`^step ${a.step}: anomaly on the forward pass in layer 0 \\(affine: \`affine\`\\): the first non-finite output, row 0, feature [01] is -?Infinity`));
    expect(a.hint).toContain("learning rate too high (now 200)");
  });

  it("actnorm initialised on a constant channel: the hint names the layer, the channel and its log-scale", async () => {
    const flow = await load("input [3]\nactnorm\ncoupling affine mask=alternate net=mlp(hidden=8, depth=1)\nbase normal\n");
    const init = Float64Array.from({ length: 3 * 128 }, (_, i) => (i % 3 === 1 ? 2.5 : Math.sin(i)));
    flow.initialize({ seed: 1, data: init });
    // Later rows vary in the channel that was constant: the 1e6 scale overflows f32.
    const batch = Float64Array.from({ length: 3 * 64 }, (_, i) => (i % 3 === 1 ? (i % 2 ? 1e34 : -1e34) : Math.cos(i)));
    const a = detectAnomaly(flow, batch, { step: 1, lr: 1e-3 })!;
    expect(a).not.toBeNull();
    expect(a.direction).toBe("forward");
    expect(a.layer).toBe(0);
    expect(a.kind).toBe("actnorm");
    expect(a.row).toBe(0);
    expect(a.feature).toBe(1);
    expect(a.hint).toMatch(/layer 0 \(actnorm\) feature 1 \(log-scale 13\.8\).*constant there \(zero variance\)/);
  });

  it("logit fed 0: layer 1 (logit), the row and feature of the zero, and the logit hint", async () => {
    const flow = await load("input [2]\naffine\nlogit alpha=0\ncoupling affine mask=half net=mlp(hidden=8, depth=1)\nbase normal\n");
    flow.initialize({ seed: 1 });
    const batch = Float64Array.from([0.5, 0.25, 0.3, 0.7, 0.9, 0, 0.2, 0.2]);
    const a = detectAnomaly(flow, batch, { step: 7, lr: 1e-3 })!;
    expect(a).toMatchObject({ step: 7, direction: "forward", layer: 1, kind: "logit", row: 2, feature: 1, value: -Infinity });
    expect(a.hint).toContain("`logit` maps 0 and 1 to ±infinity");
  });

  it("the backward direction: the parameter whose gradient overflows is named with its layer and element", async () => {
    const flow = await load("input [2]\naffine\ncoupling affine mask=half net=mlp(hidden=8, depth=1)\nbase normal\n");
    flow.initialize({ seed: 1 });
    // z = 1.5·e^44 ≈ 1.9e19 is finite in f32 and so is the loss, but ∂loss/∂logs = z² ≈ 3.7e38 is not.
    const P = flow.getParams();
    const logs = flow.manifest.params.find((p) => p.name === "layers.0.logs")!;
    P[logs.offset] = 44;
    flow.setParams(P);
    const a = detectAnomaly(flow, Float64Array.from([1.5, 0.1]), { step: 3 });
    expect(a).toMatchObject({ step: 3, direction: "backward", layer: 0, kind: "affine", param: "layers.0.logs", value: Infinity });
    expect(a!.message).toMatch(/^step 3: anomaly on the backward pass in layer 0 \(affine: `affine`\): the gradient of parameter layers\.0\.logs at element 0 is Infinity/);
  });

  it("a healthy batch reports nothing and the training that follows is unchanged, bit for bit", async () => {
    const src = "input [2]\nactnorm\ndequantize uniform levels=256\nlogit alpha=0.05\ncoupling affine mask=half net=mlp(hidden=8, depth=1)\nbase normal\n";
    const data = Float64Array.from({ length: 2 * 256 }, (_, i) => (i * 37) % 256);
    const run = async (check: boolean) => {
      const flow = await load(src);
      flow.initialize({ seed: 2, data });
      const t = flow.trainer({ lr: 1e-3, batchSize: 64 });
      for (let s = 1; s <= 5; s++) {
        const b = data.subarray((s % 4) * 128, (s % 4 + 1) * 128);
        if (check) expect(detectAnomaly(flow, b, { step: s, lr: 1e-3 })).toBeNull();
        t.step(b);
      }
      return flow.getParams();
    };
    expect(Array.from(await run(true))).toEqual(Array.from(await run(false)));
  });
});

describe("flowc train --detect-anomaly", () => {
  it("stops with the step, layer, direction, position and hint, and exits 1", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "flowc-anomaly-"));
    try {
      const spec = path.join(dir, "a.flow");
      fs.writeFileSync(spec, "input [2]\naffine\ncoupling affine mask=half net=mlp(hidden=8, depth=1)\nbase normal\n");
      const bin = new URL("../bin/flowc.mjs", import.meta.url).pathname;
      const r = await promisify(execFile)(process.execPath, [bin, "train", spec, "--data", "moons", "--n", "2000", "--steps", "50", "--batch", "64", "--lr", "300", "--out", path.join(dir, "run"), "--detect-anomaly", "--quiet"]).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/step \d+: anomaly on the forward pass in layer 0 \(affine: `affine`\): the first non-finite output, row \d+, feature [01] is -?Infinity/);
      expect(r.stderr).toContain("learning rate too high (now 300)");
      expect(r.stderr).toMatch(/the last good checkpoint in .* is kept/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
