/**
 * @fileoverview Times parse + check of a 1,000-layer spec written out line by
 * line (no `repeat`), and of the same flow written with `repeat`, and prints
 * milliseconds. Run: `node bin/run-ts.mjs bench/check-1000.ts`.
 */
import { parse } from "../compiler/syntax/index.ts";
import { checkFile } from "../compiler/check/index.ts";
import { check } from "../compiler/check/api.ts";

const body = (i: number) => [
  `coupling affine mask=alternate net=mlp(hidden=64, depth=2)  # block ${i}`,
  `permute random seed=${i}`,
];
const written = ["input [16]", ...Array.from({ length: 500 }, (_, i) => body(i)).flat(), "base normal"].join("\n");
const repeated = "input [16]\nrepeat 500 {\n  coupling affine mask=alternate net=mlp(hidden=64, depth=2)\n  permute reverse\n}\nbase normal\n";
const image = "input [3, 32, 32]\nsqueeze\nrepeat 333 { actnorm; conv1x1 lu; coupling affine mask=channel net=conv(hidden=64) }\nbase normal\n";

function time(label: string, source: string, runs = 15): void {
  const parseMs: number[] = [];
  const checkMs: number[] = [];
  let layers = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const parsed = parse(source, "bench.flow");
    const t1 = performance.now();
    const res = checkFile(parsed.file!);
    const t2 = performance.now();
    if (!res.ir) throw new Error(`${label}: ${JSON.stringify(res.diagnostics.slice(0, 3))}`);
    layers = res.ir.layers.length;
    parseMs.push(t1 - t0);
    checkMs.push(t2 - t1);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const t0 = performance.now();
  check(source, { filename: "bench.flow" });
  const whole = performance.now() - t0;
  console.log(
    `${label.padEnd(34)} ${String(layers).padStart(5)} layers  parse ${median(parseMs).toFixed(1).padStart(6)} ms  check ${median(checkMs).toFixed(1).padStart(6)} ms  check() ${whole.toFixed(1).padStart(6)} ms`,
  );
}

time("1,000 layers written out", written);
time("1,000 layers via repeat", repeated);
time("1,000 image layers (3x32x32, conv)", image);
