/**
 * @fileoverview Draws a snapshot of the learned density: the grid of
 * log-densities as a heat map (density relative to its maximum, viridis),
 * the flow's samples as dots, and the box's extent.
 */
import type { Snapshot } from "./protocol.ts";

// matplotlib's viridis at nine evenly spaced stops; linear in between.
const VIRIDIS = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];

export function viridis(t: number): [number, number, number] {
  const u = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const f = u - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

/** Draw `snap` onto `canvas`; non-finite log-densities (a diverged flow) draw as black. */
export function drawSnapshot(canvas: HTMLCanvasElement, snap: Snapshot, showSamples: boolean): void {
  const g = snap.grid, lp = snap.logDensity;
  let max = -Infinity;
  for (let i = 0; i < lp.length; i++) if (Number.isFinite(lp[i]) && lp[i] > max) max = lp[i];
  const img = new ImageData(g, g);
  for (let i = 0; i < lp.length; i++) {
    const ok = Number.isFinite(lp[i]) && Number.isFinite(max);
    const [r, gr, b] = ok ? viridis(Math.exp(lp[i] - max)) : [0, 0, 0];
    img.data[4 * i] = r;
    img.data[4 * i + 1] = gr;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 255;
  }
  const small = new OffscreenCanvas(g, g);
  small.getContext("2d")!.putImageData(img, 0, 0);
  const ctx = canvas.getContext("2d")!;
  const W = canvas.width, H = canvas.height;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(small, 0, 0, W, H);

  const [x0, x1, y0, y1] = snap.box;
  if (showSamples) {
    ctx.fillStyle = "rgba(255, 255, 255, 0.75)";
    const s = snap.samples;
    for (let i = 0; i + 1 < s.length; i += 2) {
      const px = ((s[i] - x0) / (x1 - x0)) * W, py = ((y1 - s[i + 1]) / (y1 - y0)) * H;
      if (px >= 0 && px < W && py >= 0 && py < H) ctx.fillRect(px - 1, py - 1, 2.2, 2.2);
    }
  }
  ctx.font = "11px ui-monospace, monospace";
  ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
  const f = (v: number) => v.toFixed(2);
  ctx.fillText(`x ∈ [${f(x0)}, ${f(x1)}]  y ∈ [${f(y0)}, ${f(y1)}]`, 6, H - 6);
}
