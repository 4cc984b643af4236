// @fileoverview The optimizer step and the vector utilities the host needs
// around it (norms for clipping, scaling, NaN search). Reductions accumulate
// in f64 whatever F is, in independent blocks combined with compensated
// summation, so a norm or a sum over millions of parameters stays accurate.
import { F } from "./prec";

/** Elements per block of a reduction; block results are added with Neumaier compensation. */
const BLOCK: i32 = 1024;

/**
 * One AdamW step (Loshchilov & Hutter 2019) over `count` parameters, as
 * PyTorch computes it: p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g;
 * v ← β2·v + (1−β2)·g²; p ← p − (lr/(1−β1^t)) · m / (√v/√(1−β2^t) + ε).
 * `t` is the 1-based step number.
 */
export function adam_step(P: usize, G: usize, M: usize, V: usize, count: i32, lr: f64, b1: f64, b2: f64, eps: f64, wd: f64, t: i32): void {
  const bc1 = 1 - Math.pow(b1, <f64>t);
  const bc2 = 1 - Math.pow(b2, <f64>t);
  const step = <F>(lr / bc1);
  const rsq = <F>(1 / Math.sqrt(bc2));
  const decay = <F>(wd > 0 ? 1 - lr * wd : 1);
  const fb1 = <F>b1, fb2 = <F>b2, fc1 = <F>(1 - b1), fc2 = <F>(1 - b2), feps = <F>eps;
  let i = 0;
  if (sizeof<F>() == 4) {
    const vb1 = f32x4.splat(<f32>fb1), vb2 = f32x4.splat(<f32>fb2);
    const vc1 = f32x4.splat(<f32>fc1), vc2 = f32x4.splat(<f32>fc2);
    const vstep = f32x4.splat(<f32>step), vrsq = f32x4.splat(<f32>rsq);
    const veps = f32x4.splat(<f32>feps), vdecay = f32x4.splat(<f32>decay);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const g = v128.load(G + o);
      const m = f32x4.add(f32x4.mul(vb1, v128.load(M + o)), f32x4.mul(vc1, g));
      const v = f32x4.add(f32x4.mul(vb2, v128.load(V + o)), f32x4.mul(vc2, f32x4.mul(g, g)));
      v128.store(M + o, m);
      v128.store(V + o, v);
      const den = f32x4.add(f32x4.mul(f32x4.sqrt(v), vrsq), veps);
      const p = f32x4.mul(v128.load(P + o), vdecay);
      v128.store(P + o, f32x4.sub(p, f32x4.mul(vstep, f32x4.div(m, den))));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const g = load<F>(G + o);
    const m = fb1 * load<F>(M + o) + fc1 * g;
    const v = fb2 * load<F>(V + o) + fc2 * (g * g);
    store<F>(M + o, m);
    store<F>(V + o, v);
    const den = sqrt<F>(v) * rsq + feps;
    store<F>(P + o, load<F>(P + o) * decay - step * (m / den));
  }
}

/** Σ p[i]² in f64. */
export function sqnorm(p: usize, count: i32): f64 {
  let total: f64 = 0, comp: f64 = 0;
  for (let b = 0; b < count; b += BLOCK) {
    const part = blockSum(p + <usize>b * sizeof<F>(), min(BLOCK, count - b), true);
    const s = total + part;
    comp += abs(total) >= abs(part) ? (total - s) + part : (part - s) + total;
    total = s;
  }
  return total + comp;
}

/** Σ p[i] in f64, compensated across blocks. */
export function sum(p: usize, count: i32): f64 {
  let total: f64 = 0, comp: f64 = 0;
  for (let b = 0; b < count; b += BLOCK) {
    const part = blockSum(p + <usize>b * sizeof<F>(), min(BLOCK, count - b), false);
    const s = total + part;
    comp += abs(total) >= abs(part) ? (total - s) + part : (part - s) + total;
    total = s;
  }
  return total + comp;
}

/** Sum (or sum of squares) of at most BLOCK elements, in two f64x2 accumulators. */
@inline function blockSum(p: usize, count: i32, square: bool): f64 {
  let a0 = f64x2.splat(0), a1 = f64x2.splat(0);
  let i = 0;
  if (sizeof<F>() == 4) {
    for (; i + 4 <= count; i += 4) {
      let v = v128.load(p + (<usize>i << 2));
      if (square) v = f32x4.mul(v, v);
      a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v));
      a1 = f64x2.add(a1, f64x2.promote_low_f32x4(f32x4.shuffle(v, v, 2, 3, 2, 3)));
    }
  } else {
    for (; i + 4 <= count; i += 4) {
      const q = p + (<usize>i << 3);
      let v = v128.load(q), w = v128.load(q, 16);
      if (square) { v = f64x2.mul(v, v); w = f64x2.mul(w, w); }
      a0 = f64x2.add(a0, v);
      a1 = f64x2.add(a1, w);
    }
  }
  const s = f64x2.add(a0, a1);
  let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; i < count; i++) {
    const v = <f64>load<F>(p + <usize>i * sizeof<F>());
    r += square ? v * v : v;
  }
  return r;
}

/** p ← s·p. */
export function scale_inplace(p: usize, count: i32, s: f64): void {
  const fs = <F>s;
  let i = 0;
  if (sizeof<F>() == 4) {
    const vs = f32x4.splat(<f32>fs);
    for (; i + 4 <= count; i += 4) {
      const q = p + (<usize>i << 2);
      v128.store(q, f32x4.mul(v128.load(q), vs));
    }
  }
  for (; i < count; i++) {
    const q = p + <usize>i * sizeof<F>();
    store<F>(q, load<F>(q) * fs);
  }
}

/** y ← y + a·x. */
export function axpy(y: usize, x: usize, count: i32, a: f64): void {
  const fa = <F>a;
  let i = 0;
  if (sizeof<F>() == 4) {
    const va = f32x4.splat(<f32>fa);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(x + o))));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, load<F>(y + o) + fa * load<F>(x + o));
  }
}

@inline export function zero(p: usize, count: i32): void {
  memory.fill(p, 0, <usize>count * sizeof<F>());
}

/** dst ← src; the ranges may overlap. */
@inline export function copy(dst: usize, src: usize, count: i32): void {
  memory.copy(dst, src, <usize>count * sizeof<F>());
}

/** Index of the first NaN or ±Inf among `count` F at p, or −1. */
export function first_nonfinite(p: usize, count: i32): i32 {
  let i = 0;
  // A value is non-finite exactly when its exponent bits are all ones.
  if (sizeof<F>() == 4) {
    const mask = i32x4.splat(0x7f800000);
    for (; i + 4 <= count; i += 4) {
      const e = v128.and(v128.load(p + (<usize>i << 2)), mask);
      if (v128.any_true(i32x4.eq(e, mask))) break;
    }
  } else {
    const mask = i64x2.splat(0x7ff0000000000000);
    for (; i + 2 <= count; i += 2) {
      const e = v128.and(v128.load(p + (<usize>i << 3)), mask);
      if (v128.any_true(i64x2.eq(e, mask))) break;
    }
  }
  for (; i < count; i++) {
    const v = load<F>(p + <usize>i * sizeof<F>());
    if (!isFinite<F>(v)) return i;
  }
  return -1;
}
