// @fileoverview log|det A| and A⁻¹ of a small square matrix, always in f64
// whatever the module's precision F, for `conv1x1 plain` (Glow computes
// log|det W| of its C×C weight each step; in f32 an LU of even a 48×48
// matrix loses digits the log-det and its gradient W⁻ᵀ need). Gaussian
// elimination with partial pivoting; C³/3 operations, negligible next to
// applying W to a batch of images.
//
// `work` layout (bytes): the f64 LU factors [C, C], then C i32 pivot rows,
// then (8-aligned) C f64 of solve scratch: 8C² + 12C + 8 bytes in all.
import { F } from "./prec";

@inline function pivAt(work: usize, C: i32): usize {
  return work + (<usize>(C * C) << 3);
}

@inline function vecAt(work: usize, C: i32): usize {
  return (pivAt(work, C) + (<usize>C << 2) + 7) & ~(<usize>7);
}

/** Factorises A (C×C F, row-major) into `work`; returns log|det A| (−∞ if A is singular). */
export function plu64_factor(A: usize, C: i32, work: usize): f64 {
  const m = work;
  const piv = pivAt(work, C);
  for (let k = 0; k < C * C; k++) store<f64>(m + (<usize>k << 3), <f64>load<F>(A + (<usize>k << alignof<F>())));
  let logdet: f64 = 0;
  for (let k = 0; k < C; k++) {
    let p = k;
    let best = abs<f64>(load<f64>(m + (<usize>(k * C + k) << 3)));
    for (let i = k + 1; i < C; i++) {
      const v = abs<f64>(load<f64>(m + (<usize>(i * C + k) << 3)));
      if (v > best) { best = v; p = i; }
    }
    store<i32>(piv + (<usize>k << 2), p);
    if (p != k) {
      for (let j = 0; j < C; j++) {
        const a = m + (<usize>(k * C + j) << 3), b = m + (<usize>(p * C + j) << 3);
        const t = load<f64>(a);
        store<f64>(a, load<f64>(b));
        store<f64>(b, t);
      }
    }
    const d = load<f64>(m + (<usize>(k * C + k) << 3));
    if (d == 0) return -Infinity;
    logdet += Math.log(abs<f64>(d));
    for (let i = k + 1; i < C; i++) {
      const ri = m + (<usize>(i * C) << 3), rk = m + (<usize>(k * C) << 3);
      const f = load<f64>(ri + (<usize>k << 3)) / d;
      store<f64>(ri + (<usize>k << 3), f);
      if (f != 0) for (let j = k + 1; j < C; j++) store<f64>(ri + (<usize>j << 3), load<f64>(ri + (<usize>j << 3)) - f * load<f64>(rk + (<usize>j << 3)));
    }
  }
  return logdet;
}

/**
 * After plu64_factor(A, C, work): writes A⁻¹ (or A⁻ᵀ if `transpose`) into
 * `out` as C×C F, one column of A⁻¹ per triangular solve.
 */
export function plu64_inverse(C: i32, work: usize, out: usize, transpose: bool): void {
  const m = work;
  const piv = pivAt(work, C);
  const v = vecAt(work, C);
  for (let j = 0; j < C; j++) {
    for (let i = 0; i < C; i++) store<f64>(v + (<usize>i << 3), i == j ? 1.0 : 0.0);
    // P·e_j, in the order the rows were swapped
    for (let k = 0; k < C; k++) {
      const p = load<i32>(piv + (<usize>k << 2));
      if (p != k) {
        const a = v + (<usize>k << 3), b = v + (<usize>p << 3);
        const t = load<f64>(a);
        store<f64>(a, load<f64>(b));
        store<f64>(b, t);
      }
    }
    for (let i = 1; i < C; i++) {
      let s = load<f64>(v + (<usize>i << 3));
      for (let k = 0; k < i; k++) s -= load<f64>(m + (<usize>(i * C + k) << 3)) * load<f64>(v + (<usize>k << 3));
      store<f64>(v + (<usize>i << 3), s);
    }
    for (let i = C - 1; i >= 0; i--) {
      let s = load<f64>(v + (<usize>i << 3));
      for (let k = i + 1; k < C; k++) s -= load<f64>(m + (<usize>(i * C + k) << 3)) * load<f64>(v + (<usize>k << 3));
      store<f64>(v + (<usize>i << 3), s / load<f64>(m + (<usize>(i * C + i) << 3)));
    }
    for (let i = 0; i < C; i++) {
      const q = transpose ? j * C + i : i * C + j;
      store<F>(out + (<usize>q << alignof<F>()), <F>load<f64>(v + (<usize>i << 3)));
    }
  }
}
