/**
 * @fileoverview Seeded 2-D toy densities for demos and end-to-end tests.
 *
 * `moons` is scikit-learn's `make_moons` (noise 0.05, unscaled) with the
 * angle drawn uniformly instead of on a grid. The others follow the toy
 * sets of FFJORD (Grathwohl et al. 2019), which most flow papers reuse:
 * `8gaussians`, `checkerboard`, `pinwheel`, `rings` and `spirals` (FFJORD's
 * "2spirals"). Where FFJORD drops a remainder (n not divisible by the
 * number of components) we keep it, so exactly n rows come back; rows are
 * shuffled so that any prefix is a fair sample.
 *
 * `sampleToyLabelled` returns the same points with the component each one
 * came from (moons: 0 = the upper moon, 1 = the lower; 8gaussians: the mode;
 * pinwheel: the arm; rings: the ring; spirals: the arm), the class a
 * conditional flow can take as its context.
 */
import { FLOW6, inputError } from "./errors.ts";
import { Rng } from "./init.ts";

export const toyNames = ["moons", "8gaussians", "checkerboard", "pinwheel", "rings", "spirals"] as const;
export type ToyName = (typeof toyNames)[number];

export function isToyName(s: string): s is ToyName {
  return (toyNames as readonly string[]).includes(s);
}

/**
 * n draws from the named density, row-major n × 2. Same (name, n, seed,
 * stream) → same array. `stream` picks an independent sequence for the same
 * seed, e.g. "test" for held-out points that never repeat the training ones.
 */
export function sampleToy(name: ToyName, n: number, seed: number, stream = ""): Float64Array {
  return generate(name, n, seed, stream, null);
}

/** Number of classes of each toy that has natural components (checkerboard has none). */
export const toyClasses: Partial<Record<ToyName, number>> = { moons: 2, "8gaussians": 8, pinwheel: 5, rings: 4, spirals: 2 };

/**
 * The rows of `sampleToy(name, n, seed, stream)`, bit for bit, with the class
 * of each row (0 … toyClasses[name] − 1). Labels draw nothing from the RNG.
 */
export function sampleToyLabelled(name: ToyName, n: number, seed: number, stream = ""): { data: Float64Array; labels: Int32Array } {
  if (isToyName(name) && toyClasses[name] === undefined) {
    const labelled = toyNames.filter((t) => toyClasses[t] !== undefined).join(", ");
    throw inputError(FLOW6.badArgument, { what: "a labelled toy density", expected: `one with classes (${labelled})`, got: `'${name}', which has none` });
  }
  const labels = new Int32Array(Number.isSafeInteger(n) && n > 0 ? n : 0);
  const data = generate(name, n, seed, stream, labels);
  return { data, labels };
}

function generate(name: ToyName, n: number, seed: number, stream: string, labels: Int32Array | null): Float64Array {
  if (!isToyName(name)) throw inputError(FLOW6.unknownToy, { name, toys: toyNames.join(", ") });
  if (!Number.isSafeInteger(n) || n < 0) throw inputError(FLOW6.badArgument, { what: "the number of samples", expected: "a non-negative integer", got: n });
  const rng = new Rng(seed, stream ? `toy:${name}:${stream}` : `toy:${name}`);
  const out = new Float64Array(2 * n);
  // Generators that never write labels leave them 0; the labelled ones fill every row.
  GENERATORS[name](out, n, rng, labels ?? new Int32Array(n));
  return out;
}

const GENERATORS: Record<ToyName, (out: Float64Array, n: number, rng: Rng, labels: Int32Array) => void> = {
  moons(out, n, rng, labels) {
    // sklearn puts n // 2 points on the outer moon (label 0) and the rest on the inner one (1).
    const outer = Math.floor(n / 2);
    for (let i = 0; i < n; i++) {
      const t = Math.PI * rng.uniform();
      const x = i < outer ? Math.cos(t) : 1 - Math.cos(t);
      const y = i < outer ? Math.sin(t) : 1 - Math.sin(t) - 0.5;
      out[2 * i] = x + 0.05 * rng.normal();
      out[2 * i + 1] = y + 0.05 * rng.normal();
      labels[i] = i < outer ? 0 : 1;
    }
    shuffleRows(out, n, rng, labels);
  },

  "8gaussians"(out, n, rng, labels) {
    const scale = 4;
    const r = Math.SQRT1_2;
    const centers = [[1, 0], [-1, 0], [0, 1], [0, -1], [r, r], [r, -r], [-r, r], [-r, -r]];
    for (let i = 0; i < n; i++) {
      const px = 0.5 * rng.normal();
      const py = 0.5 * rng.normal();
      const k = rng.int(8);
      const c = centers[k];
      labels[i] = k;
      // FFJORD divides by the literal 1.414, not √2.
      out[2 * i] = (px + scale * c[0]) / 1.414;
      out[2 * i + 1] = (py + scale * c[1]) / 1.414;
    }
  },

  checkerboard(out, n, rng) {
    for (let i = 0; i < n; i++) {
      const x1 = 4 * rng.uniform() - 2;
      const x2 = rng.uniform() - 2 * rng.int(2);
      // Python's % is non-negative for a positive divisor: floor(x1) mod 2 ∈ {0, 1}.
      const shift = ((Math.floor(x1) % 2) + 2) % 2;
      out[2 * i] = 2 * x1;
      out[2 * i + 1] = 2 * (x2 + shift);
    }
  },

  pinwheel(out, n, rng, labels) {
    const radialStd = 0.3;
    const tangentialStd = 0.1;
    const classes = 5;
    const rate = 0.25;
    for (let i = 0; i < n; i++) {
      const label = Math.floor((i * classes) / n);
      labels[i] = label;
      const f0 = radialStd * rng.normal() + 1;
      const f1 = tangentialStd * rng.normal();
      const angle = (2 * Math.PI * label) / classes + rate * Math.exp(f0);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      // Row vector times [[c, -s], [s, c]], as FFJORD's einsum("ti,tij->tj").
      out[2 * i] = 2 * (f0 * c + f1 * s);
      out[2 * i + 1] = 2 * (-f0 * s + f1 * c);
    }
    shuffleRows(out, n, rng, labels);
  },

  rings(out, n, rng, labels) {
    const q = Math.floor(n / 4);
    const counts = [q, q, q, n - 3 * q];
    const radii = [1, 0.75, 0.5, 0.25];
    let row = 0;
    for (let k = 0; k < 4; k++) {
      for (let j = 0; j < counts[k]; j++) {
        // Evenly spaced angles without the endpoint, so no point repeats.
        const t = (2 * Math.PI * j) / counts[k];
        out[2 * row] = 3 * radii[k] * Math.cos(t);
        out[2 * row + 1] = 3 * radii[k] * Math.sin(t);
        labels[row] = k;
        row++;
      }
    }
    shuffleRows(out, n, rng, labels);
    for (let i = 0; i < 2 * n; i++) out[i] += 0.08 * rng.normal();
  },

  spirals(out, n, rng, labels) {
    // One arm is drawn; the other is its point reflection through the origin.
    const arm = Math.ceil(n / 2);
    const base = new Float64Array(2 * arm);
    for (let i = 0; i < arm; i++) {
      const t = Math.sqrt(rng.uniform()) * 540 * (2 * Math.PI) / 360;
      base[2 * i] = -Math.cos(t) * t + 0.5 * rng.uniform();
      base[2 * i + 1] = Math.sin(t) * t + 0.5 * rng.uniform();
    }
    for (let i = 0; i < n; i++) {
      const src = i < arm ? i : i - arm;
      const sgn = i < arm ? 1 : -1;
      out[2 * i] = (sgn * base[2 * src]) / 3 + 0.1 * rng.normal();
      out[2 * i + 1] = (sgn * base[2 * src + 1]) / 3 + 0.1 * rng.normal();
      labels[i] = i < arm ? 0 : 1;
    }
    shuffleRows(out, n, rng, labels);
  },
};

/** Fisher–Yates over the rows of an n × 2 array and their labels. */
function shuffleRows(a: Float64Array, n: number, rng: Rng, labels: Int32Array): void {
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const l = labels[i];
    labels[i] = labels[j];
    labels[j] = l;
    const x = a[2 * i];
    const y = a[2 * i + 1];
    a[2 * i] = a[2 * j];
    a[2 * i + 1] = a[2 * j + 1];
    a[2 * j] = x;
    a[2 * j + 1] = y;
  }
}
