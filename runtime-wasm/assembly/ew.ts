// @fileoverview Elementwise array kernels for the per-feature layers
// (actnorm, affine, leaky_relu): scale-and-shift by scalars or by arrays,
// products, dot products and the leaky ReLU with its count of negative
// inputs. Each has an f32x4 and an f64x2 path plus a scalar tail, because
// binaryen does not vectorise the plain loops the layer emitters would
// otherwise write. Every pointer is a byte address; counts are elements of F.
import { F } from "./prec";

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
