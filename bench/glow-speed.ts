/**
 * @fileoverview Training throughput of an image flow, measured one way for
 * every build (plain and relaxed SIMD) and thread count: one warm-up step,
 * then `steps` timed steps of batch `B` on consecutive slices of `data`.
 */
import { loadFlow } from "../runtime-wasm/host/flow.ts";

export interface Speed {
  /** Training images per second. */
  ips: number;
  /** Threads the flow actually ran on (it falls back to 1 where shared memory is unavailable). */
  threads: number;
  /** The module instantiated (the relaxed-SIMD build where the runtime chose it; see runtime-wasm/host/relaxed.ts). */
  module: WebAssembly.Module;
}

export async function trainSpeed(wasm: Uint8Array, data: Float64Array | Float32Array, opts: { threads: number; steps: number; batch: number; eventSize: number }): Promise<Speed> {
  const { threads, steps, batch: B, eventSize: D } = opts;
  const flow = await loadFlow(wasm, { threads });
  for (const note of flow.notes) process.stderr.write(`note: ${note}\n`);
  flow.initialize({ seed: 0, data: data.subarray(0, 256 * D) });
  const trainer = flow.trainer({ lr: 1e-3, batchSize: B });
  trainer.step(data.subarray(0, B * D));
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) trainer.step(data.subarray(s * B * D, (s + 1) * B * D));
  const ips = (steps * B) / ((performance.now() - t0) / 1000);
  const result = { ips, threads: flow.threads, module: flow.module };
  flow.dispose();
  return result;
}
