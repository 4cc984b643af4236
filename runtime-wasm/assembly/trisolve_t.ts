// @fileoverview Transposed triangular solves for the backward of an
// LU-parameterised layer's inverse. The inverse is x = B⁻¹ A⁻¹ Pᵀ (y − b)
// with A = I + strict_lower(L), B = strict_upper(U) + diag, so its input
// gradient is P A⁻ᵀ B⁻ᵀ ∂L/∂x: two solves with the transposed factors. They
// run in place, one row of a chunk at a time, as contiguous axpys over the
// rows of L and U (column access would stride by D). Storage as in
// linalg.ts: [D, D] row-major F, only the strict triangles read, the
// diagonal of U a separate F[D].
import { F } from "./prec";

/** y[k] −= a·x[k] for k < len, contiguous F. */
@inline function axmyRow(y: usize, x: usize, a: F, len: i32): void {
  let i = 0;
  if (sizeof<F>() == 4) {
    const va = f32x4.splat(<f32>a);
    for (; i + 4 <= len; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.sub(v128.load(y + o), f32x4.mul(va, v128.load(x + o))));
    }
  } else {
    const va = f64x2.splat(<f64>a);
    for (; i + 2 <= len; i += 2) {
      const o = <usize>i << 3;
      v128.store(y + o, f64x2.sub(v128.load(y + o), f64x2.mul(va, v128.load(x + o))));
    }
  }
  for (; i < len; i++) {
    const o = <usize>i * sizeof<F>();
    store<F>(y + o, load<F>(y + o) - a * load<F>(x + o));
  }
}

/** Solves (strict_upper(U) + diag(diag))ᵀ·v = x_r for each row, in place. The
 *  transpose is lower-triangular: v_i is final once the earlier rows of U have
 *  been subtracted from it, then row i of U scatters v_i into the later entries. */
export function solve_upper_t(U: usize, diag: usize, x: usize, n: i32, D: i32, xs: i32): void {
  const rowU = <usize>D * sizeof<F>();
  for (let r = 0; r < n; r++) {
    const v = x + <usize>r * <usize>xs * sizeof<F>();
    for (let i = 0; i < D; i++) {
      const off = <usize>i * sizeof<F>();
      const tail = off + sizeof<F>();
      const z = load<F>(v + off) / load<F>(diag + off);
      store<F>(v + off, z);
      axmyRow(v + tail, U + <usize>i * rowU + tail, z, D - 1 - i);
    }
  }
}

/** Solves (I + strict_lower(L))ᵀ·v = x_r for each row, in place: the transpose is
 *  unit upper-triangular, so the last entry is final and row i of L scatters
 *  v_i into the entries before it, last row first. */
export function solve_lower_unit_t(L: usize, x: usize, n: i32, D: i32, xs: i32): void {
  const rowL = <usize>D * sizeof<F>();
  for (let r = 0; r < n; r++) {
    const v = x + <usize>r * <usize>xs * sizeof<F>();
    for (let i = D - 1; i >= 1; i--) {
      axmyRow(v, L + <usize>i * rowL, load<F>(v + <usize>i * sizeof<F>()), i);
    }
  }
}

/** Af = I + strict_lower(L) and Bf = strict_upper(U) + diag(diag) as full [D, D]
 *  matrices, the operands `lu_factor_grads` (lu.ts) maps ∂L/∂W through. */
export function lu_factors(L: usize, U: usize, diag: usize, Af: usize, Bf: usize, D: i32): void {
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < D; j++) {
      const o = <usize>(i * D + j) * sizeof<F>();
      store<F>(Af + o, j < i ? load<F>(L + o) : j == i ? <F>1 : <F>0);
      store<F>(Bf + o, j > i ? load<F>(U + o) : j == i ? load<F>(diag + <usize>i * sizeof<F>()) : <F>0);
    }
  }
}
