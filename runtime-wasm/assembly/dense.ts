// @fileoverview Dense layers y = x·Wᵀ + b on a chunk of rows, with the
// weight in PyTorch layout W[out, in] (row-major), and their gradients.
// Every pointer is a byte address; every stride counts elements of F.
//
// The f32 path is register-blocked wasm SIMD, with one loop shape per
// product and operand layout:
//  - column form (forward, IN ≤ 32): the weights of four outputs are
//    gathered into K ≤ 8 column vectors once and reused for every row of
//    the chunk; a row then costs K broadcasts and K multiply-adds.
//  - dot tiles (forward, wide IN): x rows and W rows are both contiguous
//    along the reduced index, so a tile of R rows × O outputs keeps R·O
//    partial-sum vectors and reduces them four at a time at the end (hsum4).
//  - axpy tiles (both gradients): the result is contiguous along the
//    vectorised index, so a tile of R rows × V vectors accumulates
//    broadcast × vector products with no reduction at all.
//  - narrow shapes (IN ≤ 3 or OUT ≤ 3 in the gradients) get loops that
//    vectorise along the long dimension instead (see each function).
// Accumulators stay ≤ 8 vectors per tile so that they, the operands and the
// addresses fit in x86-64's 16 vector registers without spills. Each tile
// shape is its own small function: inlining them all into the callers
// multiplies Binaryen's optimisation time for little gain.
// The f64 path (gradient checks) is plain scalar code.
import { F } from "./prec";

// ---------------------------------------------------------------------------
// f32x4 helpers
// ---------------------------------------------------------------------------

/** [Σa, Σb, Σc, Σd]: four horizontal sums as one vector (a 4×4 transpose-add). */
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(f32x4.shuffle(a, b, 0, 4, 1, 5), f32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(f32x4.shuffle(c, d, 0, 4, 1, 5), f32x4.shuffle(c, d, 2, 6, 3, 7));
  return f32x4.add(f32x4.shuffle(ab, cd, 0, 1, 4, 5), f32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/** Loads k ∈ 1..3 floats into the low lanes and zeroes the rest, never touching memory past them. */
@inline function loadPart(p: usize, k: i32): v128 {
  if (k == 1) return v128.load32_zero(p);
  if (k == 2) return v128.load64_zero(p);
  return v128.load32_lane(p, v128.load64_zero(p), 2, 8);
}

/** Stores the low k ∈ 1..3 lanes. */
@inline function storePart(p: usize, v: v128, k: i32): void {
  if (k == 1) v128.store32_lane(p, v, 0);
  else {
    v128.store64_lane(p, v, 0);
    if (k == 3) v128.store32_lane(p, v, 2, 8);
  }
}

/** Loads a vector of `k` lanes (4 = full). */
@inline function loadK(p: usize, k: i32): v128 {
  return k == 4 ? v128.load(p) : loadPart(p, k);
}

/** Stores `k` lanes (4 = full). */
@inline function storeK(p: usize, v: v128, k: i32): void {
  if (k == 4) v128.store(p, v);
  else storePart(p, v, k);
}

@inline function madd(acc: v128, a: v128, b: v128): v128 {
  // The relaxed-SIMD build (compile option relaxedSimd) may fuse: one rounding instead of two.
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/**
 * Up to this many inputs (and with at least four outputs, so that column
 * vectors are full) the forward pass uses the column form; beyond it, dot
 * tiles are faster (measured).
 */
const COLUMN_MAX_IN: i32 = 32;

// ---------------------------------------------------------------------------
// Forward, f32: dot tiles
// ---------------------------------------------------------------------------

/**
 * y[r, o] = b[o] + Σ_i x[r, i]·W[o, i] for the R rows at x/y and the O
 * outputs whose weight rows start at W (bias at b, or b = 0).
 * R ∈ 1..4, O ∈ {1, 2, 4}, R·O ≤ 8; both are constants after inlining.
 */
@inline function dotTile(R: i32, O: i32, W: usize, b: usize, x: usize, y: usize, IN: i32, xsb: usize, ysb: usize): void {
  const inb = <usize>IN << 2;
  const x1 = x + xsb, x2 = x1 + xsb, x3 = x2 + xsb;
  const w1 = W + inb, w2 = w1 + inb, w3 = w2 + inb;
  const z = f32x4.splat(0);
  let a00 = z, a01 = z, a02 = z, a03 = z;
  let a10 = z, a11 = z, a12 = z, a13 = z;
  let a20 = z, a21 = z, a30 = z, a31 = z;
  const end = <usize>(IN & ~3) << 2;
  for (let i: usize = 0; i < end; i += 16) {
    const v0 = v128.load(x + i);
    const v1 = R > 1 ? v128.load(x1 + i) : z;
    const v2 = R > 2 ? v128.load(x2 + i) : z;
    const v3 = R > 3 ? v128.load(x3 + i) : z;
    const u0 = v128.load(W + i);
    a00 = madd(a00, v0, u0);
    if (R > 1) a10 = madd(a10, v1, u0);
    if (R > 2) a20 = madd(a20, v2, u0);
    if (R > 3) a30 = madd(a30, v3, u0);
    if (O > 1) {
      const u1 = v128.load(w1 + i);
      a01 = madd(a01, v0, u1);
      if (R > 1) a11 = madd(a11, v1, u1);
      if (R > 2) a21 = madd(a21, v2, u1);
      if (R > 3) a31 = madd(a31, v3, u1);
    }
    if (O > 2) {
      const u2 = v128.load(w2 + i), u3 = v128.load(w3 + i);
      a02 = madd(a02, v0, u2);
      a03 = madd(a03, v0, u3);
      if (R > 1) {
        a12 = madd(a12, v1, u2);
        a13 = madd(a13, v1, u3);
      }
    }
  }
  const k = IN & 3;
  if (k != 0) {
    const v0 = loadPart(x + end, k);
    const v1 = R > 1 ? loadPart(x1 + end, k) : z;
    const v2 = R > 2 ? loadPart(x2 + end, k) : z;
    const v3 = R > 3 ? loadPart(x3 + end, k) : z;
    const u0 = loadPart(W + end, k);
    a00 = madd(a00, v0, u0);
    if (R > 1) a10 = madd(a10, v1, u0);
    if (R > 2) a20 = madd(a20, v2, u0);
    if (R > 3) a30 = madd(a30, v3, u0);
    if (O > 1) {
      const u1 = loadPart(w1 + end, k);
      a01 = madd(a01, v0, u1);
      if (R > 1) a11 = madd(a11, v1, u1);
      if (R > 2) a21 = madd(a21, v2, u1);
      if (R > 3) a31 = madd(a31, v3, u1);
    }
    if (O > 2) {
      const u2 = loadPart(w2 + end, k), u3 = loadPart(w3 + end, k);
      a02 = madd(a02, v0, u2);
      a03 = madd(a03, v0, u3);
      if (R > 1) {
        a12 = madd(a12, v1, u2);
        a13 = madd(a13, v1, u3);
      }
    }
  }
  if (O == 4) {
    // One vector of four outputs per row.
    const bv = b != 0 ? v128.load(b) : z;
    v128.store(y, f32x4.add(hsum4(a00, a01, a02, a03), bv));
    if (R > 1) v128.store(y + ysb, f32x4.add(hsum4(a10, a11, a12, a13), bv));
  } else {
    // One vector of R rows per output, stored lane by lane.
    let s = hsum4(a00, a10, a20, a30);
    if (b != 0) s = f32x4.add(s, v128.load32_splat(b));
    storeColumn(R, y, ysb, s);
    if (O > 1) {
      let t = hsum4(a01, a11, a21, a31);
      if (b != 0) t = f32x4.add(t, v128.load32_splat(b, 4));
      storeColumn(R, y + 4, ysb, t);
    }
  }
}

/** Stores lane r of s to y + r·ysb for r < R. */
@inline function storeColumn(R: i32, y: usize, ysb: usize, s: v128): void {
  v128.store32_lane(y, s, 0);
  if (R > 1) v128.store32_lane(y + ysb, s, 1);
  if (R > 2) v128.store32_lane(y + 2 * ysb, s, 2);
  if (R > 3) v128.store32_lane(y + 3 * ysb, s, 3);
}

function dot_2x4(W: usize, b: usize, x: usize, y: usize, IN: i32, xsb: usize, ysb: usize): void { dotTile(2, 4, W, b, x, y, IN, xsb, ysb); }
function dot_2x2(W: usize, b: usize, x: usize, y: usize, IN: i32, xsb: usize, ysb: usize): void { dotTile(2, 2, W, b, x, y, IN, xsb, ysb); }
function dot_2x1(W: usize, b: usize, x: usize, y: usize, IN: i32, xsb: usize, ysb: usize): void { dotTile(2, 1, W, b, x, y, IN, xsb, ysb); }
function dot_4x2(W: usize, b: usize, x: usize, y: usize, IN: i32, xsb: usize, ysb: usize): void { dotTile(4, 2, W, b, x, y, IN, xsb, ysb); }
function dot_4x1(W: usize, b: usize, x: usize, y: usize, IN: i32, xsb: usize, ysb: usize): void { dotTile(4, 1, W, b, x, y, IN, xsb, ysb); }
function dot_1x4(W: usize, b: usize, x: usize, y: usize, IN: i32, xsb: usize, ysb: usize): void { dotTile(1, 4, W, b, x, y, IN, xsb, ysb); }
function dot_1x2(W: usize, b: usize, x: usize, y: usize, IN: i32, xsb: usize, ysb: usize): void { dotTile(1, 2, W, b, x, y, IN, xsb, ysb); }
function dot_1x1(W: usize, b: usize, x: usize, y: usize, IN: i32, xsb: usize, ysb: usize): void { dotTile(1, 1, W, b, x, y, IN, xsb, ysb); }

/** All outputs of the R rows at x/y: 4-output tiles while R ≤ 2, then 2 and 1. */
@inline function dotRows(R: i32, W: usize, b: usize, x: usize, y: usize, IN: i32, OUT: i32, xsb: usize, ysb: usize): void {
  const inb = <usize>IN << 2;
  let o = 0;
  if (R <= 2) {
    for (; o + 4 <= OUT; o += 4) {
      const wo = W + <usize>o * inb, bo = b != 0 ? b + (<usize>o << 2) : 0, yo = y + (<usize>o << 2);
      if (R == 2) dot_2x4(wo, bo, x, yo, IN, xsb, ysb);
      else dot_1x4(wo, bo, x, yo, IN, xsb, ysb);
    }
  }
  for (; o + 2 <= OUT; o += 2) {
    const wo = W + <usize>o * inb, bo = b != 0 ? b + (<usize>o << 2) : 0, yo = y + (<usize>o << 2);
    if (R == 4) dot_4x2(wo, bo, x, yo, IN, xsb, ysb);
    else if (R == 2) dot_2x2(wo, bo, x, yo, IN, xsb, ysb);
    else dot_1x2(wo, bo, x, yo, IN, xsb, ysb);
  }
  if (o < OUT) {
    const wo = W + <usize>o * inb, bo = b != 0 ? b + (<usize>o << 2) : 0, yo = y + (<usize>o << 2);
    if (R == 4) dot_4x1(wo, bo, x, yo, IN, xsb, ysb);
    else if (R == 2) dot_2x1(wo, bo, x, yo, IN, xsb, ysb);
    else dot_1x1(wo, bo, x, yo, IN, xsb, ysb);
  }
}

/** Forward for any IN by dot tiles: 2-row blocks when OUT ≥ 4, else 4-row blocks. */
function fwdDot(W: usize, b: usize, x: usize, y: usize, n: i32, IN: i32, OUT: i32, xs: i32, ys: i32): void {
  const xsb = <usize>xs << 2, ysb = <usize>ys << 2;
  let r = 0;
  if (OUT >= 4) {
    for (; r + 2 <= n; r += 2) dotRows(2, W, b, x + <usize>r * xsb, y + <usize>r * ysb, IN, OUT, xsb, ysb);
  } else {
    for (; r + 4 <= n; r += 4) dotRows(4, W, b, x + <usize>r * xsb, y + <usize>r * ysb, IN, OUT, xsb, ysb);
  }
  for (; r < n; r++) dotRows(1, W, b, x + <usize>r * xsb, y + <usize>r * ysb, IN, OUT, xsb, ysb);
}

// ---------------------------------------------------------------------------
// Forward, f32: column form
// ---------------------------------------------------------------------------

/** Lane j = W[(o+j)·IN + k] for j < m (the block's outputs), zero beyond. */
@inline function gatherColumn(wp: usize, inb: usize, k: i32, m: i32): v128 {
  const p = wp + (<usize>k << 2);
  let v = v128.load32_zero(p);
  if (m > 1) v = v128.load32_lane(p + inb, v, 1);
  if (m > 2) v = v128.load32_lane(p + 2 * inb, v, 2);
  if (m > 3) v = v128.load32_lane(p + 3 * inb, v, 3);
  return v;
}

/**
 * One block of m ≤ 4 outputs over K ≤ 8 inputs for every row:
 * y_r (+)= Σ_k x[r, k]·column_k, plus the bias when `addY` is false. The
 * K columns of W (lane j = output j) are gathered once and reused for all
 * rows, so a row costs K broadcasts and K multiply-adds in two chains, and
 * no horizontal sums.
 */
@inline function columnBlock(K: i32, addY: bool, W: usize, b: usize, x: usize, y: usize, n: i32, inb: usize, m: i32, xsb: usize, ysb: usize): void {
  const z = f32x4.splat(0);
  const c0 = gatherColumn(W, inb, 0, m);
  const c1 = K > 1 ? gatherColumn(W, inb, 1, m) : z;
  const c2 = K > 2 ? gatherColumn(W, inb, 2, m) : z;
  const c3 = K > 3 ? gatherColumn(W, inb, 3, m) : z;
  const c4 = K > 4 ? gatherColumn(W, inb, 4, m) : z;
  const c5 = K > 5 ? gatherColumn(W, inb, 5, m) : z;
  const c6 = K > 6 ? gatherColumn(W, inb, 6, m) : z;
  const c7 = K > 7 ? gatherColumn(W, inb, 7, m) : z;
  const bv = !addY && b != 0 ? loadK(b, m) : z;
  // With few inputs the per-row lane-count test is a visible cost: give
  // full blocks their own copy of the loop.
  if (K <= 3 && m == 4) columnRows(K, addY, 4, c0, c1, c2, c3, c4, c5, c6, c7, bv, x, y, n, xsb, ysb);
  else columnRows(K, addY, m, c0, c1, c2, c3, c4, c5, c6, c7, bv, x, y, n, xsb, ysb);
}

/** The row loop of columnBlock: even and odd inputs in two chains, m lanes stored. */
@inline function columnRows(K: i32, addY: bool, m: i32, c0: v128, c1: v128, c2: v128, c3: v128, c4: v128, c5: v128, c6: v128, c7: v128, bv: v128, x: usize, y: usize, n: i32, xsb: usize, ysb: usize): void {
  const z = f32x4.splat(0);
  let xp = x, yp = y;
  for (let r = 0; r < n; r++) {
    let e = madd(addY ? loadK(yp, m) : bv, v128.load32_splat(xp), c0);
    let o = z;
    if (K > 1) o = f32x4.mul(v128.load32_splat(xp, 4), c1);
    if (K > 2) e = madd(e, v128.load32_splat(xp, 8), c2);
    if (K > 3) o = madd(o, v128.load32_splat(xp, 12), c3);
    if (K > 4) e = madd(e, v128.load32_splat(xp, 16), c4);
    if (K > 5) o = madd(o, v128.load32_splat(xp, 20), c5);
    if (K > 6) e = madd(e, v128.load32_splat(xp, 24), c6);
    if (K > 7) o = madd(o, v128.load32_splat(xp, 28), c7);
    storeK(yp, K > 1 ? f32x4.add(e, o) : e, m);
    xp += xsb;
    yp += ysb;
  }
}

/** All output blocks for K ≤ 8 inputs whose weight rows are inb bytes apart. */
@inline function columnsK(K: i32, addY: bool, W: usize, b: usize, x: usize, y: usize, n: i32, OUT: i32, inb: usize, xsb: usize, ysb: usize): void {
  for (let o = 0; o < OUT; o += 4) {
    const m = min(OUT - o, 4);
    columnBlock(K, addY, W + <usize>o * inb, b != 0 ? b + (<usize>o << 2) : 0, x, y + (<usize>o << 2), n, inb, m, xsb, ysb);
  }
}

function cols1(W: usize, b: usize, x: usize, y: usize, n: i32, OUT: i32, inb: usize, xsb: usize, ysb: usize): void { columnsK(1, false, W, b, x, y, n, OUT, inb, xsb, ysb); }
function cols2(W: usize, b: usize, x: usize, y: usize, n: i32, OUT: i32, inb: usize, xsb: usize, ysb: usize): void { columnsK(2, false, W, b, x, y, n, OUT, inb, xsb, ysb); }
function cols3(W: usize, b: usize, x: usize, y: usize, n: i32, OUT: i32, inb: usize, xsb: usize, ysb: usize): void { columnsK(3, false, W, b, x, y, n, OUT, inb, xsb, ysb); }
function cols4(W: usize, b: usize, x: usize, y: usize, n: i32, OUT: i32, inb: usize, xsb: usize, ysb: usize): void { columnsK(4, false, W, b, x, y, n, OUT, inb, xsb, ysb); }
function cols5(W: usize, b: usize, x: usize, y: usize, n: i32, OUT: i32, inb: usize, xsb: usize, ysb: usize): void { columnsK(5, false, W, b, x, y, n, OUT, inb, xsb, ysb); }
function cols6(W: usize, b: usize, x: usize, y: usize, n: i32, OUT: i32, inb: usize, xsb: usize, ysb: usize): void { columnsK(6, false, W, b, x, y, n, OUT, inb, xsb, ysb); }
function cols7(W: usize, b: usize, x: usize, y: usize, n: i32, OUT: i32, inb: usize, xsb: usize, ysb: usize): void { columnsK(7, false, W, b, x, y, n, OUT, inb, xsb, ysb); }
function cols8(W: usize, b: usize, x: usize, y: usize, n: i32, OUT: i32, inb: usize, xsb: usize, ysb: usize): void { columnsK(8, false, W, b, x, y, n, OUT, inb, xsb, ysb); }
function cols8add(W: usize, x: usize, y: usize, n: i32, OUT: i32, inb: usize, xsb: usize, ysb: usize): void { columnsK(8, true, W, 0, x, y, n, OUT, inb, xsb, ysb); }

/**
 * Forward by columns: the first chunk of inputs (IN mod 8, or 8) writes
 * bias + partial sums, each further chunk of 8 inputs adds to them.
 */
function fwdColumns(W: usize, b: usize, x: usize, y: usize, n: i32, IN: i32, OUT: i32, xs: i32, ys: i32): void {
  const xsb = <usize>xs << 2, ysb = <usize>ys << 2, inb = <usize>IN << 2;
  const first = (IN & 7) != 0 ? IN & 7 : 8;
  if (first == 1) cols1(W, b, x, y, n, OUT, inb, xsb, ysb);
  else if (first == 2) cols2(W, b, x, y, n, OUT, inb, xsb, ysb);
  else if (first == 3) cols3(W, b, x, y, n, OUT, inb, xsb, ysb);
  else if (first == 4) cols4(W, b, x, y, n, OUT, inb, xsb, ysb);
  else if (first == 5) cols5(W, b, x, y, n, OUT, inb, xsb, ysb);
  else if (first == 6) cols6(W, b, x, y, n, OUT, inb, xsb, ysb);
  else if (first == 7) cols7(W, b, x, y, n, OUT, inb, xsb, ysb);
  else cols8(W, b, x, y, n, OUT, inb, xsb, ysb);
  for (let i = first; i < IN; i += 8) {
    const off = <usize>i << 2;
    cols8add(W + off, x + off, y, n, OUT, inb, xsb, ysb);
  }
}

// ---------------------------------------------------------------------------
// Gradients, f32: axpy tiles
// ---------------------------------------------------------------------------

/**
 * C[a, j] (+)= Σ_{k<K} A[a, k]·B[k, j] for the R rows a of the tile and the
 * 4·(V−1)+L columns j at B/C (the last vector holds L ∈ 1..4 lanes).
 * A[a, k] is at A + a·sab + k·skb; B[k, ·] at B + k·sbb; C[a, ·] at C + a·scb.
 * Shapes used: R = 4 with V ≤ 2, and R = 1 with V ≤ 4.
 */
@inline function axpyTile(R: i32, V: i32, L: i32, A: usize, sab: usize, skb: usize, B: usize, sbb: usize, C: usize, scb: usize, K: i32, accumulate: bool): void {
  const z = f32x4.splat(0);
  let c00 = z, c01 = z, c02 = z, c03 = z;
  let c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
  let ap = A, bp = B;
  const a2 = sab * 2, a3 = sab * 3;
  for (let k = 0; k < K; k++) {
    const b0 = loadK(bp, V == 1 ? L : 4);
    const b1 = V > 1 ? loadK(bp + 16, V == 2 ? L : 4) : z;
    const b2 = V > 2 ? loadK(bp + 32, V == 3 ? L : 4) : z;
    const b3 = V > 3 ? loadK(bp + 48, L) : z;
    const s0 = v128.load32_splat(ap);
    c00 = madd(c00, s0, b0);
    if (V > 1) c01 = madd(c01, s0, b1);
    if (V > 2) c02 = madd(c02, s0, b2);
    if (V > 3) c03 = madd(c03, s0, b3);
    if (R > 1) {
      const s1 = v128.load32_splat(ap + sab), s2 = v128.load32_splat(ap + a2), s3 = v128.load32_splat(ap + a3);
      c10 = madd(c10, s1, b0);
      c20 = madd(c20, s2, b0);
      c30 = madd(c30, s3, b0);
      if (V > 1) {
        c11 = madd(c11, s1, b1);
        c21 = madd(c21, s2, b1);
        c31 = madd(c31, s3, b1);
      }
    }
    ap += skb;
    bp += sbb;
  }
  putRow(V, L, C, c00, c01, c02, c03, accumulate);
  if (R > 1) {
    putRow(V, L, C + scb, c10, c11, z, z, accumulate);
    putRow(V, L, C + 2 * scb, c20, c21, z, z, accumulate);
    putRow(V, L, C + 3 * scb, c30, c31, z, z, accumulate);
  }
}

/** Writes (or adds) V vectors of one tile row; the last one has L lanes. */
@inline function putRow(V: i32, L: i32, C: usize, c0: v128, c1: v128, c2: v128, c3: v128, accumulate: bool): void {
  putVec(C, c0, V == 1 ? L : 4, accumulate);
  if (V > 1) putVec(C + 16, c1, V == 2 ? L : 4, accumulate);
  if (V > 2) putVec(C + 32, c2, V == 3 ? L : 4, accumulate);
  if (V > 3) putVec(C + 48, c3, L, accumulate);
}

@inline function putVec(p: usize, v: v128, k: i32, accumulate: bool): void {
  storeK(p, accumulate ? f32x4.add(loadK(p, k), v) : v, k);
}

// `L` (lanes of the last vector) is a run-time value only in the
// one-vector tiles that cover the last 1..4 columns.
function axpy_4x2(A: usize, sab: usize, skb: usize, B: usize, sbb: usize, C: usize, scb: usize, K: i32, acc: bool): void { axpyTile(4, 2, 4, A, sab, skb, B, sbb, C, scb, K, acc); }
function axpy_1x4(A: usize, sab: usize, skb: usize, B: usize, sbb: usize, C: usize, scb: usize, K: i32, acc: bool): void { axpyTile(1, 4, 4, A, sab, skb, B, sbb, C, scb, K, acc); }
function axpy_1x2(A: usize, sab: usize, skb: usize, B: usize, sbb: usize, C: usize, scb: usize, K: i32, acc: bool): void { axpyTile(1, 2, 4, A, sab, skb, B, sbb, C, scb, K, acc); }
function axpy_4x1(A: usize, sab: usize, skb: usize, B: usize, sbb: usize, C: usize, scb: usize, K: i32, acc: bool, L: i32): void { axpyTile(4, 1, L, A, sab, skb, B, sbb, C, scb, K, acc); }
function axpy_1x1(A: usize, sab: usize, skb: usize, B: usize, sbb: usize, C: usize, scb: usize, K: i32, acc: bool, L: i32): void { axpyTile(1, 1, L, A, sab, skb, B, sbb, C, scb, K, acc); }

/** The R ∈ {1, 4} rows at A/C over all J columns: 8 columns per tile (16 when R = 1), then 4 or fewer. */
@inline function axpyRows(R: i32, A: usize, sab: usize, skb: usize, B: usize, sbb: usize, C: usize, scb: usize, J: i32, K: i32, acc: bool): void {
  let j = 0;
  if (R == 1) {
    for (; j + 16 <= J; j += 16) {
      const o = <usize>j << 2;
      axpy_1x4(A, sab, skb, B + o, sbb, C + o, scb, K, acc);
    }
  }
  for (; j + 8 <= J; j += 8) {
    const o = <usize>j << 2;
    if (R == 4) axpy_4x2(A, sab, skb, B + o, sbb, C + o, scb, K, acc);
    else axpy_1x2(A, sab, skb, B + o, sbb, C + o, scb, K, acc);
  }
  for (; j < J; j += 4) {
    const o = <usize>j << 2;
    const L = min(J - j, 4);
    if (R == 4) axpy_4x1(A, sab, skb, B + o, sbb, C + o, scb, K, acc, L);
    else axpy_1x1(A, sab, skb, B + o, sbb, C + o, scb, K, acc, L);
  }
}

/** C[a, j] (+)= Σ_k A[a, k]·B[k, j] for a < M, j < J: blocks of 4 rows, then single rows. */
function axpyAll(A: usize, sab: usize, skb: usize, B: usize, sbb: usize, C: usize, scb: usize, M: i32, J: i32, K: i32, acc: bool): void {
  let a = 0;
  for (; a + 4 <= M; a += 4) {
    axpyRows(4, A + <usize>a * sab, sab, skb, B, sbb, C + <usize>a * scb, scb, J, K, acc);
  }
  for (; a < M; a++) {
    axpyRows(1, A + <usize>a * sab, sab, skb, B, sbb, C + <usize>a * scb, scb, J, K, acc);
  }
}

// ---------------------------------------------------------------------------
// Gradients, f32: narrow shapes
// ---------------------------------------------------------------------------

/**
 * gx for IN = K ∈ {2, 3}: gx[r, k] = Σ_o gy[r, o]·W[o, k] as dot products
 * over o, four outputs per step, with W's rows de-interleaved into columns
 * on the fly. R rows per tile (R·K ≤ 8); outputs past a multiple of four
 * are added lane-wise before the store.
 */
@inline function bxNarrowTile(K: i32, R: i32, W: usize, gy: usize, gx: usize, OUT: i32, gysb: usize, gxsb: usize): void {
  const z = f32x4.splat(0);
  let a00 = z, a01 = z, a02 = z, a10 = z, a11 = z, a12 = z;
  let a20 = z, a21 = z, a30 = z, a31 = z;
  const g1 = gy + gysb, g2 = g1 + gysb, g3 = g2 + gysb;
  const o4 = <usize>(OUT & ~3) << 2;
  let wp = W;
  for (let ob: usize = 0; ob < o4; ob += 16) {
    let c0 = z, c1 = z, c2 = z;
    if (K == 2) {
      const p = v128.load(wp), q = v128.load(wp, 16);
      c0 = f32x4.shuffle(p, q, 0, 2, 4, 6);
      c1 = f32x4.shuffle(p, q, 1, 3, 5, 7);
    } else {
      const p = v128.load(wp), q = v128.load(wp, 16), t = v128.load(wp, 32);
      c0 = f32x4.shuffle(f32x4.shuffle(p, q, 0, 3, 6, 7), t, 0, 1, 2, 5);
      c1 = f32x4.shuffle(f32x4.shuffle(p, q, 1, 4, 7, 7), t, 0, 1, 2, 6);
      c2 = f32x4.shuffle(f32x4.shuffle(p, q, 2, 5, 5, 5), t, 0, 1, 4, 7);
    }
    wp += <usize>K << 4;
    const v0 = v128.load(gy + ob);
    a00 = madd(a00, v0, c0);
    a01 = madd(a01, v0, c1);
    if (K > 2) a02 = madd(a02, v0, c2);
    if (R > 1) {
      const v1 = v128.load(g1 + ob);
      a10 = madd(a10, v1, c0);
      a11 = madd(a11, v1, c1);
      if (K > 2) a12 = madd(a12, v1, c2);
    }
    if (R > 2) {
      const v2 = v128.load(g2 + ob);
      a20 = madd(a20, v2, c0);
      a21 = madd(a21, v2, c1);
    }
    if (R > 3) {
      const v3 = v128.load(g3 + ob);
      a30 = madd(a30, v3, c0);
      a31 = madd(a31, v3, c1);
    }
  }
  // Lane r of s_k is gx[r, k].
  let s0 = hsum4(a00, a10, a20, a30);
  let s1 = hsum4(a01, a11, a21, a31);
  let s2 = K > 2 ? hsum4(a02, a12, z, z) : z;
  for (let ob = o4; ob < (<usize>OUT << 2); ob += 4) {
    let g = v128.load32_zero(gy + ob);
    if (R > 1) g = v128.load32_lane(g1 + ob, g, 1);
    if (R > 2) g = v128.load32_lane(g2 + ob, g, 2);
    if (R > 3) g = v128.load32_lane(g3 + ob, g, 3);
    s0 = madd(s0, g, v128.load32_splat(wp));
    s1 = madd(s1, g, v128.load32_splat(wp, 4));
    if (K > 2) s2 = madd(s2, g, v128.load32_splat(wp, 8));
    wp += <usize>K << 2;
  }
  storeColumn(R, gx, gxsb, s0);
  storeColumn(R, gx + 4, gxsb, s1);
  if (K > 2) storeColumn(R, gx + 8, gxsb, s2);
}

function bx2_4(W: usize, gy: usize, gx: usize, OUT: i32, gysb: usize, gxsb: usize): void { bxNarrowTile(2, 4, W, gy, gx, OUT, gysb, gxsb); }
function bx2_1(W: usize, gy: usize, gx: usize, OUT: i32, gysb: usize, gxsb: usize): void { bxNarrowTile(2, 1, W, gy, gx, OUT, gysb, gxsb); }
function bx3_2(W: usize, gy: usize, gx: usize, OUT: i32, gysb: usize, gxsb: usize): void { bxNarrowTile(3, 2, W, gy, gx, OUT, gysb, gxsb); }
function bx3_1(W: usize, gy: usize, gx: usize, OUT: i32, gysb: usize, gxsb: usize): void { bxNarrowTile(3, 1, W, gy, gx, OUT, gysb, gxsb); }

function bwdXNarrow(W: usize, gy: usize, gx: usize, n: i32, IN: i32, OUT: i32, gys: i32, gxs: i32): void {
  const gysb = <usize>gys << 2, gxsb = <usize>gxs << 2;
  let r = 0;
  if (IN == 2) {
    for (; r + 4 <= n; r += 4) bx2_4(W, gy + <usize>r * gysb, gx + <usize>r * gxsb, OUT, gysb, gxsb);
    for (; r < n; r++) bx2_1(W, gy + <usize>r * gysb, gx + <usize>r * gxsb, OUT, gysb, gxsb);
  } else {
    for (; r + 2 <= n; r += 2) bx3_2(W, gy + <usize>r * gysb, gx + <usize>r * gxsb, OUT, gysb, gxsb);
    if (r < n) bx3_1(W, gy + <usize>r * gysb, gx + <usize>r * gxsb, OUT, gysb, gxsb);
  }
}

/**
 * gx for OUT = K ≤ 3 outputs: the K weight rows of one 8-column slice stay
 * in registers while every row of the chunk streams through, so there is
 * no per-tile overhead for such short reductions.
 */
@inline function bxFewOut(K: i32, W: usize, gy: usize, gx: usize, n: i32, IN: i32, gysb: usize, gxsb: usize): void {
  const z = f32x4.splat(0);
  const inb = <usize>IN << 2;
  let j = 0;
  for (; j + 8 <= IN; j += 8) {
    const off = <usize>j << 2;
    const w00 = v128.load(W + off), w01 = v128.load(W + off, 16);
    const w10 = K > 1 ? v128.load(W + inb + off) : z, w11 = K > 1 ? v128.load(W + inb + off, 16) : z;
    const w20 = K > 2 ? v128.load(W + 2 * inb + off) : z, w21 = K > 2 ? v128.load(W + 2 * inb + off, 16) : z;
    let gp = gy, xp = gx + off;
    for (let r = 0; r < n; r++) {
      const s0 = v128.load32_splat(gp);
      let e0 = f32x4.mul(s0, w00), e1 = f32x4.mul(s0, w01);
      if (K > 1) {
        const s1 = v128.load32_splat(gp, 4);
        e0 = madd(e0, s1, w10);
        e1 = madd(e1, s1, w11);
      }
      if (K > 2) {
        const s2 = v128.load32_splat(gp, 8);
        e0 = madd(e0, s2, w20);
        e1 = madd(e1, s2, w21);
      }
      v128.store(xp, e0);
      v128.store(xp, e1, 16);
      gp += gysb;
      xp += gxsb;
    }
  }
  for (; j < IN; j += 4) {
    const off = <usize>j << 2;
    const L = min(IN - j, 4);
    const w0 = loadK(W + off, L);
    const w1 = K > 1 ? loadK(W + inb + off, L) : z;
    const w2 = K > 2 ? loadK(W + 2 * inb + off, L) : z;
    let gp = gy, xp = gx + off;
    for (let r = 0; r < n; r++) {
      let e = f32x4.mul(v128.load32_splat(gp), w0);
      if (K > 1) e = madd(e, v128.load32_splat(gp, 4), w1);
      if (K > 2) e = madd(e, v128.load32_splat(gp, 8), w2);
      storeK(xp, e, L);
      gp += gysb;
      xp += gxsb;
    }
  }
}

function bxFew1(W: usize, gy: usize, gx: usize, n: i32, IN: i32, gysb: usize, gxsb: usize): void { bxFewOut(1, W, gy, gx, n, IN, gysb, gxsb); }
function bxFew2(W: usize, gy: usize, gx: usize, n: i32, IN: i32, gysb: usize, gxsb: usize): void { bxFewOut(2, W, gy, gx, n, IN, gysb, gxsb); }
function bxFew3(W: usize, gy: usize, gx: usize, n: i32, IN: i32, gysb: usize, gxsb: usize): void { bxFewOut(3, W, gy, gx, n, IN, gysb, gxsb); }

/**
 * gW for IN = K ≤ 3: vectorise along the outputs instead of the inputs,
 * Gᵀ[k, o] = Σ_r x[r, k]·gy[r, o] with K × V accumulators, then
 * interleave the K vectors back into W's [o, k] layout.
 */
@inline function bwNarrowTile(K: i32, V: i32, x: usize, gy: usize, gW: usize, n: i32, xsb: usize, gysb: usize): void {
  const z = f32x4.splat(0);
  let a00 = z, a01 = z, a02 = z, a03 = z;
  let a10 = z, a11 = z, a12 = z, a13 = z;
  let a20 = z, a21 = z;
  let xp = x, gp = gy;
  for (let r = 0; r < n; r++) {
    const g0 = v128.load(gp);
    const g1 = V > 1 ? v128.load(gp, 16) : z;
    const g2 = V > 2 ? v128.load(gp, 32) : z;
    const g3 = V > 3 ? v128.load(gp, 48) : z;
    const s0 = v128.load32_splat(xp);
    a00 = madd(a00, s0, g0);
    if (V > 1) a01 = madd(a01, s0, g1);
    if (V > 2) a02 = madd(a02, s0, g2);
    if (V > 3) a03 = madd(a03, s0, g3);
    if (K > 1) {
      const s1 = v128.load32_splat(xp, 4);
      a10 = madd(a10, s1, g0);
      if (V > 1) a11 = madd(a11, s1, g1);
      if (V > 2) a12 = madd(a12, s1, g2);
      if (V > 3) a13 = madd(a13, s1, g3);
    }
    if (K > 2) {
      const s2 = v128.load32_splat(xp, 8);
      a20 = madd(a20, s2, g0);
      if (V > 1) a21 = madd(a21, s2, g1);
    }
    xp += xsb;
    gp += gysb;
  }
  addInterleaved(K, gW, a00, a10, a20);
  if (V > 1) addInterleaved(K, gW + (<usize>K << 4), a01, a11, a21);
  if (V > 2) addInterleaved(K, gW + (<usize>K << 5), a02, a12, z);
  if (V > 3) addInterleaved(K, gW + <usize>K * 48, a03, a13, z);
}

/** gW[o+j, k] += a_k[j] for four outputs o+j, K ∈ 1..3 inputs (4K contiguous floats). */
@inline function addInterleaved(K: i32, p: usize, a0: v128, a1: v128, a2: v128): void {
  if (K == 1) {
    v128.store(p, f32x4.add(v128.load(p), a0));
  } else if (K == 2) {
    v128.store(p, f32x4.add(v128.load(p), f32x4.shuffle(a0, a1, 0, 4, 1, 5)));
    v128.store(p, f32x4.add(v128.load(p, 16), f32x4.shuffle(a0, a1, 2, 6, 3, 7)), 16);
  } else {
    const v0 = f32x4.shuffle(f32x4.shuffle(a0, a1, 0, 4, 1, 5), a2, 0, 1, 4, 2);
    const v1 = f32x4.shuffle(f32x4.shuffle(a1, a2, 1, 5, 2, 6), a0, 0, 1, 6, 2);
    const v2 = f32x4.shuffle(a2, f32x4.shuffle(a0, a1, 3, 7, 3, 7), 2, 4, 5, 3);
    v128.store(p, f32x4.add(v128.load(p), v0));
    v128.store(p, f32x4.add(v128.load(p, 16), v1), 16);
    v128.store(p, f32x4.add(v128.load(p, 32), v2), 32);
  }
}

function bw1_4(x: usize, gy: usize, gW: usize, n: i32, xsb: usize, gysb: usize): void { bwNarrowTile(1, 4, x, gy, gW, n, xsb, gysb); }
function bw1_1(x: usize, gy: usize, gW: usize, n: i32, xsb: usize, gysb: usize): void { bwNarrowTile(1, 1, x, gy, gW, n, xsb, gysb); }
function bw2_4(x: usize, gy: usize, gW: usize, n: i32, xsb: usize, gysb: usize): void { bwNarrowTile(2, 4, x, gy, gW, n, xsb, gysb); }
function bw2_1(x: usize, gy: usize, gW: usize, n: i32, xsb: usize, gysb: usize): void { bwNarrowTile(2, 1, x, gy, gW, n, xsb, gysb); }
function bw3_2(x: usize, gy: usize, gW: usize, n: i32, xsb: usize, gysb: usize): void { bwNarrowTile(3, 2, x, gy, gW, n, xsb, gysb); }
function bw3_1(x: usize, gy: usize, gW: usize, n: i32, xsb: usize, gysb: usize): void { bwNarrowTile(3, 1, x, gy, gW, n, xsb, gysb); }

function bwdWNarrow(x: usize, gy: usize, gW: usize, n: i32, IN: i32, OUT: i32, xsb: usize, gysb: usize): void {
  const V = IN == 3 ? 2 : 4;
  let o = 0;
  for (; o + 4 * V <= OUT; o += 4 * V) {
    const g = gy + (<usize>o << 2), w = gW + (<usize>(o * IN) << 2);
    if (IN == 1) bw1_4(x, g, w, n, xsb, gysb);
    else if (IN == 2) bw2_4(x, g, w, n, xsb, gysb);
    else bw3_2(x, g, w, n, xsb, gysb);
  }
  for (; o + 4 <= OUT; o += 4) {
    const g = gy + (<usize>o << 2), w = gW + (<usize>(o * IN) << 2);
    if (IN == 1) bw1_1(x, g, w, n, xsb, gysb);
    else if (IN == 2) bw2_1(x, g, w, n, xsb, gysb);
    else bw3_1(x, g, w, n, xsb, gysb);
  }
  for (; o < OUT; o++) {
    for (let k = 0; k < IN; k++) {
      let s: f32 = 0;
      let xp = x + (<usize>k << 2), gp = gy + (<usize>o << 2);
      for (let r = 0; r < n; r++) {
        s += load<f32>(xp) * load<f32>(gp);
        xp += xsb;
        gp += gysb;
      }
      const q = gW + (<usize>(o * IN + k) << 2);
      store<f32>(q, load<f32>(q) + s);
    }
  }
}

/**
 * gb[o] += Σ_r gy[r, o]. Rows are walked once per 16 outputs (one cache
 * line of gy per row) with four independent vector chains.
 */
function biasGrad32(gy: usize, gb: usize, n: i32, OUT: i32, gysb: usize): void {
  const z = f32x4.splat(0);
  let o = 0;
  for (; o + 16 <= OUT; o += 16) {
    let s0 = z, s1 = z, s2 = z, s3 = z;
    let p = gy + (<usize>o << 2);
    for (let r = 0; r < n; r++) {
      s0 = f32x4.add(s0, v128.load(p));
      s1 = f32x4.add(s1, v128.load(p, 16));
      s2 = f32x4.add(s2, v128.load(p, 32));
      s3 = f32x4.add(s3, v128.load(p, 48));
      p += gysb;
    }
    const q = gb + (<usize>o << 2);
    v128.store(q, f32x4.add(v128.load(q), s0));
    v128.store(q, f32x4.add(v128.load(q, 16), s1), 16);
    v128.store(q, f32x4.add(v128.load(q, 32), s2), 32);
    v128.store(q, f32x4.add(v128.load(q, 48), s3), 48);
  }
  for (; o < OUT; o += 4) {
    const m = min(OUT - o, 4);
    if (m == 4) biasBlock(4, gy + (<usize>o << 2), gb + (<usize>o << 2), n, gysb);
    else biasBlock(m, gy + (<usize>o << 2), gb + (<usize>o << 2), n, gysb);
  }
}

/** gb[0..m) += Σ_r gy[r, 0..m) for one block of m ≤ 4 outputs, in two row chains. */
@inline function biasBlock(m: i32, gy: usize, gb: usize, n: i32, gysb: usize): void {
  let s0 = f32x4.splat(0), s1 = s0;
  let p = gy;
  let r = 0;
  for (; r + 2 <= n; r += 2) {
    s0 = f32x4.add(s0, loadK(p, m));
    s1 = f32x4.add(s1, loadK(p + gysb, m));
    p += 2 * gysb;
  }
  if (r < n) s0 = f32x4.add(s0, loadK(p, m));
  storeK(gb, f32x4.add(loadK(gb, m), f32x4.add(s0, s1)), m);
}

// ---------------------------------------------------------------------------
// f64: scalar reference loops
// ---------------------------------------------------------------------------

function fwd64(W: usize, b: usize, x: usize, y: usize, n: i32, IN: i32, OUT: i32, xs: i32, ys: i32): void {
  for (let r = 0; r < n; r++) {
    const xr = x + <usize>(r * xs) * 8, yr = y + <usize>(r * ys) * 8;
    for (let o = 0; o < OUT; o++) {
      const wr = W + <usize>(o * IN) * 8;
      let s0: f64 = 0, s1: f64 = 0;
      let i = 0;
      for (; i + 2 <= IN; i += 2) {
        s0 += load<f64>(wr + <usize>i * 8) * load<f64>(xr + <usize>i * 8);
        s1 += load<f64>(wr + <usize>i * 8, 8) * load<f64>(xr + <usize>i * 8, 8);
      }
      if (i < IN) s0 += load<f64>(wr + <usize>i * 8) * load<f64>(xr + <usize>i * 8);
      store<f64>(yr + <usize>o * 8, (b != 0 ? load<f64>(b + <usize>o * 8) : 0) + (s0 + s1));
    }
  }
}

function bwdX64(W: usize, gy: usize, gx: usize, n: i32, IN: i32, OUT: i32, gys: i32, gxs: i32): void {
  for (let r = 0; r < n; r++) {
    const gyr = gy + <usize>(r * gys) * 8, gxr = gx + <usize>(r * gxs) * 8;
    for (let i = 0; i < IN; i++) store<f64>(gxr + <usize>i * 8, 0);
    for (let o = 0; o < OUT; o++) {
      const g = load<f64>(gyr + <usize>o * 8);
      const wr = W + <usize>(o * IN) * 8;
      for (let i = 0; i < IN; i++) {
        const p = gxr + <usize>i * 8;
        store<f64>(p, load<f64>(p) + g * load<f64>(wr + <usize>i * 8));
      }
    }
  }
}

function bwdW64(x: usize, gy: usize, gW: usize, gb: usize, n: i32, IN: i32, OUT: i32, xs: i32, gys: i32): void {
  for (let r = 0; r < n; r++) {
    const xr = x + <usize>(r * xs) * 8, gyr = gy + <usize>(r * gys) * 8;
    for (let o = 0; o < OUT; o++) {
      const g = load<f64>(gyr + <usize>o * 8);
      const wr = gW + <usize>(o * IN) * 8;
      for (let i = 0; i < IN; i++) {
        const p = wr + <usize>i * 8;
        store<f64>(p, load<f64>(p) + g * load<f64>(xr + <usize>i * 8));
      }
      if (gb != 0) {
        const q = gb + <usize>o * 8;
        store<f64>(q, load<f64>(q) + g);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------

/**
 * y[r·ys + o] = (b ? b[o] : 0) + Σ_i W[o·IN + i]·x[r·xs + i] for r < n, o < OUT.
 * y must not overlap x.
 */
@inline export function dense_fwd(W: usize, b: usize, x: usize, y: usize, n: i32, IN: i32, OUT: i32, xs: i32, ys: i32): void {
  if (sizeof<F>() == 4) {
    if (IN <= 8 || (IN <= COLUMN_MAX_IN && OUT >= 4)) fwdColumns(W, b, x, y, n, IN, OUT, xs, ys);
    else fwdDot(W, b, x, y, n, IN, OUT, xs, ys);
  } else {
    fwd64(W, b, x, y, n, IN, OUT, xs, ys);
  }
}

/** gx[r·gxs + i] = Σ_o gy[r·gys + o]·W[o·IN + i] (overwrites gx; gx must not overlap gy). */
@inline export function dense_bwd_x(W: usize, gy: usize, gx: usize, n: i32, IN: i32, OUT: i32, gys: i32, gxs: i32): void {
  if (sizeof<F>() == 4) {
    const gysb = <usize>gys << 2, gxsb = <usize>gxs << 2;
    if (IN == 1) {
      // A single input: each row is one dot product of gy_r with W, the forward shape.
      fwdDot(W, 0, gy, gx, n, OUT, 1, gys, gxs);
    } else if (IN <= 3) {
      bwdXNarrow(W, gy, gx, n, IN, OUT, gys, gxs);
    } else if (OUT == 1) {
      bxFew1(W, gy, gx, n, IN, gysb, gxsb);
    } else if (OUT == 2) {
      bxFew2(W, gy, gx, n, IN, gysb, gxsb);
    } else if (OUT == 3) {
      bxFew3(W, gy, gx, n, IN, gysb, gxsb);
    } else {
      axpyAll(gy, gysb, 4, W, <usize>IN << 2, gx, gxsb, n, IN, OUT, false);
    }
  } else {
    bwdX64(W, gy, gx, n, IN, OUT, gys, gxs);
  }
}

/**
 * gW[o·IN + i] += Σ_r gy[r·gys + o]·x[r·xs + i]; if gb ≠ 0, gb[o] += Σ_r gy[r·gys + o].
 */
@inline export function dense_bwd_w(x: usize, gy: usize, gW: usize, gb: usize, n: i32, IN: i32, OUT: i32, xs: i32, gys: i32): void {
  if (sizeof<F>() == 4) {
    const xsb = <usize>xs << 2, gysb = <usize>gys << 2;
    if (IN <= 3) {
      bwdWNarrow(x, gy, gW, n, IN, OUT, xsb, gysb);
    } else {
      axpyAll(gy, 4, gysb, x, xsb, gW, <usize>IN << 2, OUT, IN, n, true);
    }
    if (gb != 0) biasGrad32(gy, gb, n, OUT, gysb);
  } else {
    bwdW64(x, gy, gW, gb, n, IN, OUT, xs, gys);
  }
}
