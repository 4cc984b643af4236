/**
 * @fileoverview Every spec in spec-examples/ checks clean (notes allowed,
 * no warnings or errors), and the image examples have the shapes their
 * papers describe at every layer.
 */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { check } from "../compiler/check/api.ts";

const dir = fileURLToPath(new URL("../spec-examples/", import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith(".flow")).sort();
const load = (name: string) => check(readFileSync(join(dir, name), "utf8"), { filename: name });

/** The notes each example is expected to carry (slow or unavailable directions are by design). */
const expectedNotes: Record<string, string[]> = {
  "maf-tabular.flow": ["FLOW404"],
  "iaf-vi.flow": ["FLOW405"],
  "planar-vi.flow": ["FLOW403"],
};

/** Repeat a list of shapes n times. */
const times = <T>(n: number, xs: T[]): T[] => Array.from({ length: n }, () => xs).flat();

describe("spec-examples", () => {
  it("has the examples the docs refer to", () => {
    for (const f of ["moons.flow", "glow-mnist.flow", "nice.flow", "maf-tabular.flow", "realnvp-digits.flow", "iaf-vi.flow", "planar-vi.flow", "conditional-moons.flow", "conditional-digits.flow", "nsf-moons.flow", "moons-exp.flow"]) {
      expect(files).toContain(f);
    }
  });

  for (const f of files) {
    it(`${f} checks clean`, () => {
      const res = load(f);
      const text = readFileSync(join(dir, f), "utf8");
      expect(text.startsWith("#"), "starts with a header comment").toBe(true);
      expect(res.diagnostics.filter((d) => d.severity !== "info"), JSON.stringify(res.diagnostics, null, 1)).toEqual([]);
      expect(res.diagnostics.map((d) => d.code)).toEqual(expectedNotes[f] ?? []);
      expect(res.ok).toBe(true);
      expect(res.ir).not.toBeNull();
      expect(res.summary!.totals.params).toBeGreaterThan(0);
    });
  }

  it("glow-mnist has Glow's two-level shapes", () => {
    const ir = load("glow-mnist.flow").ir!;
    const step = (s: number[]) => times(8, [s, s, s]);
    expect(ir.layers.map((l) => l.outShape)).toEqual([
      [1, 28, 28], // dequantize
      [1, 28, 28], // logit
      [4, 14, 14], // squeeze
      ...step([4, 14, 14]),
      [2, 14, 14], // split
      [8, 7, 7], // squeeze
      ...step([8, 7, 7]),
    ]);
    expect(ir.layers.map((l) => l.kind).slice(0, 6)).toEqual(["dequantize", "logit", "squeeze", "actnorm", "conv1x1", "coupling"]);
    expect(ir.latentLayout).toEqual([
      { layer: 27, offset: 0, size: 392, shape: [2, 14, 14] },
      { layer: -1, offset: 392, size: 392, shape: [8, 7, 7] },
    ]);
    // Channel masks flip on every coupling of each level.
    expect(ir.layers.filter((l) => l.kind === "coupling").map((l) => l.parity)).toEqual(times(8, [0, 1]));
    expect(ir.layers[27].params.map((p) => [p.local, p.shape])).toEqual([
      ["prior.weight", [4, 2, 3, 3]],
      ["prior.bias", [4]],
    ]);
    expect(ir.layers[0].opts).toEqual({ noise: "uniform", levels: 256 });
  });

  it("realnvp-digits has RealNVP's multi-scale shapes", () => {
    const ir = load("realnvp-digits.flow").ir!;
    expect(ir.layers.map((l) => l.outShape)).toEqual([
      [1, 8, 8], // dequantize
      [1, 8, 8], // logit
      ...times(6, [[1, 8, 8]]), // 3 × (checker coupling, actnorm)
      [4, 4, 4], // squeeze
      ...times(6, [[4, 4, 4]]), // 3 × (channel coupling, actnorm)
      [2, 4, 4], // split
      ...times(8, [[2, 4, 4]]), // 4 × (checker coupling, actnorm)
    ]);
    expect(ir.layers[0].opts.levels).toBe(17);
    const checker = ir.layers.filter((l) => l.kind === "coupling" && l.opts.mask === "checker");
    expect(checker.map((l) => l.parity)).toEqual([0, 1, 0, 1, 0, 1, 0]);
    // The conditioner of a checker coupling sees the whole masked image.
    expect(checker[0].params.find((p) => p.local === "net.0.weight")!.shape).toEqual([64, 1, 3, 3]);
    expect(checker[0].params.find((p) => p.local === "net.2.weight")!.shape).toEqual([2, 64, 3, 3]);
  });

  it("conditional-moons feeds the context to every conditioner", () => {
    const ir = load("conditional-moons.flow").ir!;
    expect(ir.contextSize).toBe(1);
    for (const l of ir.layers.filter((x) => x.kind === "coupling")) {
      expect(l.params.find((p) => p.local === "net.0.weight")!.shape).toEqual([64, 2]);
    }
  });

  it("planar-vi can sample but not score", () => {
    expect(load("planar-vi.flow").ir!.capabilities).toMatchObject({ logProb: false, sample: true, trainLikelihood: false, trainReverseKL: true });
  });

  it("moons has DESIGN's parameter names", () => {
    const ir = load("moons.flow").ir!;
    expect(ir.layers[0].params.map((p) => p.name)).toEqual([
      "layers.0.net.0.weight", "layers.0.net.0.bias", "layers.0.net.1.weight", "layers.0.net.1.bias", "layers.0.net.2.weight", "layers.0.net.2.bias",
    ]);
    expect(ir.layers[1].params.map((p) => [p.name, p.trainable, p.init])).toEqual([["layers.1.perm", false, { kind: "permutation", n: 2, reverse: true }]]);
  });
});
