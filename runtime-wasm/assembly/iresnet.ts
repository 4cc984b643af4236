// @fileoverview Helpers of the invertible residual block (i-ResNet):
// a deterministic spectral norm (and its gradient), the exact per-row
// log|det(I + J_g)| of g = W2·elu(W1·elu(W0·x + b0) + b1) + b2 through an LU
// factorisation, its gradient with respect to the (normalised) weights and
// the pre-activations, and one row of g for the fixed-point inverse.
// Matrices are row-major F in PyTorch layout W[out, in].
import { F } from "./prec";
import { exp_, expm1_ } from "./math";

@inline function el(p: usize, i: i32): usize {
  return p + (<usize>i << alignof<F>());
}
@inline function ld(p: usize, i: i32): F {
  return load<F>(el(p, i));
}
@inline function st(p: usize, i: i32, v: F): void {
  store<F>(el(p, i), v);
}
@inline function ld64(p: usize, i: i32): f64 {
  return load<f64>(p + (<usize>i << 3));
}
@inline function st64(p: usize, i: i32, v: f64): void {
  store<f64>(p + (<usize>i << 3), v);
}

/** Bytes of f64 scratch `ires_specnorm` needs for an OUT×IN matrix. */
export function ires_sn_work_bytes(OUT: i32, IN: i32): i32 {
  const m = min(OUT, IN);
  return (3 * m * m + 2 * max(OUT, IN)) << 3;
}

/**
 * Weff = W · min(1, c/σ(W)) with σ the exact largest singular value, found
 * deterministically (no carried power-iteration state, so every call and its
 * finite differences see the same function of W): the m×m Gram matrix
 * (m = min(OUT, IN)) normalised to unit trace is squared repeatedly, which
 * drives it to the projector on the top singular vector at rate
 * (σ2/σ1)^(2^k); one column of it, polished by two power steps, gives the
 * vector, and its Rayleigh quotient σ² to working precision. meta receives
 * [scale, σ, u (OUT), v (IN)] for the backward.
 */
export function ires_specnorm(W: usize, OUT: i32, IN: i32, c: F, Weff: usize, meta: usize, work: usize): void {
  const left = OUT < IN; // Gram of the smaller side: W·Wᵀ (OUT) or Wᵀ·W (IN)
  const m = left ? OUT : IN;
  const K = left ? IN : OUT;
  const mm = <usize>(m * m) << 3;
  const A = work, S = work + mm, Q = work + 2 * mm, V = work + 3 * mm;
  const T = V + (<usize>max(OUT, IN) << 3);
  let tr: f64 = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s: f64 = 0;
      if (left) for (let k = 0; k < K; k++) s += <f64>ld(W, i * IN + k) * <f64>ld(W, j * IN + k);
      else for (let k = 0; k < K; k++) s += <f64>ld(W, k * IN + i) * <f64>ld(W, k * IN + j);
      st64(A, i * m + j, s);
      st64(A, j * m + i, s);
    }
    tr += ld64(A, i * m + i);
  }
  const total = OUT * IN;
  if (!(tr > 0)) {
    // W = 0: σ = 0 and the scale is 1 in a neighbourhood, so no σ gradient.
    st(meta, 0, <F>1);
    st(meta, 1, <F>0);
    for (let k = 0; k < OUT + IN; k++) st(meta, 2 + k, <F>0);
    for (let k = 0; k < total; k++) st(Weff, k, ld(W, k));
    return;
  }
  for (let k = 0; k < m * m; k++) st64(S, k, ld64(A, k) / tr);
  for (let it = 0; it < 64; it++) {
    // S ← S²/tr(S²); tr(S²) = 1 exactly when S has reached rank one.
    let t: f64 = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j <= i; j++) {
        let s: f64 = 0;
        for (let k = 0; k < m; k++) s += ld64(S, i * m + k) * ld64(S, k * m + j);
        st64(Q, i * m + j, s);
        if (i == j) t += s;
      }
    }
    for (let i = 0; i < m; i++) for (let j = 0; j <= i; j++) {
      const v = ld64(Q, i * m + j) / t;
      st64(S, i * m + j, v);
      st64(S, j * m + i, v);
    }
    if (t > 1.0 - 1e-15) break;
  }
  // Column of the largest diagonal entry: the direction of the top vector.
  let jb = 0;
  for (let j = 1; j < m; j++) if (ld64(S, j * m + j) > ld64(S, jb * m + jb)) jb = j;
  for (let i = 0; i < m; i++) st64(V, i, ld64(S, i * m + jb));
  for (let p = 0; p < 2; p++) {
    let nn: f64 = 0;
    for (let i = 0; i < m; i++) {
      let s: f64 = 0;
      for (let k = 0; k < m; k++) s += ld64(A, i * m + k) * ld64(V, k);
      st64(T, i, s);
      nn += s * s;
    }
    nn = Math.sqrt(nn);
    for (let i = 0; i < m; i++) st64(V, i, ld64(T, i) / nn);
  }
  let q: f64 = 0;
  for (let i = 0; i < m; i++) {
    let s: f64 = 0;
    for (let k = 0; k < m; k++) s += ld64(A, i * m + k) * ld64(V, k);
    q += s * ld64(V, i);
  }
  const sigma = Math.sqrt(max(q, 0.0));
  // The other singular vector: W·v/σ or Wᵀ·u/σ.
  const uo = el(meta, 2), vo = el(meta, 2 + OUT);
  if (left) {
    for (let i = 0; i < OUT; i++) st(uo, i, <F>ld64(V, i));
    for (let k = 0; k < IN; k++) {
      let s: f64 = 0;
      for (let i = 0; i < OUT; i++) s += <f64>ld(W, i * IN + k) * ld64(V, i);
      st(vo, k, <F>(s / sigma));
    }
  } else {
    for (let k = 0; k < IN; k++) st(vo, k, <F>ld64(V, k));
    for (let i = 0; i < OUT; i++) {
      let s: f64 = 0;
      for (let k = 0; k < IN; k++) s += <f64>ld(W, i * IN + k) * ld64(V, k);
      st(uo, i, <F>(s / sigma));
    }
  }
  const scale: f64 = sigma > <f64>c ? <f64>c / sigma : 1.0;
  st(meta, 0, <F>scale);
  st(meta, 1, <F>sigma);
  for (let k = 0; k < total; k++) st(Weff, k, <F>(<f64>ld(W, k) * scale));
}

/**
 * G_W += ∂L/∂W given Gb = ∂L/∂Weff. With Weff = c·W/σ(W) and ∂σ/∂W = u·vᵀ:
 * ∂L/∂W = s·Gb − (s/σ)·⟨Gb, W⟩·u·vᵀ (s = c/σ); just Gb when σ ≤ c.
 */
export function ires_specnorm_bwd(W: usize, Gb: usize, meta: usize, GW: usize, OUT: i32, IN: i32): void {
  const s = ld(meta, 0), sigma = ld(meta, 1);
  const total = OUT * IN;
  if (s == <F>1) {
    for (let k = 0; k < total; k++) st(GW, k, ld(GW, k) + ld(Gb, k));
    return;
  }
  let dot: F = 0;
  for (let k = 0; k < total; k++) dot += ld(Gb, k) * ld(W, k);
  const a = s * dot / sigma;
  const uo = el(meta, 2), vo = el(meta, 2 + OUT);
  for (let i = 0; i < OUT; i++) {
    const ui = a * ld(uo, i);
    for (let k = 0; k < IN; k++) st(GW, i * IN + k, ld(GW, i * IN + k) + s * ld(Gb, i * IN + k) - ui * ld(vo, k));
  }
}

@inline function elu(v: F): F {
  return v > 0 ? v : expm1_(v);
}
@inline function elu_d(v: F): F {
  return v > 0 ? <F>1 : exp_(v);
}

/** One row of g: out = W2·elu(W1·elu(W0·x + b0) + b1) + b2; a0, a1 (H) receive the pre-activations; h (H) is scratch. */
export function ires_g_row(W0: usize, b0: usize, W1: usize, b1: usize, W2: usize, b2: usize, x: usize, out: usize, a0: usize, a1: usize, h: usize, D: i32, H: i32): void {
  for (let i = 0; i < H; i++) {
    let s = ld(b0, i);
    for (let k = 0; k < D; k++) s += ld(W0, i * D + k) * ld(x, k);
    st(a0, i, s);
    st(h, i, elu(s));
  }
  for (let i = 0; i < H; i++) {
    let s = ld(b1, i);
    for (let k = 0; k < H; k++) s += ld(W1, i * H + k) * ld(h, k);
    st(a1, i, s);
  }
  for (let o = 0; o < D; o++) {
    let s = ld(b2, o);
    for (let k = 0; k < H; k++) s += ld(W2, o * H + k) * elu(ld(a1, k));
    st(out, o, s);
  }
}

/** F elements of scratch `ires_logdet`/`ires_logdet_bwd` need (integers of the pivot stored as F). */
export function ires_ld_scratch(D: i32, H: i32): i32 {
  return 4 * H * D + 3 * D * D + D;
}

/**
 * Builds C = S0·W0, T = W1·C, B = S1·T (H×D each; S = diag elu'(a)) and
 * A = I + W2·B = I + J_g (D×D), LU-factorises A in place with partial
 * pivoting and returns log|det A|. Layout of sc: C, T, B, E | A, M, X | piv.
 */
function ires_jac_lu(W0: usize, W1: usize, W2: usize, a0: usize, a1: usize, D: i32, H: i32, sc: usize): F {
  const HD = H * D;
  const C = sc, T = el(sc, HD), B = el(sc, 2 * HD);
  const A = el(sc, 4 * HD), piv = el(sc, 4 * HD + 3 * D * D);
  for (let i = 0; i < H; i++) {
    const s0 = elu_d(ld(a0, i));
    for (let q = 0; q < D; q++) st(C, i * D + q, s0 * ld(W0, i * D + q));
  }
  for (let i = 0; i < H; i++) {
    const s1 = elu_d(ld(a1, i));
    for (let q = 0; q < D; q++) {
      let s: F = 0;
      for (let k = 0; k < H; k++) s += ld(W1, i * H + k) * ld(C, k * D + q);
      st(T, i * D + q, s);
      st(B, i * D + q, s1 * s);
    }
  }
  for (let p = 0; p < D; p++) for (let q = 0; q < D; q++) {
    let s: F = p == q ? <F>1 : <F>0;
    for (let k = 0; k < H; k++) s += ld(W2, p * H + k) * ld(B, k * D + q);
    st(A, p * D + q, s);
  }
  let logdet: F = 0;
  for (let k = 0; k < D; k++) {
    let pr = k;
    let best = abs<F>(ld(A, k * D + k));
    for (let i = k + 1; i < D; i++) {
      const v = abs<F>(ld(A, i * D + k));
      if (v > best) { best = v; pr = i; }
    }
    st(piv, k, <F>pr);
    if (pr != k) for (let j = 0; j < D; j++) {
      const t = ld(A, k * D + j);
      st(A, k * D + j, ld(A, pr * D + j));
      st(A, pr * D + j, t);
    }
    const d = ld(A, k * D + k);
    logdet += <F>Math.log(<f64>abs<F>(d));
    for (let i = k + 1; i < D; i++) {
      const l = ld(A, i * D + k) / d;
      st(A, i * D + k, l);
      for (let j = k + 1; j < D; j++) st(A, i * D + j, ld(A, i * D + j) - l * ld(A, k * D + j));
    }
  }
  return logdet;
}

/** log|det(I + J_g)| of one row from its pre-activations (exact, via LU). */
export function ires_logdet(W0: usize, W1: usize, W2: usize, a0: usize, a1: usize, D: i32, H: i32, sc: usize): F {
  return ires_jac_lu(W0, W1, W2, a0, a1, D, H, sc);
}

/**
 * Gradient of gld·log|det(I + J_g)| for one row, J_g = W2·S1·W1·S0·W0.
 * With Ḡ = gld·(I + J_g)⁻ᵀ: Gb2 += Ḡ·Bᵀ; E = W2ᵀ·Ḡ; gs1 = rowsum(E ⊙ T);
 * F = S1·E; Gb1 += F·Cᵀ; Hm = W1ᵀ·F; gs0 = rowsum(Hm ⊙ W0); Gb0 += S0·Hm.
 * Writes ga0 = gs0 ⊙ elu''(a0) and ga1 = gs1 ⊙ elu''(a1) (H each, overwrite),
 * to be added to the ordinary back-propagated pre-activation gradients.
 */
export function ires_logdet_bwd(W0: usize, W1: usize, W2: usize, a0: usize, a1: usize, gld: F, D: i32, H: i32, sc: usize, Gb0: usize, Gb1: usize, Gb2: usize, ga0: usize, ga1: usize): void {
  ires_jac_lu(W0, W1, W2, a0, a1, D, H, sc);
  const HD = H * D;
  const C = sc, T = el(sc, HD), B = el(sc, 2 * HD), E = el(sc, 3 * HD);
  const A = el(sc, 4 * HD), M = el(sc, 4 * HD + D * D), X = el(sc, 4 * HD + 2 * D * D), piv = el(sc, 4 * HD + 3 * D * D);
  // M = gld·A⁻ᵀ: solve Aᵀ·m_q = gld·e_q, i.e. Uᵀ·Lᵀ·(P·m) … done as: column q of A⁻¹ from P·A = L·U.
  for (let q = 0; q < D; q++) {
    // X = A⁻¹ e_q: z = P e_q, forward with L, back with U.
    for (let i = 0; i < D; i++) st(X, i, i == q ? <F>1 : <F>0);
    for (let k = 0; k < D; k++) {
      const pr = <i32>ld(piv, k);
      if (pr != k) { const t = ld(X, k); st(X, k, ld(X, pr)); st(X, pr, t); }
    }
    for (let i = 0; i < D; i++) {
      let s = ld(X, i);
      for (let k = 0; k < i; k++) s -= ld(A, i * D + k) * ld(X, k);
      st(X, i, s);
    }
    for (let i = D - 1; i >= 0; i--) {
      let s = ld(X, i);
      for (let k = i + 1; k < D; k++) s -= ld(A, i * D + k) * ld(X, k);
      st(X, i, s / ld(A, i * D + i));
    }
    // (A⁻¹)[i, q] = X[i] → M[q, i] = gld·X[i]
    for (let i = 0; i < D; i++) st(M, q * D + i, gld * ld(X, i));
  }
  for (let p = 0; p < D; p++) for (let i = 0; i < H; i++) {
    let s: F = 0;
    for (let q = 0; q < D; q++) s += ld(M, p * D + q) * ld(B, i * D + q);
    st(Gb2, p * H + i, ld(Gb2, p * H + i) + s);
  }
  for (let i = 0; i < H; i++) {
    const v1 = ld(a1, i);
    const s1 = elu_d(v1);
    let gs: F = 0;
    for (let q = 0; q < D; q++) {
      let s: F = 0;
      for (let p = 0; p < D; p++) s += ld(W2, p * H + i) * ld(M, p * D + q);
      gs += s * ld(T, i * D + q);
      st(E, i * D + q, s1 * s); // F = S1·E kept in E
    }
    st(ga1, i, v1 > 0 ? <F>0 : gs * exp_(v1));
  }
  for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) {
    let s: F = 0;
    for (let q = 0; q < D; q++) s += ld(E, i * D + q) * ld(C, j * D + q);
    st(Gb1, i * H + j, ld(Gb1, i * H + j) + s);
  }
  for (let j = 0; j < H; j++) {
    const v0 = ld(a0, j);
    const s0 = elu_d(v0);
    let gs: F = 0;
    for (let q = 0; q < D; q++) {
      let s: F = 0;
      for (let i = 0; i < H; i++) s += ld(W1, i * H + j) * ld(E, i * D + q);
      gs += s * ld(W0, j * D + q);
      st(Gb0, j * D + q, ld(Gb0, j * D + q) + s0 * s);
    }
    st(ga0, j, v0 > 0 ? <F>0 : gs * exp_(v0));
  }
}
