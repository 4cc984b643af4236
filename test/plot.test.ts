/**
 * @fileoverview PNG writers: files decode, have the documented size, and
 * the pixels show what was asked (the heat map peaks where the density
 * does; image tiles land in their cells, clamped).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import pngjs from "pngjs";
import { imageGridPng, scatterDensityPng, viridis } from "../compiler/cli/plot.ts";
import { sampleToy } from "../runtime-wasm/host/toys.ts";
import { FLOW6, FlowcInputError } from "../runtime-wasm/host/errors.ts";

const { PNG } = pngjs;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "flowc-plot-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function read(file: string) {
  return PNG.sync.read(fs.readFileSync(file));
}

function pixel(png: ReturnType<typeof read>, x: number, y: number): number[] {
  const o = 4 * (y * png.width + x);
  return Array.from(png.data.subarray(o, o + 4));
}

/** Standard normal log-density at m points given as m × 2. */
function gaussLogp(x: Float64Array): Float64Array {
  return Float64Array.from({ length: x.length / 2 }, (_, i) => -0.5 * (x[2 * i] ** 2 + x[2 * i + 1] ** 2) - Math.log(2 * Math.PI));
}

describe("scatterDensityPng", () => {
  it("draws a heat map that peaks where the density does", () => {
    const file = path.join(dir, "density.png");
    let calls = 0;
    scatterDensityPng(file, new Float64Array(0), {
      density: (x) => {
        calls++;
        return gaussLogp(x);
      },
      bounds: { xmin: -3, xmax: 3, ymin: -3, ymax: 3 },
      size: 200,
    });
    expect(calls).toBe(1);
    const png = read(file);
    expect([png.width, png.height]).toEqual([200, 200]);
    // Centre: the top of the colormap (yellow); a corner of the plot area: the bottom (purple).
    expect(pixel(png, 100, 100).slice(0, 3)).toEqual(viridis(1).map((v) => expect.closeTo(v, -1.2)));
    expect(pixel(png, 10, 10).slice(0, 3)).toEqual(viridis(0).map((v) => expect.closeTo(v, -1.2)));
    // The axes box is drawn just outside the plot area.
    expect(pixel(png, 7, 100).slice(0, 3)).toEqual([0, 0, 0]);
  });

  it("draws samples alone, with default bounds and size", () => {
    const file = path.join(dir, "moons.png");
    scatterDensityPng(file, sampleToy("moons", 2000, 1));
    const png = read(file);
    expect([png.width, png.height]).toEqual([512, 512]);
    let dark = 0;
    for (let k = 0; k < png.width * png.height; k++) if (png.data[4 * k] < 200) dark++;
    expect(dark).toBeGreaterThan(2000); // dots (and the box) were drawn
    expect(dark).toBeLessThan(0.5 * png.width * png.height);
  });

  it("ignores non-finite samples and log-densities", () => {
    const file = path.join(dir, "nan.png");
    scatterDensityPng(file, Float64Array.from([0, 0, NaN, 1, Infinity, 2]), {
      density: (x) => new Float64Array(x.length / 2).fill(NaN),
      bounds: { xmin: -1, xmax: 1, ymin: -1, ymax: 1 },
      size: 64,
    });
    expect(read(file).width).toBe(64);
  });

  it("rejects bad sizes and bounds", () => {
    expect(() => scatterDensityPng(path.join(dir, "x.png"), new Float64Array(2), { size: 3 })).toThrow(FlowcInputError);
    expect(() => scatterDensityPng(path.join(dir, "x.png"), new Float64Array(2), { bounds: { xmin: 1, xmax: 0, ymin: 0, ymax: 1 } })).toThrow(FlowcInputError);
    expect(fs.existsSync(path.join(dir, "x.png"))).toBe(false);
  });
});

describe("imageGridPng", () => {
  it("tiles grey images with padding, scaling and clamping", () => {
    const file = path.join(dir, "grid.png");
    const count = 5, h = 4, w = 3;
    const images = new Float64Array(count * h * w);
    for (let i = 0; i < count; i++) images.fill(i / 4, i * h * w, (i + 1) * h * w);
    images[0] = -1; // clamps to black
    images[h * w + 1] = 7; // clamps to white
    images[2 * h * w] = NaN;
    imageGridPng(file, images, { count, channels: 1, height: h, width: w, cols: 3, scale: 2 });
    const png = read(file);
    expect([png.width, png.height]).toEqual([3 * (2 * w + 1) + 1, 2 * (2 * h + 1) + 1]);
    expect(pixel(png, 0, 0)).toEqual([128, 128, 128, 255]); // padding
    expect(pixel(png, 1, 1)).toEqual([0, 0, 0, 255]); // image 0, clamped
    expect(pixel(png, 1 + 7 + 2, 1)).toEqual([255, 255, 255, 255]); // image 1, pixel (0, 1) clamped, scaled ×2
    expect(pixel(png, 1 + 7, 3)).toEqual([64, 64, 64, 255]); // image 1 = 0.25
    expect(pixel(png, 1 + 14, 1)).toEqual([0, 0, 0, 255]); // image 2, NaN → black
    expect(pixel(png, 1 + 7, 1 + 9 + 2)).toEqual([255, 255, 255, 255]); // image 4 = 1.0, second row
  });

  it("writes RGB images channels-first", () => {
    const file = path.join(dir, "rgb.png");
    const img = new Float32Array(3 * 2 * 2);
    img.fill(1, 0, 4); // red plane
    img.fill(0.5, 8, 12); // blue plane
    imageGridPng(file, img, { count: 1, channels: 3, height: 2, width: 2 });
    const png = read(file);
    expect([png.width, png.height]).toEqual([4, 4]);
    expect(pixel(png, 1, 1)).toEqual([255, 0, 128, 255]);
  });

  it("rejects inconsistent arguments", () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as FlowcInputError).code;
      }
      return "none";
    };
    const f = path.join(dir, "bad.png");
    expect(code(() => imageGridPng(f, new Float64Array(10), { count: 2, channels: 1, height: 2, width: 3 }))).toBe(FLOW6.badArgument);
    expect(code(() => imageGridPng(f, new Float64Array(8), { count: 1, channels: 2, height: 2, width: 2 }))).toBe(FLOW6.badArgument);
    expect(code(() => imageGridPng(f, new Float64Array(8), { count: 1, channels: 1, height: 2, width: 2, scale: 0 }))).toBe(FLOW6.badArgument);
  });
});
