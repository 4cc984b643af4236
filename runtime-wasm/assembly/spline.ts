// @fileoverview Monotone rational-quadratic splines (Durkan, Bekasov, Murray
// & Papamakarios 2019, "Neural Spline Flows"), one scalar element at a time,
// for `coupling spline` and the autoregressive spline layers.
//
// The spline maps [−B, B] onto itself with K bins and is the identity outside
// (linear tails). Each element has 3K − 1 unnormalised parameters, the i-th
// at byte address p + i·s·sizeof<F>() (so they may be contiguous, s = 1, or
// strided, e.g. one channel per parameter in a conv output):
//   [0, K)        width logits   → widths  = MIN_W + (1 − MIN_W·K)·softmax
//   [K, 2K)       height logits  → heights = MIN_H + (1 − MIN_H·K)·softmax
//   [2K, 3K − 1)  interior derivative pre-activations → MIN_D + softplus
// The derivatives at ±B are fixed to 1, so the tails join smoothly (nflows'
// convention). Zero parameters give equal bins and interior derivatives
// MIN_D + log 2: not the identity, but the same map for every input.
//
// Knots: knot_k = −B + 2B·(k·MIN_W + (1 − MIN_W·K)·Σ_{i<k} softmax_i), with
// knot_0 = −B and knot_K = B exactly. A point belongs to the bin of the
// largest knot ≤ it, so a point on an interior knot starts the bin on its
// right (ξ = 0) and x = B ends the last bin (ξ = 1); the spline is C¹, so
// the choice only matters for bit-exact reproducibility. Forward, inverse
// and backward locate knots with the same arithmetic, so they agree on it.
//
// Inputs outside [−B, B] (and NaN) never reach the spline arithmetic: y = x,
// log-derivative 0, parameter gradients 0. Softmaxes subtract their maximum
// and the log-derivative is a sum of logs of bounded ratios, so large logits
// and f32 stay finite. A linear bin scan is used; K ≤ 128.
import { F } from "./prec";
import { exp_, log_, sigmoid_, softplus_, sqrt_ } from "./math";
import { ldf, stf } from "./mem";

/** Smallest bin width and height as a fraction of 2B, and smallest interior derivative. */
export const RQS_MIN_W: f64 = 1e-3;
export const RQS_MIN_H: f64 = 1e-3;
export const RQS_MIN_D: f64 = 1e-3;

/** Number of unnormalised parameters per element for K bins. */
@inline export function rqs_params(K: i32): i32 {
  return 3 * K - 1;
}

@inline function inside(v: F, B: F): bool {
  // False for NaN too, which then passes through unchanged.
  return v >= -B && v <= B;
}

/** Maximum of `count` strided values. */
@inline function smax(p: usize, s: i32, count: i32): F {
  let m = ldf(p, 0);
  for (let i = 1; i < count; i++) m = max<F>(m, ldf(p, i * s));
  return m;
}

/** Σ exp(v_i − m) over `count` strided values. */
@inline function sexp(p: usize, s: i32, count: i32, m: F): F {
  let t: F = 0;
  for (let i = 0; i < count; i++) t += exp_(ldf(p, i * s) - m);
  return t;
}

/** Position of knot k from the running unnormalised softmax sum `cum` (a1 = 2B·MIN, a2 = 2B(1 − K·MIN)/Σ). */
@inline function knot(B: F, k: i32, a1: F, a2: F, cum: F): F {
  return -B + <F>k * a1 + a2 * cum;
}

/** Interior derivative from its pre-activation. */
@inline function deriv(u: F): F {
  return <F>RQS_MIN_D + softplus_(u);
}

/** log dy/dx at ξ in a bin of slope sl with end derivatives d0, d1 (= log(sl²·dnum/den²), in bounded factors). */
@inline function logDeriv(xi: F, sl: F, d0: F, d1: F): F {
  const one: F = 1, two: F = 2;
  const om = one - xi, t = xi * om;
  const den = sl + (d1 + d0 - two * sl) * t;
  const dnum = d1 * xi * xi + two * sl * t + d0 * om * om;
  return two * log_(sl / den) + log_(dnum);
}

/** The bin's rise (y − y_lo)/H at ξ, for end derivatives d0 (at ξ = 0) and d1. The mirror
 *  image, (y_hi − y)/H at 1 − ξ, is the same function with d0 and d1 swapped: evaluating
 *  the upper half of a bin from y_hi keeps y's rounding relative to its distance from the
 *  nearer knot, which matters in f32 next to a flat bin (else y carries ulp(B) there). */
@inline function rise(xi: F, sl: F, d0: F, d1: F): F {
  const t = xi * (<F>1 - xi);
  return (sl * xi * xi + d0 * t) / (sl + (d1 + d0 - <F>2 * sl) * t);
}

/** The ξ in [0, 1] with H·rise(ξ) = dy: the root of a·ξ² + b·ξ + c = 0. */
@inline function solve(dy: F, H: F, sl: F, d0: F, d1: F): F {
  const two: F = 2;
  const dd = d1 + d0 - two * sl;
  const a = H * (sl - d0) + dy * dd;
  const b = H * d0 - dy * dd;
  const c = -sl * dy;
  const sq = sqrt_(max<F>(b * b - <F>4 * a * c, <F>0));
  // 2c / (−b − √disc) is the usual stable form while b ≥ 0. With b < 0 (a steep end
  // derivative after a flat stretch) its denominator cancels (−b ≈ √disc, ~10⁴ ulp
  // lost), so take (−b + √disc) / 2a: then a > H·sl > 0 and both terms are positive.
  return clamp01(b >= <F>0 ? (two * c) / (-b - sq) : (sq - b) / (two * a));
}

@inline function clamp01(v: F): F {
  return min<F>(max<F>(v, <F>0), <F>1);
}

/**
 * Forward: stores y = spline(x) at the byte address `yp` and returns log dy/dx.
 * `p`, `s`: the element's 3K − 1 parameters (see the file comment); `B` > 0.
 */
export function rqs_fwd(x: F, p: usize, s: i32, K: i32, B: F, yp: usize): F {
  if (!inside(x, B)) {
    store<F>(yp, x);
    return 0;
  }
  const two: F = 2, one: F = 1;
  const ph = p + ((<usize>(K * s)) << alignof<F>());
  // Widths: find the bin of x.
  const mw = smax(p, s, K);
  const a1 = two * B * <F>RQS_MIN_W;
  const a2 = two * B * (one - <F>K * <F>RQS_MIN_W) / sexp(p, s, K, mw);
  let k = 0, cum: F = 0, lo = -B, hi = B;
  for (; k < K - 1; k++) {
    const c = cum + exp_(ldf(p, k * s) - mw);
    const nx = knot(B, k + 1, a1, a2, c);
    if (x < nx) { hi = nx; break; }
    cum = c;
    lo = nx;
  }
  // Heights of the same bin.
  const mh = smax(ph, s, K);
  const b1 = two * B * <F>RQS_MIN_H;
  const b2 = two * B * (one - <F>K * <F>RQS_MIN_H) / sexp(ph, s, K, mh);
  let ch: F = 0;
  for (let j = 0; j < k; j++) ch += exp_(ldf(ph, j * s) - mh);
  const ylo = knot(B, k, b1, b2, ch);
  const yhi = k == K - 1 ? B : knot(B, k + 1, b1, b2, ch + exp_(ldf(ph, k * s) - mh));
  const d0 = k == 0 ? one : deriv(ldf(p, (2 * K + k - 1) * s));
  const d1 = k == K - 1 ? one : deriv(ldf(p, (2 * K + k) * s));

  const W = hi - lo, H = yhi - ylo, sl = H / W;
  const xi = clamp01((x - lo) / W);
  if (xi <= <F>0.5) {
    store<F>(yp, ylo + H * rise(xi, sl, d0, d1));
  } else {
    store<F>(yp, yhi - H * rise(clamp01((hi - x) / W), sl, d1, d0));
  }
  return logDeriv(xi, sl, d0, d1);
}

/**
 * Inverse: stores x = spline⁻¹(y) at `xp` and returns log dx/dy (= −log dy/dx at x).
 * Solves the bin's quadratic for ξ from the nearer knot (see `rise` and `solve`).
 */
export function rqs_inv(y: F, p: usize, s: i32, K: i32, B: F, xp: usize): F {
  if (!inside(y, B)) {
    store<F>(xp, y);
    return 0;
  }
  const two: F = 2, one: F = 1;
  const ph = p + ((<usize>(K * s)) << alignof<F>());
  // Heights: find the bin of y.
  const mh = smax(ph, s, K);
  const b1 = two * B * <F>RQS_MIN_H;
  const b2 = two * B * (one - <F>K * <F>RQS_MIN_H) / sexp(ph, s, K, mh);
  let k = 0, cum: F = 0, ylo = -B, yhi = B;
  for (; k < K - 1; k++) {
    const c = cum + exp_(ldf(ph, k * s) - mh);
    const nx = knot(B, k + 1, b1, b2, c);
    if (y < nx) { yhi = nx; break; }
    cum = c;
    ylo = nx;
  }
  // Widths of the same bin.
  const mw = smax(p, s, K);
  const a1 = two * B * <F>RQS_MIN_W;
  const a2 = two * B * (one - <F>K * <F>RQS_MIN_W) / sexp(p, s, K, mw);
  let cw: F = 0;
  for (let j = 0; j < k; j++) cw += exp_(ldf(p, j * s) - mw);
  const lo = knot(B, k, a1, a2, cw);
  const hi = k == K - 1 ? B : knot(B, k + 1, a1, a2, cw + exp_(ldf(p, k * s) - mw));
  const d0 = k == 0 ? one : deriv(ldf(p, (2 * K + k - 1) * s));
  const d1 = k == K - 1 ? one : deriv(ldf(p, (2 * K + k) * s));

  const W = hi - lo, H = yhi - ylo, sl = H / W;
  const below = y - ylo, above = yhi - y;
  let xi: F;
  if (below <= above) {
    xi = solve(below, H, sl, d0, d1);
    store<F>(xp, lo + xi * W);
  } else {
    const om = solve(above, H, sl, d1, d0);
    xi = one - om;
    store<F>(xp, hi - om * W);
  }
  return -logDeriv(xi, sl, d0, d1);
}

/**
 * Backward of rqs_fwd: given gy = ∂L/∂y and gl = ∂L/∂(log dy/dx) for this element,
 * returns ∂L/∂x and OVERWRITES the 3K − 1 parameter gradients at `gp` (same
 * stride `s` as the parameters; all zero outside [−B, B]). Recomputes the
 * forward from x; `gp` doubles as scratch for the softmax terms.
 */
export function rqs_bwd(x: F, p: usize, s: i32, K: i32, B: F, gy: F, gl: F, gp: usize): F {
  const zero: F = 0;
  if (!inside(x, B)) {
    for (let i = 0; i < 3 * K - 1; i++) stf(gp, i * s, zero);
    return gy;
  }
  const two: F = 2, one: F = 1;
  const off = (<usize>(K * s)) << alignof<F>();
  const ph = p + off, gph = gp + off;
  // Widths: exp(logit − max) into gp, then the bin of x.
  const mw = smax(p, s, K);
  let sw: F = 0;
  for (let i = 0; i < K; i++) { const e = exp_(ldf(p, i * s) - mw); stf(gp, i * s, e); sw += e; }
  const cW = two * B * (one - <F>K * <F>RQS_MIN_W);
  const a1 = two * B * <F>RQS_MIN_W, a2 = cW / sw;
  let k = 0, cum: F = 0, lo = -B, hi = B;
  for (; k < K - 1; k++) {
    const c = cum + ldf(gp, k * s);
    const nx = knot(B, k + 1, a1, a2, c);
    if (x < nx) { hi = nx; break; }
    cum = c;
    lo = nx;
  }
  const cwLo = cum, cwHi = cum + ldf(gp, k * s);
  // Heights.
  const mh = smax(ph, s, K);
  let sh: F = 0;
  for (let i = 0; i < K; i++) { const e = exp_(ldf(ph, i * s) - mh); stf(gph, i * s, e); sh += e; }
  const cH = two * B * (one - <F>K * <F>RQS_MIN_H);
  const b1 = two * B * <F>RQS_MIN_H, b2 = cH / sh;
  let ch: F = 0;
  for (let j = 0; j < k; j++) ch += ldf(gph, j * s);
  const chHi = ch + ldf(gph, k * s);
  const ylo = knot(B, k, b1, b2, ch);
  const yhi = k == K - 1 ? B : knot(B, k + 1, b1, b2, chHi);
  const hasD0 = k > 0, hasD1 = k < K - 1;
  const u0 = hasD0 ? ldf(p, (2 * K + k - 1) * s) : zero;
  const u1 = hasD1 ? ldf(p, (2 * K + k) * s) : zero;
  const d0 = hasD0 ? deriv(u0) : one;
  const d1 = hasD1 ? deriv(u1) : one;

  // The forward, keeping its pieces.
  const W = hi - lo, H = yhi - ylo, sl = H / W;
  const xi = clamp01((x - lo) / W);
  const om = one - xi, t = xi * om, q2 = one - two * xi;
  const dd = d1 + d0 - two * sl;
  const iden = one / (sl + dd * t);
  const q = (sl * xi * xi + d0 * t) * iden; // y = ylo + H·q
  const idn = one / (d1 * xi * xi + two * sl * t + d0 * om * om);

  // ∂L/∂ of slope sl (at fixed H), end derivatives, ξ: gy·∂y + gl·∂(log dy/dx).
  const Gs = gy * H * (xi * xi - q * (one - two * t)) * iden + gl * (two / sl + two * t * idn - two * (one - two * t) * iden);
  const Gd0 = gy * H * t * (one - q) * iden + gl * (om * om * idn - two * t * iden);
  const Gd1 = -gy * H * t * q * iden + gl * (xi * xi * idn - two * t * iden);
  const Gxi = gy * H * ((two * sl * xi + d0 * q2) - q * dd * q2) * iden
    + gl * (two * (d1 * xi + sl * q2 - d0 * om) * idn - two * dd * q2 * iden);
  // sl = H/W, ξ = (x − lo)/W, W = hi − lo, H = yhi − ylo.
  const gx = Gxi / W;
  const GH = gy * q + Gs / W;
  const GW = -(Gs * sl + Gxi * xi) / W;
  const gLo = -gx - GW, gHi = hasD1 ? GW : zero;
  const gYlo = gy - GH, gYhi = hasD1 ? GH : zero;

  // Knot k = −B + k·a1 + c·C_k/S: ∂/∂logit_j = c·softmax_j·([j < k] − C_k/S).
  const rLo = cwLo / sw, rHi = cwHi / sw;
  const iw = cW / sw;
  for (let j = 0; j < K; j++) {
    const e = ldf(gp, j * s);
    const g = gLo * ((j < k ? one : zero) - rLo) + gHi * ((j <= k ? one : zero) - rHi);
    stf(gp, j * s, iw * e * g);
  }
  const tLo = ch / sh, tHi = chHi / sh;
  const ih = cH / sh;
  for (let j = 0; j < K; j++) {
    const e = ldf(gph, j * s);
    const g = gYlo * ((j < k ? one : zero) - tLo) + gYhi * ((j <= k ? one : zero) - tHi);
    stf(gph, j * s, ih * e * g);
  }
  for (let i = 2 * K; i < 3 * K - 1; i++) stf(gp, i * s, zero);
  if (hasD0) stf(gp, (2 * K + k - 1) * s, Gd0 * sigmoid_(u0));
  if (hasD1) stf(gp, (2 * K + k) * s, Gd1 * sigmoid_(u1));
  return gx;
}
