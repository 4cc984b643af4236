/**
 * @fileoverview PNG pictures for `flowc sample` and training reports,
 * drawn pixel by pixel with pngjs (no plotting dependency): a 2-D density
 * heat map with samples on top, and a grid of image samples.
 */
import pngjs from "pngjs";
import { FLOW6, inputError } from "../../runtime-wasm/host/errors.ts";
import { writeFileAtomic } from "./io/atomic.ts";

const { PNG } = pngjs;

/** Plot window in data coordinates. */
export interface Bounds {
  xmin: number;
  xmax: number;
  ymin: number;
  ymax: number;
}

export interface ScatterDensityOptions {
  /** log p at m points given as m × 2 row-major; drawn as a heat map of p under the samples. */
  density?: (x: Float64Array) => Float64Array;
  /** Default: a square window around the central 99% of the samples. */
  bounds?: Bounds;
  /** Image side in pixels (default 512). */
  size?: number;
}

export interface ImageGridOptions {
  count: number;
  /** 1 (grey) or 3 (RGB), channels first as the flow's events are. */
  channels: number;
  height: number;
  width: number;
  /** Tiles per row (default ⌈√count⌉). */
  cols?: number;
  /** Integer upscaling factor (nearest neighbour, default 1). */
  scale?: number;
}

// Samples of matplotlib's viridis at 0, 1/8, …, 1; linear interpolation between them is close enough for a heat map.
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [253, 231, 37],
];

/** RGB of the colormap at t ∈ [0, 1]. */
export function viridis(t: number): [number, number, number] {
  const u = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const f = u - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return [0, 1, 2].map((k) => Math.round(a[k] + f * (b[k] - a[k]))) as [number, number, number];
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/** A square window (equal scale on both axes) around the central 99% of the finite samples, with a margin. */
export function defaultBounds(samples: Float64Array): Bounds {
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i + 1 < samples.length; i += 2) {
    if (Number.isFinite(samples[i]) && Number.isFinite(samples[i + 1])) {
      xs.push(samples[i]);
      ys.push(samples[i + 1]);
    }
  }
  if (xs.length === 0) return { xmin: -4, xmax: 4, ymin: -4, ymax: 4 };
  const sx = Float64Array.from(xs).sort();
  const sy = Float64Array.from(ys).sort();
  const x0 = quantile(sx, 0.005), x1 = quantile(sx, 0.995);
  const y0 = quantile(sy, 0.005), y1 = quantile(sy, 0.995);
  const half = Math.max(x1 - x0, y1 - y0, 1e-6) * 0.6;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  return { xmin: cx - half, xmax: cx + half, ymin: cy - half, ymax: cy + half };
}

/** Tick spacing giving roughly 4–10 ticks over `range`: 1, 2 or 5 times a power of ten. */
function tickStep(range: number): number {
  const raw = range / 6;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

class Canvas {
  readonly png: InstanceType<typeof PNG>;
  constructor(readonly width: number, readonly height: number, rgb: [number, number, number]) {
    this.png = new PNG({ width, height });
    const d = this.png.data;
    for (let k = 0; k < width * height; k++) {
      d[4 * k] = rgb[0];
      d[4 * k + 1] = rgb[1];
      d[4 * k + 2] = rgb[2];
      d[4 * k + 3] = 255;
    }
  }
  /** Alpha-blend a colour over pixel (x, y); out-of-range pixels are ignored. */
  blend(x: number, y: number, rgb: readonly number[], alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = 4 * (y * this.width + x);
    const d = this.png.data;
    for (let k = 0; k < 3; k++) d[o + k] = Math.round(d[o + k] * (1 - alpha) + rgb[k] * alpha);
  }
  bytes(): Uint8Array {
    const buf = PNG.sync.write(this.png);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }
}

/**
 * A heat map of exp(log p) over the window (if `density` is given) with the
 * samples (n × 2, row-major) drawn as small translucent dots, inside an axes
 * box with tick marks. Written atomically.
 */
export function scatterDensityPng(path: string, samples: Float64Array, opts: ScatterDensityOptions = {}): void {
  const size = opts.size ?? 512;
  if (!Number.isSafeInteger(size) || size < 32 || size > 8192) {
    throw inputError(FLOW6.badArgument, { what: "the plot size", expected: "an integer between 32 and 8192", got: size });
  }
  const b = opts.bounds ?? defaultBounds(samples);
  if (!(b.xmax > b.xmin && b.ymax > b.ymin)) {
    throw inputError(FLOW6.badArgument, { what: "the plot bounds", expected: "xmin < xmax and ymin < ymax", got: JSON.stringify(b) });
  }
  const margin = 8;
  const inner = size - 2 * margin;
  const canvas = new Canvas(size, size, [255, 255, 255]);
  const toPx = (x: number) => margin + ((x - b.xmin) / (b.xmax - b.xmin)) * inner;
  const toPy = (y: number) => margin + ((b.ymax - y) / (b.ymax - b.ymin)) * inner;

  if (opts.density) {
    const grid = new Float64Array(2 * inner * inner);
    for (let r = 0; r < inner; r++) {
      const y = b.ymax - ((r + 0.5) / inner) * (b.ymax - b.ymin);
      for (let c = 0; c < inner; c++) {
        grid[2 * (r * inner + c)] = b.xmin + ((c + 0.5) / inner) * (b.xmax - b.xmin);
        grid[2 * (r * inner + c) + 1] = y;
      }
    }
    const lp = opts.density(grid);
    let max = -Infinity;
    for (let k = 0; k < inner * inner; k++) if (Number.isFinite(lp[k]) && lp[k] > max) max = lp[k];
    for (let r = 0; r < inner; r++) {
      for (let c = 0; c < inner; c++) {
        const v = lp[r * inner + c];
        // Relative to the peak, so exp() neither overflows nor depends on normalisation.
        const t = Number.isFinite(v) && Number.isFinite(max) ? Math.exp(v - max) : 0;
        canvas.blend(margin + c, margin + r, viridis(t));
      }
    }
  }

  const n = Math.floor(samples.length / 2);
  // Fainter dots for larger samples so dense regions still read as density.
  const alpha = Math.min(0.8, Math.max(0.08, 300 / Math.max(1, n)));
  const dot = opts.density ? [255, 255, 255] : [20, 40, 120];
  for (let i = 0; i < n; i++) {
    const x = samples[2 * i];
    const y = samples[2 * i + 1];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const px = Math.floor(toPx(x));
    const py = Math.floor(toPy(y));
    if (px < margin || py < margin || px >= margin + inner || py >= margin + inner) continue;
    for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) canvas.blend(px + dx, py + dy, dot, alpha);
  }

  // Axes box and ticks.
  const ink = [0, 0, 0];
  for (let k = margin - 1; k <= margin + inner; k++) {
    canvas.blend(k, margin - 1, ink);
    canvas.blend(k, margin + inner, ink);
    canvas.blend(margin - 1, k, ink);
    canvas.blend(margin + inner, k, ink);
  }
  const tick = (lo: number, hi: number, draw: (v: number) => void) => {
    const step = tickStep(hi - lo);
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) draw(v);
  };
  tick(b.xmin, b.xmax, (x) => {
    const px = Math.round(toPx(x));
    for (let k = 1; k <= 5; k++) canvas.blend(px, margin + inner - k, ink);
    for (let k = 1; k <= 4; k++) canvas.blend(px, margin + inner + k, ink);
  });
  tick(b.ymin, b.ymax, (y) => {
    const py = Math.round(toPy(y));
    for (let k = 0; k < 5; k++) canvas.blend(margin + k, py, ink);
    for (let k = 1; k <= 4; k++) canvas.blend(margin - 1 - k, py, ink);
  });

  writeFileAtomic(path, canvas.bytes());
}

/**
 * A grid of images (count × channels × height × width, values in [0, 1],
 * clamped; NaN shows black) separated by 1-pixel grey lines. Written atomically.
 */
export function imageGridPng(path: string, images: Float64Array | Float32Array, opts: ImageGridOptions): void {
  const { count, channels, height, width } = opts;
  const scale = opts.scale ?? 1;
  const bad = (what: string, expected: string, got: unknown) => inputError(FLOW6.badArgument, { what, expected, got });
  for (const [k, v] of Object.entries({ count, height, width, scale })) {
    if (!Number.isSafeInteger(v) || v < 1) throw bad(`the image grid's ${k}`, "a positive integer", v);
  }
  if (channels !== 1 && channels !== 3) throw bad("the image grid's channels", "1 or 3", channels);
  const per = channels * height * width;
  if (images.length < count * per) throw bad("the image array's length", `at least ${count} × ${per}`, images.length);
  const cols = opts.cols ?? Math.ceil(Math.sqrt(count));
  if (!Number.isSafeInteger(cols) || cols < 1) throw bad("the image grid's cols", "a positive integer", cols);
  const rows = Math.ceil(count / cols);
  const tw = width * scale;
  const th = height * scale;
  const pad = 1;
  const W = cols * (tw + pad) + pad;
  const H = rows * (th + pad) + pad;
  const canvas = new Canvas(W, H, [128, 128, 128]);
  const d = canvas.png.data;
  const byte = (v: number) => (Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, v)) * 255) : v === Infinity ? 255 : 0);

  for (let i = 0; i < count; i++) {
    const ox = pad + (i % cols) * (tw + pad);
    const oy = pad + Math.floor(i / cols) * (th + pad);
    const base = i * per;
    for (let y = 0; y < th; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < tw; x++) {
        const sx = Math.floor(x / scale);
        const o = 4 * ((oy + y) * W + ox + x);
        for (let c = 0; c < 3; c++) {
          const ch = channels === 1 ? 0 : c;
          d[o + c] = byte(images[base + ch * height * width + sy * width + sx]);
        }
      }
    }
  }
  writeFileAtomic(path, canvas.bytes());
}
