/**
 * @fileoverview Builds the `flowc.manifest` JSON a module carries: everything
 * the host needs to know about the flow, and nothing it has to re-derive.
 */
import type { IRFlow } from "../ir/types.ts";
import type { Manifest } from "../../runtime-wasm/host/manifest.ts";
import { FLOWC_VERSION } from "../version.ts";

export const EXPORTS = ["heap_base", "chunk_size", "seed", "forward", "inverse", "log_prob", "sample", "backward", "train_chunk", "layer_init", "project", "layer_fwd", "layer_inv", "layer_bwd", "layer_bwd_inv", "backward_inv", "adam", "grad_sqnorm", "scale", "first_nonfinite", "zero_buf"];

/** The manifest as the compiler writes it: `recompute` says the module's backward walks rebuild
 *  activations with the inverse (its layers' `act` offsets then name two shared ping-pong buffers). */
export type CompiledManifest = Manifest & { recompute: boolean };

export function buildManifest(ir: IRFlow, precision: "f32" | "f64", gen: { chunk: number; workspaceBytes: number; wsZ: number; wsGZ: number; layers: { index: number; act: number }[]; recompute?: boolean }): CompiledManifest {
  const layerOf = new Map<string, number>();
  for (const l of ir.layers) for (const p of l.params) layerOf.set(p.name, l.index);
  const all = [...ir.layers.flatMap((l) => l.params), ...ir.base.params].sort((a, b) => a.offset - b.offset);
  return {
    format: "flowc-module",
    formatVersion: 1,
    compiler: FLOWC_VERSION,
    precision,
    filename: ir.filename,
    source: ir.source,
    hash: ir.hash,
    inputShape: ir.inputShape,
    eventSize: ir.eventSize,
    contextSize: ir.contextSize,
    latentSize: ir.latentSize,
    latentLayout: ir.latentLayout,
    chunk: gen.chunk,
    workspaceBytes: gen.workspaceBytes,
    recompute: !!gen.recompute,
    workspace: { z: gen.wsZ, gz: gen.wsGZ },
    paramCount: ir.paramCount,
    trainableCount: ir.trainableCount,
    params: all.map((p) => ({ name: p.name, layer: layerOf.get(p.name) ?? -1, shape: p.shape, offset: p.offset, size: p.size, init: p.init, trainable: p.trainable })),
    layers: ir.layers.map((l, i) => ({
      index: l.index,
      kind: l.kind,
      text: l.text,
      inShape: l.inShape,
      outShape: l.outShape,
      act: gen.layers[i].act,
      direction: { forward: l.direction.forward, inverse: l.direction.inverse },
      dataInit: false,
    })),
    base: { kind: ir.base.kind, opts: ir.base.opts as Record<string, unknown> },
    capabilities: ir.capabilities,
    exports: EXPORTS,
  };
}

