// @fileoverview Elementwise array kernels for the per-feature layers and
// bases: scale-and-shift by scalars or by arrays, products, dot products, the
// leaky ReLU with its count of negative inputs, and the sigmoid / logit /
// logistic transforms with their log-densities. Each has an f32x4 path (with
// four-lane exp and log below, since Mathf's scalar versions cost ~8 ns an
// element) and an f64 path, plus a scalar tail; binaryen does not vectorise
// the plain loops the layer emitters would otherwise write. Every pointer is a
// byte address; counts are elements of F.
import { F } from "./prec";
import { abs_, exp_, log_, log1p_ } from "./math";

/** y[i] = a·x[i] + c. y may alias x. */
export function ew_axpb(x: usize, y: usize, count: i32, a: F, c: F): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const va = f32x4.splat(<f32>a), vc = f32x4.splat(<f32>c);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(f32x4.mul(v128.load(x + o), va), vc));
    }
  } else {
    const va = f64x2.splat(<f64>a), vc = f64x2.splat(<f64>c);
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      v128.store(y + o, f64x2.add(f64x2.mul(v128.load(x + o), va), vc));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, load<F>(x + o) * a + c);
  }
}

/** y[i] = x[i]·a[i] + c[i]. y may alias x. */
export function ew_mul_add(x: usize, a: usize, c: usize, y: usize, count: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(f32x4.mul(v128.load(x + o), v128.load(a + o)), v128.load(c + o)));
    }
  } else {
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      v128.store(y + o, f64x2.add(f64x2.mul(v128.load(x + o), v128.load(a + o)), v128.load(c + o)));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, load<F>(x + o) * load<F>(a + o) + load<F>(c + o));
  }
}

/** y[i] = x[i]·a[i]. y may alias x. */
export function ew_mul(x: usize, a: usize, y: usize, count: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.mul(v128.load(x + o), v128.load(a + o)));
    }
  } else {
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      v128.store(y + o, f64x2.mul(v128.load(x + o), v128.load(a + o)));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, load<F>(x + o) * load<F>(a + o));
  }
}

/** g[i] += a[i]·b[i]. */
export function ew_acc_mul(g: usize, a: usize, b: usize, count: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      v128.store(g + o, f32x4.add(v128.load(g + o), f32x4.mul(v128.load(a + o), v128.load(b + o))));
    }
  } else {
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      v128.store(g + o, f64x2.add(v128.load(g + o), f64x2.mul(v128.load(a + o), v128.load(b + o))));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(g + o, load<F>(g + o) + load<F>(a + o) * load<F>(b + o));
  }
}

/** g[i] += v. */
export function ew_add_const(g: usize, count: i32, v: F): void {
  for (let i = 0; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(g + o, load<F>(g + o) + v);
  }
}

/** Σ a[i]·b[i], accumulated in f64 (products of f32 pairs are exact in f64). */
export function ew_dot(a: usize, b: usize, count: i32): f64 {
  let i = 0;
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  if (sizeof<F>() == 4) {
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const va = v128.load(a + o), vb = v128.load(b + o);
      s0 = f64x2.add(s0, f64x2.mul(f64x2.promote_low_f32x4(va), f64x2.promote_low_f32x4(vb)));
      s1 = f64x2.add(s1, f64x2.mul(
        f64x2.promote_low_f32x4(f32x4.shuffle(va, va, 2, 3, 2, 3)),
        f64x2.promote_low_f32x4(f32x4.shuffle(vb, vb, 2, 3, 2, 3))));
    }
  } else {
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 3;
      s0 = f64x2.add(s0, f64x2.mul(v128.load(a + o), v128.load(b + o)));
      s1 = f64x2.add(s1, f64x2.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
    }
  }
  const s = f64x2.add(s0, s1);
  let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    r += <f64>load<F>(a + o) * <f64>load<F>(b + o);
  }
  return r;
}

/** y = x ≥ 0 ? x : k·x (x < 0 exactly when y < 0, so the same kernel inverts with k = 1/slope).
 *  Returns how many inputs were negative. y may alias x. */
export function ew_leaky(x: usize, y: usize, count: i32, k: F): i32 {
  let i = 0;
  let neg = 0;
  if (sizeof<F>() == 4) {
    const vk = f32x4.splat(<f32>k), zero = f32x4.splat(0);
    let cnt = i32x4.splat(0);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      const m = f32x4.lt(v, zero);
      v128.store(y + o, v128.bitselect(f32x4.mul(v, vk), v, m));
      cnt = i32x4.sub(cnt, m);
    }
    neg = i32x4.extract_lane(cnt, 0) + i32x4.extract_lane(cnt, 1) + i32x4.extract_lane(cnt, 2) + i32x4.extract_lane(cnt, 3);
  } else {
    const vk = f64x2.splat(<f64>k), zero = f64x2.splat(0);
    let cnt = i64x2.splat(0);
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      const v = v128.load(x + o);
      const m = f64x2.lt(v, zero);
      v128.store(y + o, v128.bitselect(f64x2.mul(v, vk), v, m));
      cnt = i64x2.sub(cnt, m);
    }
    neg = <i32>(i64x2.extract_lane(cnt, 0) + i64x2.extract_lane(cnt, 1));
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const v = load<F>(x + o);
    if (v < 0) {
      store<F>(y + o, v * k);
      neg++;
    } else {
      store<F>(y + o, v);
    }
  }
  return neg;
}

/** gx = gy · (x ≥ 0 ? 1 : slope). */
export function ew_leaky_bwd(x: usize, gy: usize, gx: usize, count: i32, slope: F): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const vk = f32x4.splat(<f32>slope), zero = f32x4.splat(0);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const g = v128.load(gy + o);
      v128.store(gx + o, v128.bitselect(f32x4.mul(g, vk), g, f32x4.lt(v128.load(x + o), zero)));
    }
  } else {
    const vk = f64x2.splat(<f64>slope), zero = f64x2.splat(0);
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      const g = v128.load(gy + o);
      v128.store(gx + o, v128.bitselect(f64x2.mul(g, vk), g, f64x2.lt(v128.load(x + o), zero)));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const g = load<F>(gy + o);
    store<F>(gx + o, load<F>(x + o) < 0 ? g * slope : g);
  }
}

// ---------------------------------------------------------------------------
// Four-lane f32 exp and log (Cephes' expf/logf reductions and polynomials,
// about 1 ulp on their ranges).
// ---------------------------------------------------------------------------

@inline function fma4(a: v128, b: v128, c: f32): v128 {
  return f32x4.add(f32x4.mul(a, b), f32x4.splat(c));
}

/** e^x for x ≤ 88.37; 0 below −87.33 (where expf turns subnormal). NaN stays NaN. */
@inline function exp4(x: v128): v128 {
  const lo = f32x4.splat(-87.33654), hi = f32x4.splat(88.37626);
  const under = f32x4.lt(x, lo);
  const xc = f32x4.min(f32x4.max(x, lo), hi);
  // x = k·ln2 + r with ln2 split in two so k·C1 is exact.
  const k = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.4426950408889634)));
  let r = f32x4.sub(xc, f32x4.mul(k, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(k, f32x4.splat(-2.12194440e-4)));
  let p = fma4(f32x4.splat(1.9875691500e-4), r, 1.3981999507e-3);
  p = fma4(p, r, 8.3334519073e-3);
  p = fma4(p, r, 4.1665795894e-2);
  p = fma4(p, r, 1.6666665459e-1);
  p = fma4(p, r, 5.0000001201e-1);
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(r, r), p), r), f32x4.splat(1));
  const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(k), i32x4.splat(127)), 23);
  return v128.andnot(f32x4.mul(y, pow2), under);
}

/** log x for positive normal finite lanes; any other lane (0, negative, subnormal, inf, NaN)
 *  is recomputed by the scalar log, so the special values are the scalar's. */
@inline function log4(x: v128): v128 {
  const bits = x;
  const valid = i32x4.lt_u(i32x4.sub(bits, i32x4.splat(0x00800000)), i32x4.splat(0x7f000000));
  // x = m·2^e with m in [√½, √2), then log x = e·ln2 + log1p(m − 1).
  let e = i32x4.sub(i32x4.shr_u(bits, 23), i32x4.splat(126));
  let m = v128.or(v128.and(bits, i32x4.splat(0x007fffff)), i32x4.splat(0x3f000000));
  const small = f32x4.lt(m, f32x4.splat(0.70710678118654752));
  e = i32x4.add(e, small);
  m = f32x4.sub(f32x4.add(m, v128.and(m, small)), f32x4.splat(1));
  const ef = f32x4.convert_i32x4_s(e);
  const z = f32x4.mul(m, m);
  let p = fma4(f32x4.splat(7.0376836292e-2), m, -1.1514610310e-1);
  p = fma4(p, m, 1.1676998740e-1);
  p = fma4(p, m, -1.2420140846e-1);
  p = fma4(p, m, 1.4249322787e-1);
  p = fma4(p, m, -1.6668057665e-1);
  p = fma4(p, m, 2.0000714765e-1);
  p = fma4(p, m, -2.4999993993e-1);
  p = fma4(p, m, 3.3333331174e-1);
  let y = f32x4.mul(f32x4.mul(m, z), p);
  y = f32x4.add(y, f32x4.mul(ef, f32x4.splat(-2.12194440e-4)));
  y = f32x4.sub(y, f32x4.mul(z, f32x4.splat(0.5)));
  let r = f32x4.add(f32x4.add(m, y), f32x4.mul(ef, f32x4.splat(0.693359375)));
  if (!i32x4.all_true(valid)) {
    r = f32x4.replace_lane(r, 0, Mathf.log(f32x4.extract_lane(x, 0)));
    r = f32x4.replace_lane(r, 1, Mathf.log(f32x4.extract_lane(x, 1)));
    r = f32x4.replace_lane(r, 2, Mathf.log(f32x4.extract_lane(x, 2)));
    r = f32x4.replace_lane(r, 3, Mathf.log(f32x4.extract_lane(x, 3)));
  }
  return r;
}

@inline function hsum4f(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

// ---------------------------------------------------------------------------
// Sigmoid, logit and the logistic density. With e = exp(−|x|), σ(x) and
// σ(−x) are 1/(1+e) and e/(1+e) in some order, and
// log σ(x) + log σ(−x) = −|x| − 2·log(1+e): nothing cancels or overflows.
// ---------------------------------------------------------------------------

/** y = σ(x); returns Σ log σ'(x) = Σ (−|x| − 2·log1p(e^−|x|)). */
export function ew_sigmoid_fwd(x: usize, y: usize, count: i32): f64 {
  let i = 0;
  let ld: f64 = 0;
  if (sizeof<F>() == 4) {
    const one = f32x4.splat(1), zero = f32x4.splat(0);
    let acc = f32x4.splat(0);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      const a = f32x4.abs(v);
      const e = exp4(f32x4.neg(a));
      const d = f32x4.add(one, e);
      const q = f32x4.div(one, d);
      v128.store(y + o, v128.bitselect(q, f32x4.mul(e, q), f32x4.ge(v, zero)));
      const l = log4(d);
      acc = f32x4.sub(acc, f32x4.add(a, f32x4.add(l, l)));
    }
    ld = hsum4f(acc);
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const v = load<F>(x + o);
    const a = abs_(v);
    const e = exp_(-a);
    const q = <F>1 / (<F>1 + e);
    store<F>(y + o, v >= 0 ? q : e * q);
    ld -= <f64>(a + <F>2 * log1p_(e));
  }
  return ld;
}

/** x = log y − log(1 − y); returns Σ −log y − log(1 − y). */
export function ew_sigmoid_inv(y: usize, x: usize, count: i32): f64 {
  let i = 0;
  let ld: f64 = 0;
  if (sizeof<F>() == 4) {
    const one = f32x4.splat(1);
    let acc = f32x4.splat(0);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const u = v128.load(y + o);
      const l0 = log4(u), l1 = log4(f32x4.sub(one, u));
      v128.store(x + o, f32x4.sub(l0, l1));
      acc = f32x4.sub(acc, f32x4.add(l0, l1));
    }
    ld = hsum4f(acc);
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const u = load<F>(y + o);
    const l0 = log_(u), l1 = log1p_(-u);
    store<F>(x + o, l0 - l1);
    ld -= <f64>(l0 + l1);
  }
  return ld;
}

/** gx = gy·σ(x)σ(−x) + gld·(σ(−x) − σ(x)): the derivatives of y and of the log-det. */
export function ew_sigmoid_bwd(x: usize, gy: usize, gx: usize, count: i32, gld: F): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const one = f32x4.splat(1), zero = f32x4.splat(0), vg = f32x4.splat(<f32>gld);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      const e = exp4(f32x4.neg(f32x4.abs(v)));
      const q = f32x4.div(one, f32x4.add(one, e));
      const eq = f32x4.mul(e, q);
      const pos = f32x4.ge(v, zero);
      const s = v128.bitselect(q, eq, pos), t = v128.bitselect(eq, q, pos);
      v128.store(gx + o, f32x4.add(f32x4.mul(v128.load(gy + o), f32x4.mul(s, t)), f32x4.mul(vg, f32x4.sub(t, s))));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const v = load<F>(x + o);
    const e = exp_(-abs_(v));
    const q = <F>1 / (<F>1 + e);
    const s = v >= 0 ? q : e * q;
    const t = v >= 0 ? e * q : q;
    store<F>(gx + o, load<F>(gy + o) * s * t + gld * (t - s));
  }
}

/** y = log p − log q with p = α + βx, q = α + β(1 − x); returns Σ (−log p − log q)
 *  (the caller adds log β per element). */
export function ew_logit_fwd(x: usize, y: usize, count: i32, alpha: F, beta: F): f64 {
  let i = 0;
  let ld: f64 = 0;
  if (sizeof<F>() == 4) {
    const va = f32x4.splat(<f32>alpha), vb = f32x4.splat(<f32>beta), one = f32x4.splat(1);
    let acc = f32x4.splat(0);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      const lp = log4(f32x4.add(va, f32x4.mul(vb, v)));
      const lq = log4(f32x4.add(va, f32x4.mul(vb, f32x4.sub(one, v))));
      v128.store(y + o, f32x4.sub(lp, lq));
      acc = f32x4.sub(acc, f32x4.add(lp, lq));
    }
    ld = hsum4f(acc);
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const v = load<F>(x + o);
    const lp = log_(alpha + beta * v), lq = log_(alpha + beta * (<F>1 - v));
    store<F>(y + o, lp - lq);
    ld -= <f64>(lp + lq);
  }
  return ld;
}

/** x = (σ(y) − α)/β; returns Σ (log σ(y) + log σ(−y)) (the caller subtracts log β per element). */
export function ew_logit_inv(y: usize, x: usize, count: i32, alpha: F, beta: F): f64 {
  let i = 0;
  let ld: f64 = 0;
  if (sizeof<F>() == 4) {
    const va = f32x4.splat(<f32>alpha), vb = f32x4.splat(<f32>beta), one = f32x4.splat(1), zero = f32x4.splat(0);
    let acc = f32x4.splat(0);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const u = v128.load(y + o);
      const a = f32x4.abs(u);
      const e = exp4(f32x4.neg(a));
      const d = f32x4.add(one, e);
      const q = f32x4.div(one, d);
      const s = v128.bitselect(q, f32x4.mul(e, q), f32x4.ge(u, zero));
      v128.store(x + o, f32x4.div(f32x4.sub(s, va), vb));
      const l = log4(d);
      acc = f32x4.sub(acc, f32x4.add(a, f32x4.add(l, l)));
    }
    ld = hsum4f(acc);
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const u = load<F>(y + o);
    const a = abs_(u);
    const e = exp_(-a);
    const q = <F>1 / (<F>1 + e);
    store<F>(x + o, ((u >= 0 ? q : e * q) - alpha) / beta);
    ld -= <f64>(a + <F>2 * log1p_(e));
  }
  return ld;
}

/** gx = β·(gy·(1/p + 1/q) + gld·(1/q − 1/p)). */
export function ew_logit_bwd(x: usize, gy: usize, gx: usize, count: i32, alpha: F, beta: F, gld: F): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const va = f32x4.splat(<f32>alpha), vb = f32x4.splat(<f32>beta), one = f32x4.splat(1), vg = f32x4.splat(<f32>gld);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      const ip = f32x4.div(one, f32x4.add(va, f32x4.mul(vb, v)));
      const iq = f32x4.div(one, f32x4.add(va, f32x4.mul(vb, f32x4.sub(one, v))));
      const g = f32x4.add(f32x4.mul(v128.load(gy + o), f32x4.add(ip, iq)), f32x4.mul(vg, f32x4.sub(iq, ip)));
      v128.store(gx + o, f32x4.mul(vb, g));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const v = load<F>(x + o);
    const ip = <F>1 / (alpha + beta * v), iq = <F>1 / (alpha + beta * (<F>1 - v));
    store<F>(gx + o, beta * (load<F>(gy + o) * (ip + iq) + gld * (iq - ip)));
  }
}

/** Σ log p(z) of the standard logistic: −Σ (|z| + 2·log1p(e^−|z|)). */
export function ew_logistic_logp(z: usize, count: i32): f64 {
  let i = 0;
  let lp: f64 = 0;
  if (sizeof<F>() == 4) {
    const one = f32x4.splat(1);
    let acc = f32x4.splat(0);
    for (; i + 4 <= count; i += 4) {
      const a = f32x4.abs(v128.load(z + (<usize>i << 2)));
      const l = log4(f32x4.add(one, exp4(f32x4.neg(a))));
      acc = f32x4.sub(acc, f32x4.add(a, f32x4.add(l, l)));
    }
    lp = hsum4f(acc);
  }
  for (; i < count; i++) {
    const a = abs_(load<F>(z + <usize>i * sizeof<F>()));
    lp -= <f64>(a + <F>2 * log1p_(exp_(-a)));
  }
  return lp;
}

/** gz = scale·∂log p/∂z = −scale·tanh(z/2), with tanh(|z|/2) = (1 − e)/(1 + e), e = e^−|z|. */
export function ew_logistic_grad(z: usize, gz: usize, count: i32, scale: F): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const one = f32x4.splat(1), zero = f32x4.splat(0), vs = f32x4.splat(<f32>scale);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(z + o);
      const e = exp4(f32x4.neg(f32x4.abs(v)));
      const t = f32x4.mul(vs, f32x4.div(f32x4.sub(one, e), f32x4.add(one, e)));
      v128.store(gz + o, v128.bitselect(f32x4.neg(t), t, f32x4.ge(v, zero)));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const v = load<F>(z + o);
    const e = exp_(-abs_(v));
    const t = scale * (<F>1 - e) / (<F>1 + e);
    store<F>(gz + o, v >= 0 ? -t : t);
  }
}
