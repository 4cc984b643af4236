/**
 * @fileoverview Anomaly detection for training (`flowc train --detect-anomaly`):
 * before each step, the batch runs through every layer on the calling
 * thread and each direction is checked for the first non-finite value —
 * forward (every layer's output, found through the workspace offsets the
 * manifest gives), inverse (the latent of that forward pass mapped back,
 * when every inverse is one parallel pass) and backward (the gradient of
 * each layer's parameters, last layer first, and the gradient reaching the
 * data). The report names the step, the layer index and kind, the direction
 * and the position (row, feature) of the first non-finite value, with a hint
 * for the common causes: an actnorm whose init batch had a constant
 * channel, a `logit` fed 0 or 1, a learning rate too high. It costs about
 * two extra training passes per step, so it is off by default.
 */
import type { Flow, Numbers } from "./flow.ts";

export type AnomalyDirection = "forward" | "inverse" | "backward";

export interface Anomaly {
  step: number;
  direction: AnomalyDirection;
  /** Layer index, or null when no layer output is to blame (log-det sum, base, data gradient). */
  layer: number | null;
  kind: string | null;
  /** 0-based row of the batch and feature of the layer's output (or input, for the inverse). */
  row: number | null;
  feature: number | null;
  value: number | null;
  /** The parameter whose gradient went non-finite (backward). */
  param?: string;
  hint: string;
  message: string;
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function floatView(flow: Flow, ptr: number, count: number): ArrayLike<number> {
  return flow.view(ptr, count);
}

/**
 * Parameters at a layer's known failure value (its manifest `anomaly.saturated`), as
 * "layer 3 (actnorm) channel 2 (log-scale 13.8)", with the first such layer's explanation.
 */
function saturatedParams(flow: Flow): { items: string[]; hint: string } | null {
  const man = flow.manifest;
  const P = flow.view(flow.mem.P, man.paramCount);
  const items: string[] = [];
  let hint = "";
  for (const l of man.layers) {
    const sat = l.anomaly?.saturated;
    const p = sat && man.params.find((q) => q.name === `layers.${l.index}.${sat.param}`);
    if (!sat || !p) continue;
    for (let c = 0; c < p.size; c++) {
      if (P[p.offset + c] < sat.atLeast) continue;
      items.push(`layer ${l.index} (${l.kind}) ${flow.eventShape.length === 3 ? "channel" : "feature"} ${c} (${sat.what} ${P[p.offset + c].toFixed(1)})`);
      hint ||= sat.hint;
    }
  }
  return items.length ? { items, hint } : null;
}

function hintFor(flow: Flow, layer: number | null, step: number, lr: number | undefined): string {
  const sat = saturatedParams(flow);
  if (sat) return `hint: ${sat.items.slice(0, 3).join(", ")}${sat.items.length > 3 ? ` and ${sat.items.length - 3} more` : ""}: ${sat.hint}`;
  const here = layer === null ? undefined : flow.manifest.layers[layer].anomaly?.whenHere;
  if (here) return `hint: ${here}`;
  const rate = lr !== undefined ? ` (now ${lr})` : "";
  return step > 1
    ? `hint: a learning rate too high${rate} is the usual cause once training has run; try a lower --lr, --warmup, or --clip-norm`
    : `hint: this is the first step, so the initial parameters or the data are to blame: check the data's range, or a learning rate too high${rate}`;
}

/**
 * Check one training batch (rows of `flow.eventSize`, optional context rows) in every direction.
 * Returns the first anomaly, or null when every value is finite. Leaves the flow's parameters,
 * optimizer state and RNG state unchanged; overwrites the gradient buffer, which the next
 * training step zeroes anyway.
 */
export function detectAnomaly(flow: Flow, batch: Numbers, opts: { step: number; lr?: number; context?: Numbers } = { step: 1 }): Anomaly | null {
  const e = flow.exports, mem = flow.mem, man = flow.manifest;
  const D = flow.eventSize, K = flow.contextSize, n = Math.floor(batch.length / D);
  const rng = new Uint8Array(e.memory.buffer, mem.ws, 64).slice(); // stochastic layers draw from it
  const report = (direction: AnomalyDirection, layer: number | null, row: number | null, feature: number | null, value: number | null, what: string, param?: string): Anomaly => {
    const kind = layer === null ? null : man.layers[layer].kind;
    const hint = hintFor(flow, layer, opts.step, opts.lr);
    const where = layer === null ? "" : ` in layer ${layer} (${kind}: \`${man.layers[layer].text}\`)`;
    const pos = row === null ? "" : `, row ${row}${feature === null ? "" : `, feature ${feature}`}`;
    const message = `step ${opts.step}: anomaly on the ${direction} pass${where}: ${what}${pos}${value === null ? "" : ` is ${value}`}\n${hint}`;
    return { step: opts.step, direction, layer, kind, row, feature, value, ...(param ? { param } : {}), hint, message };
  };
  const canInvert = man.capabilities.sample && man.layers.every((l) => l.direction.inverse.kind === "analytic" && l.direction.inverse.cost === "parallel");
  try {
    for (let s = 0; s < n; s += flow.chunk) {
      const m = Math.min(flow.chunk, n - s);
      flow.copyIn(mem.X, batch, s * D, m * D);
      let cx = 0;
      if (K > 0 && opts.context) {
        const one = opts.context.length === K;
        const v = flow.view(mem.CX, m * K);
        for (let i = 0; i < m * K; i++) v[i] = one ? opts.context[i % K] : opts.context[s * K + i];
        cx = mem.CX;
      }

      // Forward: every layer's output, in order.
      new Uint8Array(e.memory.buffer, mem.ws, 64).set(rng);
      e.forward(mem.P, mem.ws, mem.X, mem.Z, mem.LD, m, cx);
      for (const l of man.layers) {
        const w = size(l.outShape);
        const bad = e.first_nonfinite(mem.ws + l.act, m * w);
        if (bad >= 0) {
          return report("forward", l.index, s + Math.floor(bad / w), bad % w, floatView(flow, mem.ws + l.act, m * w)[bad], "the first non-finite output");
        }
      }
      const ld = e.first_nonfinite(mem.LD, m);
      if (ld >= 0) return report("forward", null, s + ld, null, floatView(flow, mem.LD, m)[ld], "every layer's output is finite but the sum of log-determinants");

      // Inverse: map this latent back, last layer first; a layer's inverse writes the previous layer's output buffer.
      if (canInvert) {
        new Uint8Array(e.memory.buffer, mem.ws, 64).set(rng);
        e.inverse(mem.P, mem.ws, mem.Z, mem.GX, mem.LD, m, cx);
        for (let i = man.layers.length - 1; i >= 0; i--) {
          const l = man.layers[i], w = size(l.inShape);
          const out = i === 0 ? mem.GX : mem.ws + man.layers[i - 1].act;
          const bad = e.first_nonfinite(out, m * w);
          if (bad >= 0) return report("inverse", i, s + Math.floor(bad / w), bad % w, floatView(flow, out, m * w)[bad], "the first non-finite value it reconstructs");
        }
      }

      // Backward: the gradient of each layer's parameters, in the order the backward pass reaches them.
      new Uint8Array(e.memory.buffer, mem.ws, 64).set(rng);
      e.zero_buf(mem.G, man.paramCount);
      const nll = e.train_chunk(mem.P, mem.G, mem.ws, mem.X, m, 1 / n, cx);
      if (!Number.isFinite(nll)) return report("forward", null, null, null, nll, "every layer's output is finite but the base log-density of the chunk");
      const params = man.params.slice().sort((a, b) => (b.layer < 0 ? Infinity : b.layer) - (a.layer < 0 ? Infinity : a.layer));
      for (const p of params) {
        const bad = e.first_nonfinite(mem.G + p.offset * flow.sz, p.size);
        if (bad >= 0) {
          return report("backward", p.layer >= 0 ? p.layer : null, null, null, floatView(flow, mem.G + p.offset * flow.sz, p.size)[bad], `the gradient of parameter ${p.name} at element ${bad}`, p.name);
        }
      }
    }
    return null;
  } finally {
    new Uint8Array(e.memory.buffer, mem.ws, 64).set(rng);
    e.zero_buf(mem.G, man.paramCount);
  }
}
