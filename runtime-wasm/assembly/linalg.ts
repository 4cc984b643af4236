// @fileoverview Batched triangular products and solves for LU-parameterised
// layers (W = P·L·(U + diag)). Matrices are [D, D] row-major F; only the
// strictly lower (L) or strictly upper (U) triangle is read, the unit
// diagonal of L is implied and the diagonal of U is a separate F[D].
// Every routine works on n rows of a chunk (row stride in elements) and
// supports in-place use: the output may be the very same buffer as the
// input (same pointer, same stride). Out-of-place outputs must not overlap
// the input otherwise.
import { F } from "./prec";

/** Σ_{k<len} a[k]·b[k] over contiguous F. */
@inline function dot(a: usize, b: usize, len: i32): F {
  let i = 0;
  let s: F = 0;
  if (sizeof<F>() == 4) {
    let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0);
    for (; i + 8 <= len; i += 8) {
      const o = <usize>i << 2;
      acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
      acc1 = f32x4.add(acc1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
    }
    if (i + 4 <= len) {
      const o = <usize>i << 2;
      acc0 = f32x4.add(acc0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
      i += 4;
    }
    const t = f32x4.add(acc0, acc1);
    const u = f32x4.add(t, f32x4.shuffle(t, t, 2, 3, 0, 1));
    s = <F>(f32x4.extract_lane(u, 0) + f32x4.extract_lane(u, 1));
  }
  for (; i < len; i++) {
    const o = <usize>i * sizeof<F>();
    s += load<F>(a + o) * load<F>(b + o);
  }
  return s;
}

/** y[k] += a·x[k] for k < len, contiguous F. */
@inline function axpyRow(y: usize, x: usize, a: F, len: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const va = f32x4.splat(<f32>a);
    for (; i + 4 <= len; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(x + o))));
    }
  }
  for (; i < len; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, load<F>(y + o) + a * load<F>(x + o));
  }
}

/** Solves (I + strict_lower(L))·v = x_r for each row, in place (forward substitution). */
export function solve_lower_unit(L: usize, x: usize, n: i32, D: i32, xs: i32): void {
  const rowL = <usize>D * sizeof<F>();
  for (let r = 0; r < n; r++) {
    const v = x + <usize>r * <usize>xs * sizeof<F>();
    for (let i = 1; i < D; i++) {
      const p = v + <usize>i * sizeof<F>();
      store<F>(p, load<F>(p) - dot(L + <usize>i * rowL, v, i));
    }
  }
}

/** Solves (strict_upper(U) + diag(diag))·v = x_r for each row, in place (back substitution). */
export function solve_upper(U: usize, diag: usize, x: usize, n: i32, D: i32, xs: i32): void {
  const rowU = <usize>D * sizeof<F>();
  for (let r = 0; r < n; r++) {
    const v = x + <usize>r * <usize>xs * sizeof<F>();
    for (let i = D - 1; i >= 0; i--) {
      const off = <usize>i * sizeof<F>();
      const tail = off + sizeof<F>();
      const s = load<F>(v + off) - dot(U + <usize>i * rowU + tail, v + tail, D - 1 - i);
      store<F>(v + off, s / load<F>(diag + off));
    }
  }
}

/** y_r = (I + strict_lower(L))·x_r. Rows are written last-to-first, so y may be x. */
export function matvec_lower_unit(L: usize, x: usize, y: usize, n: i32, D: i32, xs: i32, ys: i32): void {
  const rowL = <usize>D * sizeof<F>();
  for (let r = 0; r < n; r++) {
    const u = x + <usize>r * <usize>xs * sizeof<F>();
    const v = y + <usize>r * <usize>ys * sizeof<F>();
    for (let i = D - 1; i >= 0; i--) {
      const off = <usize>i * sizeof<F>();
      store<F>(v + off, load<F>(u + off) + dot(L + <usize>i * rowL, u, i));
    }
  }
}

/** y_r = (strict_upper(U) + diag(diag))·x_r. Rows are written first-to-last, so y may be x. */
export function matvec_upper(U: usize, diag: usize, x: usize, y: usize, n: i32, D: i32, xs: i32, ys: i32): void {
  const rowU = <usize>D * sizeof<F>();
  for (let r = 0; r < n; r++) {
    const u = x + <usize>r * <usize>xs * sizeof<F>();
    const v = y + <usize>r * <usize>ys * sizeof<F>();
    for (let i = 0; i < D; i++) {
      const off = <usize>i * sizeof<F>();
      const tail = off + sizeof<F>();
      const s = load<F>(diag + off) * load<F>(u + off) + dot(U + <usize>i * rowU + tail, u + tail, D - 1 - i);
      store<F>(v + off, s);
    }
  }
}

/** y_r = (I + strict_lower(L))ᵀ·x_r, the gradient of matvec_lower_unit; y may be x. */
export function matvec_lower_unit_t(L: usize, x: usize, y: usize, n: i32, D: i32, xs: i32, ys: i32): void {
  const rowL = <usize>D * sizeof<F>();
  for (let r = 0; r < n; r++) {
    const u = x + <usize>r * <usize>xs * sizeof<F>();
    const v = y + <usize>r * <usize>ys * sizeof<F>();
    if (v != u) memory.copy(v, u, <usize>D * sizeof<F>());
    // Row i scatters x_i into y[0..i); y_i itself only receives from later
    // rows, so reading it at step i still sees the input value.
    for (let i = 1; i < D; i++) {
      axpyRow(v, L + <usize>i * rowL, load<F>(v + <usize>i * sizeof<F>()), i);
    }
  }
}

/** y_r = (strict_upper(U) + diag(diag))ᵀ·x_r, the gradient of matvec_upper; y may be x. */
export function matvec_upper_t(U: usize, diag: usize, x: usize, y: usize, n: i32, D: i32, xs: i32, ys: i32): void {
  const rowU = <usize>D * sizeof<F>();
  for (let r = 0; r < n; r++) {
    const u = x + <usize>r * <usize>xs * sizeof<F>();
    const v = y + <usize>r * <usize>ys * sizeof<F>();
    if (v != u) memory.copy(v, u, <usize>D * sizeof<F>());
    // Last row first: y_i only receives from earlier rows, which come later.
    for (let i = D - 1; i >= 0; i--) {
      const off = <usize>i * sizeof<F>();
      const tail = off + sizeof<F>();
      const g = load<F>(v + off);
      store<F>(v + off, g * load<F>(diag + off));
      axpyRow(v + tail, U + <usize>i * rowU + tail, g, D - 1 - i);
    }
  }
}

/** G[i, j] += Σ_r a_r[i]·b_r[j] for j < i (strictly lower entries only). */
export function outer_lower_acc(G: usize, a: usize, b: usize, n: i32, D: i32, as_: i32, bs: i32): void {
  const rowG = <usize>D * sizeof<F>();
  for (let r = 0; r < n; r++) {
    const ar = a + <usize>r * <usize>as_ * sizeof<F>();
    const br = b + <usize>r * <usize>bs * sizeof<F>();
    for (let i = 1; i < D; i++) {
      axpyRow(G + <usize>i * rowG, br, load<F>(ar + <usize>i * sizeof<F>()), i);
    }
  }
}

/** G[i, j] += Σ_r a_r[i]·b_r[j] for j > i (strictly upper entries only). */
export function outer_upper_acc(G: usize, a: usize, b: usize, n: i32, D: i32, as_: i32, bs: i32): void {
  const rowG = <usize>D * sizeof<F>();
  for (let r = 0; r < n; r++) {
    const ar = a + <usize>r * <usize>as_ * sizeof<F>();
    const br = b + <usize>r * <usize>bs * sizeof<F>();
    for (let i = 0; i < D - 1; i++) {
      const tail = <usize>(i + 1) * sizeof<F>();
      axpyRow(G + <usize>i * rowG + tail, br + tail, load<F>(ar + <usize>i * sizeof<F>()), D - 1 - i);
    }
  }
}
