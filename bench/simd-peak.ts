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

/** --relaxed: build with relaxed SIMD (fused multiply-add where the CPU has it); Node 20 needs --experimental-wasm-relaxed-simd. */
const relaxed = process.argv.includes("--relaxed");

async function instantiate(src: string): Promise<Record<string, Fn> & { memory: WebAssembly.Memory }> {
  const { wasm, errors } = await compileAssemblyScript({ "main.ts": src }, "main.ts", "f32", relaxed ? ["--enable", "relaxed-simd"] : []);
  if (!wasm) throw new Error(errors);
  const module = await WebAssembly.compile(wasm as BufferSource);
  const env: Record<string, unknown> = { abort() { throw new Error("abort"); } };
  // Modules may import their memory (shared when built for threads): give them one.
  const memory = WebAssembly.Module.imports(module).some((i) => i.kind === "memory") ? linkMemory(module, env) : null;
  const instance = await WebAssembly.instantiate(module, { env } as WebAssembly.Imports);
  return (memory ? { ...instance.exports, memory } : instance.exports) as never;
}

/** A memory the module accepts as its `env.memory` import: plain first, shared if it wants one. */
function linkMemory(module: WebAssembly.Module, env: Record<string, unknown>): WebAssembly.Memory {
  for (const shared of [false, true]) {
    const memory = new WebAssembly.Memory({ initial: 320, maximum: 65536, shared } as WebAssembly.MemoryDescriptor);
    try {
      new WebAssembly.Instance(module, { env: { ...env, memory } });
      env.memory = memory;
      return memory;
    } catch (e) {
      if (!(e instanceof WebAssembly.LinkError)) throw e;
    }
  }
  throw new Error("no memory the module accepts");
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
  const body = Array.from({ length: K }, (_, k) => (relaxed ? `a${k} = f32x4.relaxed_madd(a${k}, vm, vc);` : `a${k} = f32x4.add(f32x4.mul(a${k}, vm), vc);`)).join("\n    ");
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

const convOnly = process.argv.includes("--conv");

/** Fills a fresh module's memory above heap_base with four 4 MiB operand regions of values in [−0.5, 0.5). */
function regions(mod: Record<string, Fn> & { memory: WebAssembly.Memory }): number[] {
  const base = (mod.heap_base() + 15) & ~15;
  const region = 4 << 20;
  const need = base + 5 * region - mod.memory.buffer.byteLength;
  if (need > 0) mod.memory.grow(Math.ceil(need / 65536));
  const f = new Float32Array(mod.memory.buffer);
  for (let i = base / 4; i < f.length; i++) f[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  // Odd offsets between regions, as workspace slots have: no 4 MiB aliasing in the caches.
  return [0, 1, 2, 3, 4].map((k) => base + k * (region - 4096 - 336));
}

function printTable(title: string, header: string[], rows: string[][], left: number): void {
  const table = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...table.map((r) => r[c].length)));
  console.log(title);
  for (const r of table) console.log(r.map((v, c) => (c < left ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  "));
  console.log("");
}

console.log(`wasm ${relaxed ? "relaxed " : ""}SIMD f32 peak ≈ ${peak.toFixed(1)} GFLOP/s (best of ${CHAINS.join("/")} multiply-add chains: ${peakChains})\n`);

if (!convOnly) {
  const denseMod = await instantiate(denseSource(SHAPES));
  const [pa, pb, pc, pd] = regions(denseMod);
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
  printTable("dense kernels", ["kernel", "n", "IN", "OUT", "µs/call", "GFLOP/s", "of peak"], rows, 4);
}

// ---- convolution kernels ------------------------------------------------------

/** One Glow-MNIST conditioner convolution; bwd_x is its input gradient, a forward convolution with the packed transposed weight. */
interface ConvShape { CIN: number; COUT: number; K: number; H: number; W: number }

/** Level 1 sees [4,14,14] (coupling halves of 2 channels), level 2 [8,7,7]; hidden 128. */
const CONV_SHAPES: ConvShape[] = [
  { CIN: 2, COUT: 128, K: 3, H: 14, W: 14 },
  { CIN: 128, COUT: 128, K: 1, H: 14, W: 14 },
  { CIN: 128, COUT: 4, K: 3, H: 14, W: 14 },
  { CIN: 4, COUT: 128, K: 3, H: 7, W: 7 },
  { CIN: 128, COUT: 128, K: 1, H: 7, W: 7 },
  { CIN: 128, COUT: 8, K: 3, H: 7, W: 7 },
];

const convMod = await instantiate(`import { conv_fwd_packed, conv_bwd_w, conv_pack, conv_tmp_size } from "./lib/conv";
export function heap_base(): usize { return __heap_base; }
export function tmp_size(CIN: i32, COUT: i32, H: i32, W: i32, K: i32): i32 { return conv_tmp_size(CIN, COUT, H, W, K); }
export function fwd(reps: i32, Wf: usize, b: usize, x: usize, y: usize, CIN: i32, COUT: i32, H: i32, W: i32, K: i32, tmp: usize): void {
  for (let r = 0; r < reps; r++) conv_fwd_packed(Wf, b, x, y, 1, CIN, COUT, H, W, K, 0, 0, tmp);
}
export function pack(Wp: usize, Wf: usize, Wt: usize, CIN: i32, COUT: i32, K: i32): void { conv_pack(Wp, Wf, CIN, COUT, K, false); conv_pack(Wp, Wt, CIN, COUT, K, true); }
export function bwd_x(reps: i32, Wt: usize, gy: usize, gx: usize, CIN: i32, COUT: i32, H: i32, W: i32, K: i32, tmp: usize): void {
  for (let r = 0; r < reps; r++) conv_fwd_packed(Wt, 0, gy, gx, 1, COUT, CIN, H, W, K, 0, 0, tmp);
}
export function bwd_w(reps: i32, x: usize, gy: usize, gW: usize, gb: usize, CIN: i32, COUT: i32, H: i32, W: i32, K: i32, tmp: usize): void {
  for (let r = 0; r < reps; r++) conv_bwd_w(x, gy, gW, gb, 1, CIN, COUT, H, W, K, 0, 0, tmp);
}
`);
{
  const [pa, pb, pc, pd, pe] = regions(convMod);
  const rows: string[][] = [];
  for (const { CIN, COUT, K, H, W } of CONV_SHAPES) {
    if (convMod.tmp_size(CIN, COUT, H, W, K) * 4 + 64 + 4 * COUT * CIN * K * K + 64 > 4 << 20) throw new Error("conv scratch exceeds its region");
    const flops = 2 * CIN * COUT * K * K * H * W;
    // Weights are packed once per chunk (forward) or per backward pass, outside the per-row calls.
    const pf = pe + 4 * convMod.tmp_size(CIN, COUT, H, W, K) + 64;
    convMod.pack(pa, pf, pb, CIN, COUT, K);
    for (const kernel of ["fwd", "bwd_x", "bwd_w"] as const) {
      const s = time((reps) => {
        if (kernel === "fwd") convMod.fwd(reps, pf, pa, pc, pd, CIN, COUT, H, W, K, pe);
        else if (kernel === "bwd_x") convMod.bwd_x(reps, pb, pc, pd, CIN, COUT, H, W, K, pe);
        else {
          convMod.bwd_w(reps, pc, pd, pa, pb, CIN, COUT, H, W, K, pe);
          new Float32Array(convMod.memory.buffer, pa, CIN * COUT * K * K).fill(0);
        }
      }, 150);
      const gflops = flops / s / 1e9;
      rows.push([kernel === "bwd_w" ? "bwd_w+gb" : kernel, `${CIN}→${COUT}`, `${K}×${K}`, `${H}×${W}`, (s * 1e6).toFixed(2), gflops.toFixed(2), `${((100 * gflops) / peak).toFixed(0)}%`]);
    }
  }
  printTable("convolution kernels (one image row per call)", ["kernel", "channels", "K", "image", "µs/call", "GFLOP/s", "of peak"], rows, 4);
}
