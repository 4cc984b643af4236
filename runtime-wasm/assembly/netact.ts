// @fileoverview Helpers for the dense conditioner nets (mlp, resnet):
// activation gradients computed from the activation's *output*, so a net
// keeps one buffer per hidden layer and never re-evaluates tanh or exp in
// its backward pass, plus an elementwise add for residual streams. All work
// in place on `count` contiguous F; SIMD in both precisions.
import { F } from "./prec";

/** g ← g · relu'(·), with y = relu(pre): the derivative is 1 where y > 0. */
export function net_relu_bwd_post(y: usize, g: usize, count: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      v128.store(g + o, v128.and(v128.load(g + o), f32x4.gt(v128.load(y + o), zero)));
    }
  } else {
    const zero = f64x2.splat(0);
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      v128.store(g + o, v128.and(v128.load(g + o), f64x2.gt(v128.load(y + o), zero)));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    if (!(load<F>(y + o) > 0)) store<F>(g + o, 0);
  }
}

/** g ← g · (1 − y²), with y = tanh(pre). */
export function net_tanh_bwd_post(y: usize, g: usize, count: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const one = f32x4.splat(1);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(y + o);
      v128.store(g + o, f32x4.mul(v128.load(g + o), f32x4.sub(one, f32x4.mul(v, v))));
    }
  } else {
    const one = f64x2.splat(1);
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      const v = v128.load(y + o);
      v128.store(g + o, f64x2.mul(v128.load(g + o), f64x2.sub(one, f64x2.mul(v, v))));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const v = load<F>(y + o);
    store<F>(g + o, load<F>(g + o) * (<F>1 - v * v));
  }
}

/** g ← g · elu'(·), with y = elu(pre): 1 where y > 0, else exp(pre) = y + 1. */
export function net_elu_bwd_post(y: usize, g: usize, count: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const zero = f32x4.splat(0), one = f32x4.splat(1);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(y + o);
      const d = v128.bitselect(one, f32x4.add(v, one), f32x4.gt(v, zero));
      v128.store(g + o, f32x4.mul(v128.load(g + o), d));
    }
  } else {
    const zero = f64x2.splat(0), one = f64x2.splat(1);
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      const v = v128.load(y + o);
      const d = v128.bitselect(one, f64x2.add(v, one), f64x2.gt(v, zero));
      v128.store(g + o, f64x2.mul(v128.load(g + o), d));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    const v = load<F>(y + o);
    store<F>(g + o, load<F>(g + o) * (v > 0 ? <F>1 : v + <F>1));
  }
}

/** y ← y + x. */
export function net_add(y: usize, x: usize, count: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(v128.load(y + o), v128.load(x + o)));
    }
  } else {
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      v128.store(y + o, f64x2.add(v128.load(y + o), v128.load(x + o)));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, load<F>(y + o) + load<F>(x + o));
  }
}
