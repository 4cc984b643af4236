// @fileoverview Whole-matrix helpers for LU-parameterised dense layers,
// W = P·(I + L)·(U + diag) with P a 0/1 permutation matrix (Glow): turn the
// factors into W once per call so a chunk's rows go through the
// register-blocked products of dense.ts, and map ∂L/∂W back onto the
// factors. Matrices are [D, D] row-major F; only the strictly lower part of
// L and the strictly upper part of U are read or written.
import { F } from "./prec";
import { dense_bwd_w, dense_bwd_x, dense_fwd } from "./dense";
import { exp_ } from "./math";

@inline function el(p: usize, i: i32): usize {
  return p + (<usize>i << alignof<F>());
}

/**
 * perm[i] (i32) = the column of the 1 in row i of the permutation matrix Pm,
 * so that (Pm·v)_i = v[perm[i]]; diag[i] = sign[i]·exp(logs[i]). Returns Σ logs.
 */
export function lu_prep(Pm: usize, sign: usize, logs: usize, perm: usize, diag: usize, D: i32): F {
  let s: F = 0;
  for (let i = 0; i < D; i++) {
    const row = el(Pm, i * D);
    let j = 0;
    for (let k = 1; k < D; k++) if (load<F>(el(row, k)) > load<F>(el(row, j))) j = k;
    store<i32>(perm + (<usize>i << 2), j);
    const l = load<F>(el(logs, i));
    store<F>(el(diag, i), load<F>(el(sign, i)) * exp_(l));
    s += l;
  }
  return s;
}

/**
 * Af = I + strict_lower(L) and Bf = strict_upper(U) + diag as full matrices,
 * then W = Pm·Af·Bf (PA holds the rows of Af in Pm's order).
 */
export function lu_compose(L: usize, U: usize, diag: usize, perm: usize, Af: usize, Bf: usize, PA: usize, W: usize, D: i32): void {
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < D; j++) {
      const q = i * D + j;
      store<F>(el(Af, q), j < i ? load<F>(el(L, q)) : j == i ? <F>1 : <F>0);
      store<F>(el(Bf, q), j > i ? load<F>(el(U, q)) : j == i ? load<F>(el(diag, i)) : <F>0);
    }
  }
  const rowBytes = <usize>D << alignof<F>();
  for (let i = 0; i < D; i++) {
    memory.copy(PA + <usize>i * rowBytes, Af + <usize>load<i32>(perm + (<usize>i << 2)) * rowBytes, rowBytes);
  }
  // W[r, i] = Σ_o PA[r, o]·Bf[o, i]
  dense_bwd_x(Bf, PA, W, D, D, D, D, D);
}

/**
 * Given GW = ∂L/∂W (destroyed), accumulates ∂L/∂L (strictly lower), ∂L/∂U
 * (strictly upper) and Σ ∂L/∂diag_i · diag_i into glogs. With Q = Pmᵀ·GW:
 * ∂L/∂Af = Q·Bfᵀ, ∂L/∂Bf = Afᵀ·Q. Af and Bf are lu_compose's; Q and T are
 * scratch, and T may be GW itself.
 */
export function lu_factor_grads(GW: usize, diag: usize, perm: usize, Af: usize, Bf: usize, Q: usize, T: usize, gL: usize, gU: usize, glogs: usize, D: i32): void {
  const rowBytes = <usize>D << alignof<F>();
  for (let i = 0; i < D; i++) {
    memory.copy(Q + <usize>load<i32>(perm + (<usize>i << 2)) * rowBytes, GW + <usize>i * rowBytes, rowBytes);
  }
  dense_fwd(Bf, 0, Q, T, D, D, D, D, D);
  for (let i = 1; i < D; i++) {
    for (let j = 0; j < i; j++) {
      const q = i * D + j;
      store<F>(el(gL, q), load<F>(el(gL, q)) + load<F>(el(T, q)));
    }
  }
  memory.fill(T, 0, <usize>(D * D) << alignof<F>());
  dense_bwd_w(Q, Af, T, 0, D, D, D, D, D);
  for (let i = 0; i < D; i++) {
    const d = i * D + i;
    store<F>(el(glogs, i), load<F>(el(glogs, i)) + load<F>(el(T, d)) * load<F>(el(diag, i)));
    for (let j = i + 1; j < D; j++) {
      const q = i * D + j;
      store<F>(el(gU, q), load<F>(el(gU, q)) + load<F>(el(T, q)));
    }
  }
}
