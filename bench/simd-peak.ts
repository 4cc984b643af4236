/**
 * @fileoverview Estimates this machine's wasm SIMD f32 peak (independent
 * f32x4 multiply-add chains) and measures the runtime library's dense
 * kernels against it. Run: node bin/run-ts.mjs bench/simd-peak.ts
 * Shapes are compile-time constants in the measured module, as they are in
 * generated flows. FLOP counts are 2·n·IN·OUT; bwd_w+gb also sums the bias
 * gradient, which is not counted. Prints a table; asserts nothing.
 */
import { compileAssemblyScript } from "../compiler/codegen/asc.ts";

type Fn = (...args: number[]) => number;

async function instantiate(src: string): Promise<Record<string, Fn> & { memory: WebAssembly.Memory }> {
  const { wasm, errors } = await compileAssemblyScript({ "main.ts": src }, "main.ts", "f32");
  if (!wasm) throw new Error(errors);
  const { instance } = await WebAssembly.instantiate(wasm as BufferSource, { env: { abort() { throw new Error("abort"); } } });
  return instance.exports as never;
}

/**
 * Best seconds per call of fn(reps): reps is sized so one round takes about
 * half a millisecond, short enough to usually run undisturbed on a busy
 * machine, and the minimum over many rounds is kept. The first rounds also
 * give V8 time to tier the module up to its optimising compiler.
 */
function time(fn: (reps: number) => void, rounds = 300): number {
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    fn(reps);
    if (performance.now() - t0 > 0.5) break;
    reps *= 2;
  }
  let best = Infinity;
  for (let k = 0; k < rounds; k++) {
    const t0 = performance.now();
    fn(reps);
    best = Math.min(best, (performance.now() - t0) / 1000 / reps);
  }
  return best;
}

// ---- peak ---------------------------------------------------------------

/** K chains acc_k ← acc_k·m + c; m = 1 and c = 0 at run time keep values fixed and normal. */
function peakSource(K: number): string {
  const decl = Array.from({ length: K }, (_, k) => `let a${k} = f32x4.splat(<f32>${k + 1});`).join("\n  ");
  const body = Array.from({ length: K }, (_, k) => `a${k} = f32x4.add(f32x4.mul(a${k}, vm), vc);`).join("\n    ");
  const sum = Array.from({ length: K }, (_, k) => `a${k}`).reduce((s, a) => `f32x4.add(${s}, ${a})`);
  return `export function peak${K}(iters: i32, m: f32, c: f32): f32 {
  const vm = f32x4.splat(m), vc = f32x4.splat(c);
  ${decl}
  for (let i = 0; i < iters; i++) {
    ${body}
  }
  const s = ${sum};
  return f32x4.extract_lane(s, 0);
}
`;
}

const CHAINS = [8, 10, 12, 14];
const peakMod = await instantiate(CHAINS.map(peakSource).join("\n"));
let peak = 0;
let peakChains = 0;
for (const K of CHAINS) {
  const iters = 1 << 10;
  const s = time((reps) => peakMod[`peak${K}`](iters * reps, 1, 0) as unknown as void) / iters;
  const gflops = (K * 8) / s / 1e9;
  if (gflops > peak) { peak = gflops; peakChains = K; }
}

// ---- dense kernels ----------------------------------------------------------

interface Shape { kernel: "fwd" | "bwd_x" | "bwd_w"; n: number; IN: number; OUT: number }

const SHAPES: Shape[] = [
  { kernel: "fwd", n: 256, IN: 64, OUT: 64 },
  { kernel: "fwd", n: 256, IN: 1, OUT: 64 },
  { kernel: "fwd", n: 256, IN: 64, OUT: 2 },
  { kernel: "fwd", n: 256, IN: 8, OUT: 64 },
  { kernel: "fwd", n: 256, IN: 128, OUT: 128 },
  { kernel: "bwd_x", n: 256, IN: 64, OUT: 64 },
  { kernel: "bwd_x", n: 256, IN: 1, OUT: 64 },
  { kernel: "bwd_x", n: 256, IN: 64, OUT: 2 },
  { kernel: "bwd_w", n: 256, IN: 64, OUT: 64 },
  { kernel: "bwd_w", n: 256, IN: 1, OUT: 64 },
  { kernel: "bwd_w", n: 256, IN: 64, OUT: 2 },
];

function denseSource(shapes: Shape[]): string {
  const lines = ['import { dense_fwd, dense_bwd_x, dense_bwd_w } from "./lib/dense";', "export function heap_base(): usize { return __heap_base; }"];
  shapes.forEach(({ kernel, n, IN, OUT }, k) => {
    const call =
      kernel === "fwd" ? `dense_fwd(a, b, c, d, ${n}, ${IN}, ${OUT}, ${IN}, ${OUT})`
      : kernel === "bwd_x" ? `dense_bwd_x(a, c, d, ${n}, ${IN}, ${OUT}, ${OUT}, ${IN})`
      : `dense_bwd_w(c, d, a, b, ${n}, ${IN}, ${OUT}, ${IN}, ${OUT})`;
    lines.push(`export function run${k}(reps: i32, a: usize, b: usize, c: usize, d: usize): void { for (let r = 0; r < reps; r++) ${call}; }`);
  });
  return lines.join("\n");
}

const denseMod = await instantiate(denseSource(SHAPES));
const base = (denseMod.heap_base() + 15) & ~15;
const region = 4 << 20;
const need = base + 4 * region - denseMod.memory.buffer.byteLength;
if (need > 0) denseMod.memory.grow(Math.ceil(need / 65536));
const f = new Float32Array(denseMod.memory.buffer);
for (let i = base / 4; i < f.length; i++) f[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
const [pa, pb, pc, pd] = [0, 1, 2, 3].map((k) => base + k * region);

const rows: string[][] = [];
SHAPES.forEach(({ kernel, n, IN, OUT }, k) => {
  // Backward-w accumulates; reset its target so values stay normal over many calls.
  const s = time((reps) => {
    denseMod[`run${k}`](reps, pa, pb, pc, pd);
    if (kernel === "bwd_w") new Float32Array(denseMod.memory.buffer, pa, IN * OUT).fill(0);
  });
  const gflops = (2 * n * IN * OUT) / s / 1e9;
  rows.push([kernel === "bwd_w" ? "bwd_w+gb" : kernel, `${n}`, `${IN}`, `${OUT}`, (s * 1e6).toFixed(2), gflops.toFixed(2), `${((100 * gflops) / peak).toFixed(0)}%`]);
});

const header = ["kernel", "n", "IN", "OUT", "µs/call", "GFLOP/s", "of peak"];
const table = [header, ...rows];
const widths = header.map((_, c) => Math.max(...table.map((r) => r[c].length)));
console.log(`wasm SIMD f32 peak ≈ ${peak.toFixed(1)} GFLOP/s (best of ${CHAINS.join("/")} multiply-add chains: ${peakChains})\n`);
for (const r of table) console.log(r.map((v, c) => (c < 4 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  "));
