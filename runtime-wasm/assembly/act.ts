// @fileoverview Elementwise activations of the conditioner nets and their
// derivatives. Backward passes take the pre-activation x (what the forward
// pass saw), so a layer only has to keep one buffer per activation.
// Array versions work on `count` contiguous F; y may alias x and gx may
// alias gy.
import { F } from "./prec";
import { exp_, expm1_, tanh_, ncdf_, npdf_ } from "./math";

export const ACT_RELU: i32 = 0;
export const ACT_TANH: i32 = 1;
export const ACT_ELU: i32 = 2;
export const ACT_GELU: i32 = 3;
export const ACT_NONE: i32 = 4;

// ---- scalar forms -------------------------------------------------------

@inline export function relu_s(v: F): F {
  const zero: F = 0;
  // NaN stays NaN, so non-finite values are still found downstream.
  return v < zero ? zero : v;
}

@inline export function relu_ds(v: F): F {
  return v > 0 ? <F>1 : <F>0;
}

@inline export function tanh_s(v: F): F {
  return tanh_(v);
}

@inline export function tanh_ds(v: F): F {
  const t = tanh_(v);
  return <F>1 - t * t;
}

@inline export function elu_s(v: F): F {
  return v > 0 ? v : expm1_(v);
}

@inline export function elu_ds(v: F): F {
  return v > 0 ? <F>1 : exp_(v);
}

/** GELU in its exact form v·Φ(v) (Hendrycks & Gimpel 2016). */
@inline export function gelu_s(v: F): F {
  return v * ncdf_(v);
}

/** d/dv v·Φ(v) = Φ(v) + v·φ(v). */
@inline export function gelu_ds(v: F): F {
  return ncdf_(v) + v * npdf_(v);
}

@inline export function act_s(kind: i32, v: F): F {
  if (kind == ACT_RELU) return relu_s(v);
  if (kind == ACT_TANH) return tanh_s(v);
  if (kind == ACT_ELU) return elu_s(v);
  if (kind == ACT_GELU) return gelu_s(v);
  return v;
}

@inline export function act_ds(kind: i32, v: F): F {
  if (kind == ACT_RELU) return relu_ds(v);
  if (kind == ACT_TANH) return tanh_ds(v);
  if (kind == ACT_ELU) return elu_ds(v);
  if (kind == ACT_GELU) return gelu_ds(v);
  return <F>1;
}

// ---- array forms ----------------------------------------------------------

export function relu_fwd(x: usize, y: usize, count: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const zero = f32x4.splat(0);
    // pmax(x, 0) is x < 0 ? 0 : x, one instruction, and keeps NaN.
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.pmax(v128.load(x + o), zero));
    }
  } else {
    const zero = f64x2.splat(0);
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      v128.store(y + o, f64x2.pmax(v128.load(x + o), zero));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, relu_s(load<F>(x + o)));
  }
}

export function relu_bwd(x: usize, gy: usize, gx: usize, count: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= count; i += 4) {
      const o = <usize>i << 2;
      v128.store(gx + o, v128.and(v128.load(gy + o), f32x4.gt(v128.load(x + o), zero)));
    }
  } else {
    const zero = f64x2.splat(0);
    for (; i + 2 <= count; i += 2) {
      const o = <usize>i << 3;
      v128.store(gx + o, v128.and(v128.load(gy + o), f64x2.gt(v128.load(x + o), zero)));
    }
  }
  for (; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(gx + o, load<F>(x + o) > 0 ? load<F>(gy + o) : <F>0);
  }
}

export function tanh_fwd(x: usize, y: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, tanh_s(load<F>(x + o)));
  }
}

export function tanh_bwd(x: usize, gy: usize, gx: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(gx + o, load<F>(gy + o) * tanh_ds(load<F>(x + o)));
  }
}

export function elu_fwd(x: usize, y: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, elu_s(load<F>(x + o)));
  }
}

export function elu_bwd(x: usize, gy: usize, gx: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(gx + o, load<F>(gy + o) * elu_ds(load<F>(x + o)));
  }
}

export function gelu_fwd(x: usize, y: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, gelu_s(load<F>(x + o)));
  }
}

export function gelu_bwd(x: usize, gy: usize, gx: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(gx + o, load<F>(gy + o) * gelu_ds(load<F>(x + o)));
  }
}

/** y = act(x) for one of the ACT_* kinds; ACT_NONE copies (nothing if y == x). */
@inline export function act_fwd(kind: i32, x: usize, y: usize, count: i32): void {
  if (kind == ACT_RELU) relu_fwd(x, y, count);
  else if (kind == ACT_TANH) tanh_fwd(x, y, count);
  else if (kind == ACT_ELU) elu_fwd(x, y, count);
  else if (kind == ACT_GELU) gelu_fwd(x, y, count);
  else if (x != y) memory.copy(y, x, <usize>count * sizeof<F>());
}

/** gx = gy · act'(x) for one of the ACT_* kinds; ACT_NONE copies. */
@inline export function act_bwd(kind: i32, x: usize, gy: usize, gx: usize, count: i32): void {
  if (kind == ACT_RELU) relu_bwd(x, gy, gx, count);
  else if (kind == ACT_TANH) tanh_bwd(x, gy, gx, count);
  else if (kind == ACT_ELU) elu_bwd(x, gy, gx, count);
  else if (kind == ACT_GELU) gelu_bwd(x, gy, gx, count);
  else if (gx != gy) memory.copy(gx, gy, <usize>count * sizeof<F>());
}
