/**
 * @fileoverview End to end through the CLI on an image flow (RealNVP on the
 * 8×8 digits, a small budget): `flowc train --sample-every` reports finite
 * bits/dim and writes sample grids without changing the trained weights,
 * `eval --json` reports bits/dim, and `sample -o grid.png` maps the data's
 * levels onto [0, 1] (pixel = 255 · value / levels). Also `--sample-every`
 * on a 2-D flow (a scatter) and its refusal on a flow it cannot draw.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { readNpy } from "../compiler/cli/io/npy.ts";

const root = join(import.meta.dirname, "..");
const flowc = (...args: string[]) => spawnSync(process.execPath, [join(root, "bin/flowc.mjs"), ...args], { encoding: "utf8", cwd: root, timeout: 300_000 });
const png = (file: string) => PNG.sync.read(readFileSync(file));

// Each case spawns the CLI (compiling the spec for `train`); slow on a busy machine.
const slow = { timeout: 600_000 };

describe("flowc on realnvp-digits", slow, () => {
  const dir = mkdtempSync(join(tmpdir(), "flowc-images-"));
  const out = join(dir, "run");
  const train = (o: string, ...extra: string[]) =>
    flowc("train", "spec-examples/realnvp-digits.flow", "--data", "digits", "--steps", "30", "--batch", "32", "--lr", "1e-3", "--seed", "2", "--out", o, ...extra);

  it("trains with finite bits/dim and writes a sample grid every N steps", () => {
    const r = train(out, "--sample-every", "15", "--checkpoint-every", "15");
    expect(r.status, r.stderr).toBe(0);
    const bpd = [...r.stderr.matchAll(/\(([\d.]+) bits\/dim\)/g)].map((m) => Number(m[1]));
    expect(bpd.length).toBeGreaterThan(0);
    for (const v of bpd) expect(Number.isFinite(v) && v > 0 && v < 10).toBe(true);
    for (const step of [15, 30]) {
      const f = join(out, `samples-${step}.png`);
      expect(existsSync(f)).toBe(true);
      // 64 tiles of 8×8 pixels enlarged 4×, in 8 columns with 1-pixel separators.
      const p = png(f);
      expect([p.width, p.height]).toEqual([8 * 33 + 1, 8 * 33 + 1]);
    }
    expect(existsSync(join(out, "samples-10.png"))).toBe(false);
    const info = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(info.step).toBe(30);
    expect(Number.isFinite(info.trainNll)).toBe(true);
  });

  it("draws the progress samples without touching the training RNG: same weights without them", () => {
    const plain = join(dir, "plain");
    const r = train(plain, "--quiet");
    expect(r.status, r.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(join(plain, "weights.safetensors")), readFileSync(join(out, "weights.safetensors")))).toBe(0);
  });

  it("eval --json includes bitsPerDim on the test split", () => {
    const r = flowc("eval", out, "--data", "digits", "--json");
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.n).toBe(359);
    expect(Number.isFinite(res.bitsPerDim)).toBe(true);
    expect(res.bitsPerDim).toBeCloseTo(res.nll / (64 * Math.LN2), 10);
    // 30 steps already beat the 17-level uniform (log2 17 ≈ 4.09 bits/dim).
    expect(res.bitsPerDim).toBeLessThan(4.09);
  });

  it("sample -o grid.png divides by the dequantize levels", () => {
    const grid = join(dir, "grid.png"), raw = join(dir, "grid.npy");
    for (const f of [grid, raw]) {
      const r = flowc("sample", out, "-n", "64", "--seed", "5", "--temperature", "0.7", "-o", f);
      expect(r.status, r.stderr).toBe(0);
    }
    const x = readNpy(raw);
    expect(x.shape).toEqual([64, 1, 8, 8]);
    for (const v of x.data) expect(Number.isInteger(v) && v >= 0 && v <= 16).toBe(true);
    const p = png(grid);
    // Tile i, pixel (y, x) of the image is drawn at (1 + col·33 + 4x, 1 + row·33 + 4y).
    let bright = 0;
    for (let i = 0; i < 64; i++) {
      for (let y = 0; y < 8; y++) {
        for (let xx = 0; xx < 8; xx++) {
          const v = x.data[i * 64 + y * 8 + xx];
          const px = 1 + (i % 8) * 33 + 4 * xx, py = 1 + Math.floor(i / 8) * 33 + 4 * y;
          expect(p.data[4 * (py * p.width + px)]).toBe(Math.round((v / 17) * 255));
          if (v >= 8) bright++;
        }
      }
    }
    expect(bright).toBeGreaterThan(0);
  });
});

describe("flowc train --sample-every on other flows", slow, () => {
  const dir = mkdtempSync(join(tmpdir(), "flowc-images-2d-"));

  it("writes a scatter over the density for a 2-D flow", () => {
    const out = join(dir, "moons");
    const r = flowc("train", "spec-examples/moons.flow", "--data", "moons", "--n", "2000", "--steps", "20", "--batch", "128", "--out", out, "--sample-every", "20", "--quiet");
    expect(r.status, r.stderr).toBe(0);
    expect(png(join(out, "samples-20.png")).width).toBe(512);
  });

  it("refuses a flow it cannot draw, before training", () => {
    const spec = join(dir, "three.flow");
    writeFileSync(spec, "input [3]\ncoupling affine mask=half net=mlp(hidden=8, depth=1)\n");
    const out = join(dir, "three");
    const r = flowc("train", spec, "--data", "moons", "--steps", "5", "--out", out, "--sample-every", "1");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--sample-every .*image flow or a 2-D flow.*\[3\]/);
    expect(existsSync(join(out, "weights.safetensors"))).toBe(false);
  });
});
