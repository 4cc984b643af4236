// @fileoverview Same-padded 2-D convolutions over a chunk of image rows
// (each row C·H·W floats, CHW order), with the weight in PyTorch layout
// W[COUT, CIN, K, K] (K odd, padding K/2), and their gradients. Every pointer
// is a byte address; row strides count elements of F.
//
// The f32 path vectorises over output pixels along a row of the image, so
// every feature map stays CHW. For Glow-MNIST's 128→128 1×1 convolutions this
// measured on a par with dense.ts run per pixel on HWC copies (forward within
// 10%; the HWC backward is faster at 7×7 but needs a transpose of every
// hidden map each way), and the same tiles serve the k×k convolutions, where
// channel-vectorised code needs strided weight slices. The input of each row
// is first copied into `tmp` with a zero border, so every tap of the kernel
// is a plain shifted load and no lane needs a mask; a 1×1 convolution reads
// its input in place when H·W is a multiple of 4 and treats the whole plane
// as one row.
// The reduction over (input channel, ky, kx) runs through a table of byte
// offsets into the padded input, so one loop nest serves every K, and the
// weights of an output channel are read contiguously. Register tiles are
// R output channels × V vectors of 4 pixels with R·V ≤ 8 accumulators, the
// same budget as dense.ts (12 accumulators measured 25% slower: spills). The
// input gradient is the forward kernel applied to the padded output gradient
// with the transposed, flipped weight (conv_flip). The weight gradient
// reduces over pixels: R output channels × TT reduction indices per tile,
// with the output gradient copied into rows rounded up to 4 floats with zero
// tails so every load is a full vector.
// The f64 path (gradient checks) is plain scalar code and ignores `tmp`.
//
// `tmp` must hold conv_tmp_size(CIN, COUT, H, W, K) F (see that function); it
// is per call scratch, never read across calls.
import { F } from "./prec";

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/** F of scratch the kernels need for one convolution shape. */
export function conv_tmp_size(CIN: i32, COUT: i32, H: i32, W: i32, K: i32): i32 {
  const cmax = max(CIN, COUT);
  const KK = K * K;
  // padded planes + slack, (alignment), offset table, then the transposed
  // weight (input gradient) or gy in rows rounded up to 4 (weight gradient)
  return cmax * ((H + K - 1) * (W + K - 1) + 3) + 16 + 4 + cmax * KK + 4 + max(CIN * COUT * KK, COUT * H * (W + 3) + 4);
}

@inline function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** [Σa, Σb, Σc, Σd]: four horizontal sums as one vector. */
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(f32x4.shuffle(a, b, 0, 4, 1, 5), f32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(f32x4.shuffle(c, d, 0, 4, 1, 5), f32x4.shuffle(c, d, 2, 6, 3, 7));
  return f32x4.add(f32x4.shuffle(ab, cd, 0, 1, 4, 5), f32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/** Loads k ∈ 1..4 floats into the low lanes, zeroing the rest, never reading past them. */
@inline function loadK(p: usize, k: i32): v128 {
  if (k >= 4) return v128.load(p);
  if (k == 1) return v128.load32_zero(p);
  if (k == 2) return v128.load64_zero(p);
  return v128.load32_lane(p, v128.load64_zero(p), 2, 8);
}

/** Stores the low k ∈ 1..4 lanes. */
@inline function storeK(p: usize, v: v128, k: i32): void {
  if (k >= 4) v128.store(p, v);
  else if (k == 1) v128.store32_lane(p, v, 0);
  else {
    v128.store64_lane(p, v, 0);
    if (k == 3) v128.store32_lane(p, v, 2, 8);
  }
}

/** Copies `count` floats (no overlap); exact length, so padding around dst stays intact. */
@inline function copyRow(dst: usize, src: usize, count: i32): void {
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, v128.load(src + o));
  }
  for (; i < count; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(src + o));
  }
}

/** Writes `count` zero floats. */
@inline function zeroRow(dst: usize, count: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= count; i += 4) v128.store(dst + (<usize>i << 2), z);
  for (; i < count; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/**
 * Writes C planes of H×W floats at src to dst as planes of (H+2p)×(W+2p)
 * with the image at (p, p) and zeros around it, then 16 zero floats of
 * slack for the tiles' over-reads. Borders are rewritten every time, so the
 * scratch needs no clearing between calls.
 */
function padPlanes(src: usize, dst: usize, C: i32, H: i32, W: i32, p: i32): void {
  const Wp = W + 2 * p;
  const planeB = <usize>((H + 2 * p) * Wp) << 2;
  let s = src;
  for (let c = 0; c < C; c++) {
    const base = dst + <usize>c * planeB;
    zeroRow(base, p * Wp + p);
    for (let h = 0; h < H; h++) {
      const row = base + (<usize>((p + h) * Wp + p) << 2);
      copyRow(row, s, W);
      s += <usize>W << 2;
      // right border of this row and left border of the next; after the last row, the bottom rows
      zeroRow(row + (<usize>W << 2), h + 1 < H ? 2 * p : p + p * Wp);
    }
  }
  zeroRow(dst + <usize>C * planeB, 16);
}

/** Byte offsets of the reduction index t = (c, ky, kx) into the padded input. */
function buildTable(tab: usize, C: i32, K: i32, planeB: i32, rowB: i32): void {
  let t: usize = tab;
  for (let c = 0; c < C; c++) {
    for (let ky = 0; ky < K; ky++) {
      for (let kx = 0; kx < K; kx++) {
        store<i32>(t, c * planeB + ky * rowB + kx * 4);
        t += 4;
      }
    }
  }
}

/** Scratch layout: [padded planes (+16 F slack)] [offset table] [transposed weight | padded gy]. */
@inline function tableAt(tmp: usize, C: i32, H: i32, W: i32, K: i32): usize {
  return (tmp + (<usize>(C * ((H + K - 1) * (W + K - 1) + 3) + 16) << 2) + 15) & ~(<usize>15);
}

// ---------------------------------------------------------------------------
// f32: output tiles (forward and input gradient)
// ---------------------------------------------------------------------------

/**
 * For R output channels and one run of 4·(V−1)+L pixels of an output row:
 *   dst[r][v] = bias[r] + Σ_t Wr[r][t] · src[tab[t] + v]
 * Wr rows are `wrb` bytes apart, dst planes `dpb` bytes apart. Loads are
 * always full vectors (the source has slack); only the last store is partial.
 */
@inline function outTile(R: i32, V: i32, Wr: usize, wrb: usize, bias: usize, src: usize, tab: usize, T: i32, dst: usize, dpb: usize, L: i32): void {
  const z = f32x4.splat(0);
  const b0 = bias != 0 ? v128.load32_splat(bias) : z;
  const b1 = R > 1 && bias != 0 ? v128.load32_splat(bias, 4) : z;
  const b2 = R > 2 && bias != 0 ? v128.load32_splat(bias, 8) : z;
  const b3 = R > 3 && bias != 0 ? v128.load32_splat(bias, 12) : z;
  let a00 = b0, a01 = b0, a02 = b0, a03 = b0;
  let a10 = b1, a11 = b1, a12 = b1, a13 = b1;
  let a20 = b2, a21 = b2;
  let a30 = b3, a31 = b3;
  const w1 = Wr + wrb, w2 = w1 + wrb, w3 = w2 + wrb;
  for (let t = 0; t < T; t++) {
    const to = <usize>t << 2;
    const p = src + <usize>load<i32>(tab + to);
    const x0 = v128.load(p);
    const x1 = V > 1 ? v128.load(p, 16) : z;
    const x2 = V > 2 ? v128.load(p, 32) : z;
    const x3 = V > 3 ? v128.load(p, 48) : z;
    const s0 = v128.load32_splat(Wr + to);
    a00 = madd(a00, s0, x0);
    if (V > 1) a01 = madd(a01, s0, x1);
    if (V > 2) a02 = madd(a02, s0, x2);
    if (V > 3) a03 = madd(a03, s0, x3);
    if (R > 1) {
      const s1 = v128.load32_splat(w1 + to);
      a10 = madd(a10, s1, x0);
      if (V > 1) a11 = madd(a11, s1, x1);
      if (V > 2) a12 = madd(a12, s1, x2);
      if (V > 3) a13 = madd(a13, s1, x3);
    }
    if (R > 2) {
      const s2 = v128.load32_splat(w2 + to);
      a20 = madd(a20, s2, x0);
      if (V > 1) a21 = madd(a21, s2, x1);
    }
    if (R > 3) {
      const s3 = v128.load32_splat(w3 + to);
      a30 = madd(a30, s3, x0);
      if (V > 1) a31 = madd(a31, s3, x1);
    }
  }
  putRun(V, L, dst, a00, a01, a02, a03);
  if (R > 1) putRun(V, L, dst + dpb, a10, a11, a12, a13);
  if (R > 2) putRun(V, L, dst + 2 * dpb, a20, a21, z, z);
  if (R > 3) putRun(V, L, dst + 3 * dpb, a30, a31, z, z);
}

@inline function putRun(V: i32, L: i32, d: usize, c0: v128, c1: v128, c2: v128, c3: v128): void {
  storeK(d, c0, V == 1 ? L : 4);
  if (V > 1) storeK(d + 16, c1, V == 2 ? L : 4);
  if (V > 2) storeK(d + 32, c2, V == 3 ? L : 4);
  if (V > 3) storeK(d + 48, c3, L);
}

// One compiled function per tile shape (inlining them all into the driver
// makes Binaryen's optimiser slow), as in dense.ts.
function ot_4x2(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(4, 2, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_4x1(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(4, 1, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_3x2(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(3, 2, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_3x1(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(3, 1, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_2x4(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(2, 4, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_2x3(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(2, 3, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_2x2(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(2, 2, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_2x1(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(2, 1, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_1x4(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(1, 4, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_1x3(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(1, 3, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_1x2(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(1, 2, W, wrb, b, s, tab, T, d, dpb, L); }
function ot_1x1(W: usize, wrb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(1, 1, W, wrb, b, s, tab, T, d, dpb, L); }

/**
 * All COUT output planes (HO rows of WO pixels, contiguous) of one image row:
 * out[o] = bias[o] + Σ_t Wm[o·T + t] · src[tab[t] + position]; rowInB is the
 * byte distance between successive rows of the (padded) source.
 */
function outConv(Wm: usize, bias: usize, src: usize, tab: usize, T: i32, y: usize, COUT: i32, HO: i32, WO: i32, rowInB: usize): void {
  const wrb = <usize>T << 2;
  const planeB = <usize>(HO * WO) << 2;
  // Runs of 8 pixels for 4-channel tiles (16 with ≤ 2 channels) keep 8 accumulators.
  // Pixels outermost: the run's input columns stay in L1 while the weights stream.
  const runV = COUT > 2 ? 2 : 4;
  for (let h = 0; h < HO; h++) {
    const s = src + <usize>h * rowInB;
    const d = y + (<usize>(h * WO) << 2);
    for (let w = 0; w < WO; w += 4 * runV) {
      const rem = WO - w;
      const V = min(runV, (rem + 3) >> 2);
      const L = rem - 4 * (V - 1) >= 4 ? 4 : rem - 4 * (V - 1);
      const sw = s + (<usize>w << 2), dw0 = d + (<usize>w << 2);
      for (let o = 0; o < COUT; o += 4) {
        const R = min(COUT - o, 4);
        const Wo = Wm + <usize>o * wrb;
        const bo = bias != 0 ? bias + (<usize>o << 2) : 0;
        const dw = dw0 + <usize>o * planeB;
        if (R == 4) {
          if (V == 2) ot_4x2(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
          else ot_4x1(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
        } else if (R == 3) {
          if (V == 2) ot_3x2(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
          else ot_3x1(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
        } else if (R == 2) {
          if (V == 4) ot_2x4(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
          else if (V == 3) ot_2x3(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
          else if (V == 2) ot_2x2(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
          else ot_2x1(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
        } else {
          if (V == 4) ot_1x4(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
          else if (V == 3) ot_1x3(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
          else if (V == 2) ot_1x2(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
          else ot_1x1(Wo, wrb, bo, sw, tab, T, dw, planeB, L);
        }
      }
    }
  }
}

/**
 * Shared driver of the forward pass and the input gradient: for each of n
 * rows, out_r = conv(in_r) with weights Wm [COUT][CIN·K·K] (already in
 * forward orientation) and an optional bias.
 */
function convRows32(Wm: usize, bias: usize, x: usize, y: usize, n: i32, CIN: i32, COUT: i32, H: i32, W: i32, K: i32, xs: i32, ys: i32, tmp: usize): void {
  const p = K >> 1;
  const T = CIN * K * K;
  const tab = tableAt(tmp, CIN, H, W, K);
  if (K == 1) {
    // The plane is one long row; copy only when the last vector would read past it.
    const direct = ((H * W) & 3) == 0;
    buildTable(tab, CIN, 1, (H * W) << 2, 0);
    if (!direct) memory.fill(tmp + (<usize>(CIN * H * W) << 2), 0, 64);
    for (let r = 0; r < n; r++) {
      const xr = x + (<usize>r * <usize>xs << 2);
      let src = xr;
      if (!direct) {
        copyRow(tmp, xr, CIN * H * W);
        src = tmp;
      }
      outConv(Wm, bias, src, tab, T, y + (<usize>r * <usize>ys << 2), COUT, 1, H * W, 0);
    }
    return;
  }
  const Hp = H + 2 * p, Wp = W + 2 * p;
  buildTable(tab, CIN, K, (Hp * Wp) << 2, Wp << 2);
  for (let r = 0; r < n; r++) {
    padPlanes(x + (<usize>r * <usize>xs << 2), tmp, CIN, H, W, p);
    outConv(Wm, bias, tmp, tab, T, y + (<usize>r * <usize>ys << 2), COUT, H, W, <usize>Wp << 2);
  }
}

// ---------------------------------------------------------------------------
// f32: weight-gradient tiles
// ---------------------------------------------------------------------------

/**
 * acc[r][j] = Σ_positions gy[r][pos] · src[tab[j] + pos] over HO rows of WG
 * positions (WG a multiple of 4; gy is zero past each row's real width), for
 * R output channels (gy planes `gpb` bytes apart) and TT reduction indices;
 * adds the sums into gW[r·wrow + j] (wrow in bytes).
 */
@inline function wTile(R: i32, TT: i32, gy: usize, gpb: usize, src: usize, tab: usize, HO: i32, WG: i32, rowInB: usize, gW: usize, wrow: usize): void {
  const z = f32x4.splat(0);
  let a00 = z, a01 = z, a02 = z, a03 = z;
  let a10 = z, a11 = z, a12 = z, a13 = z;
  let a20 = z, a21 = z, a30 = z, a31 = z;
  const o0 = <usize>load<i32>(tab);
  const o1 = TT > 1 ? <usize>load<i32>(tab, 4) : 0;
  const o2 = TT > 2 ? <usize>load<i32>(tab, 8) : 0;
  const o3 = TT > 3 ? <usize>load<i32>(tab, 12) : 0;
  const rowG = <usize>WG << 2;
  let g = gy, s = src;
  for (let h = 0; h < HO; h++) {
    for (let wo: usize = 0; wo < rowG; wo += 16) {
      const g0 = v128.load(g + wo);
      const g1 = R > 1 ? v128.load(g + gpb + wo) : z;
      const g2 = R > 2 ? v128.load(g + 2 * gpb + wo) : z;
      const g3 = R > 3 ? v128.load(g + 3 * gpb + wo) : z;
      const sp = s + wo;
      const x0 = v128.load(sp + o0);
      a00 = madd(a00, g0, x0);
      if (R > 1) a10 = madd(a10, g1, x0);
      if (R > 2) a20 = madd(a20, g2, x0);
      if (R > 3) a30 = madd(a30, g3, x0);
      if (TT > 1) {
        const x1 = v128.load(sp + o1);
        a01 = madd(a01, g0, x1);
        if (R > 1) a11 = madd(a11, g1, x1);
        if (R > 2) a21 = madd(a21, g2, x1);
        if (R > 3) a31 = madd(a31, g3, x1);
      }
      if (TT > 2) {
        const x2 = v128.load(sp + o2);
        a02 = madd(a02, g0, x2);
        if (R > 1) a12 = madd(a12, g1, x2);
      }
      if (TT > 3) {
        const x3 = v128.load(sp + o3);
        a03 = madd(a03, g0, x3);
        if (R > 1) a13 = madd(a13, g1, x3);
      }
    }
    g += rowG;
    s += rowInB;
  }
  // Column j of the tile: the sums of the R output channels, one per lane.
  addColumn(R, gW, wrow, hsum4(a00, a10, a20, a30));
  if (TT > 1) addColumn(R, gW + 4, wrow, hsum4(a01, a11, a21, a31));
  if (TT > 2) addColumn(R, gW + 8, wrow, hsum4(a02, a12, z, z));
  if (TT > 3) addColumn(R, gW + 12, wrow, hsum4(a03, a13, z, z));
}

@inline function addColumn(R: i32, p: usize, stride: usize, s: v128): void {
  store<f32>(p, load<f32>(p) + f32x4.extract_lane(s, 0));
  if (R > 1) store<f32>(p + stride, load<f32>(p + stride) + f32x4.extract_lane(s, 1));
  if (R > 2) store<f32>(p + 2 * stride, load<f32>(p + 2 * stride) + f32x4.extract_lane(s, 2));
  if (R > 3) store<f32>(p + 3 * stride, load<f32>(p + 3 * stride) + f32x4.extract_lane(s, 3));
}

function wt_4x2(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(4, 2, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_4x1(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(4, 1, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_3x2(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(3, 2, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_3x1(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(3, 1, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_2x4(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(2, 4, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_2x3(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(2, 3, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_2x2(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(2, 2, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_2x1(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(2, 1, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_1x4(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(1, 4, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_1x3(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(1, 3, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_1x2(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(1, 2, g, gpb, s, tab, HO, WO, rb, gW, wr); }
function wt_1x1(g: usize, gpb: usize, s: usize, tab: usize, HO: i32, WO: i32, rb: usize, gW: usize, wr: usize): void { wTile(1, 1, g, gpb, s, tab, HO, WO, rb, gW, wr); }

/** gW[o][t] += Σ_pos gy[o][pos] · src[tab[t] + pos] for one image row; gy rows are WO (a multiple of 4) floats, zero past the real width. */
function weightGrad(gy: usize, src: usize, tab: usize, T: i32, gW: usize, COUT: i32, HO: i32, WO: i32, rowInB: usize): void {
  const gpb = <usize>(HO * WO) << 2;
  const wrow = <usize>T << 2;
  for (let o = 0; o < COUT; o += 4) {
    const R = min(COUT - o, 4);
    const maxT = R > 2 ? 2 : 4;
    const g = gy + <usize>o * gpb;
    const gWo = gW + <usize>o * wrow;
    for (let t = 0; t < T; t += maxT) {
      const TT = min(maxT, T - t);
      const tb = tab + (<usize>t << 2);
      const gWt = gWo + (<usize>t << 2);
      if (R == 4) {
        if (TT == 2) wt_4x2(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
        else wt_4x1(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
      } else if (R == 3) {
        if (TT == 2) wt_3x2(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
        else wt_3x1(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
      } else if (R == 2) {
        if (TT == 4) wt_2x4(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
        else if (TT == 3) wt_2x3(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
        else if (TT == 2) wt_2x2(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
        else wt_2x1(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
      } else {
        if (TT == 4) wt_1x4(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
        else if (TT == 3) wt_1x3(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
        else if (TT == 2) wt_1x2(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
        else wt_1x1(g, gpb, src, tb, HO, WO, rowInB, gWt, wrow);
      }
    }
  }
}

/** gb[o] += Σ of plane o, for COUT planes of P floats. */
function biasGrad(gy: usize, gb: usize, COUT: i32, P: i32): void {
  const z = f32x4.splat(0);
  for (let o = 0; o < COUT; o++) {
    const g = gy + (<usize>(o * P) << 2);
    let s0 = z, s1 = z;
    let i = 0;
    for (; i + 8 <= P; i += 8) {
      s0 = f32x4.add(s0, v128.load(g + (<usize>i << 2)));
      s1 = f32x4.add(s1, v128.load(g + (<usize>i << 2), 16));
    }
    for (; i < P; i += 4) s0 = f32x4.add(s0, loadK(g + (<usize>i << 2), P - i));
    const s = f32x4.add(s0, s1);
    const q = gb + (<usize>o << 2);
    store<f32>(q, load<f32>(q) + (f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1)) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3)));
  }
}

// ---------------------------------------------------------------------------
// f64: scalar reference loops
// ---------------------------------------------------------------------------

function fwd64(Wm: usize, b: usize, x: usize, y: usize, n: i32, CIN: i32, COUT: i32, H: i32, W: i32, K: i32, xs: i32, ys: i32): void {
  const p = K >> 1;
  const HW = H * W;
  for (let r = 0; r < n; r++) {
    const xr = x + (<usize>(r * xs) << 3), yr = y + (<usize>(r * ys) << 3);
    for (let o = 0; o < COUT; o++) {
      const bo: f64 = b != 0 ? load<f64>(b + (<usize>o << 3)) : 0;
      for (let h = 0; h < H; h++) {
        for (let w = 0; w < W; w++) {
          let s = bo;
          for (let c = 0; c < CIN; c++) {
            const wc = Wm + (<usize>((o * CIN + c) * K * K) << 3);
            const xc = xr + (<usize>(c * HW) << 3);
            for (let ky = 0; ky < K; ky++) {
              const ih = h + ky - p;
              if (ih < 0 || ih >= H) continue;
              for (let kx = 0; kx < K; kx++) {
                const iw = w + kx - p;
                if (iw < 0 || iw >= W) continue;
                s += load<f64>(wc + (<usize>(ky * K + kx) << 3)) * load<f64>(xc + (<usize>(ih * W + iw) << 3));
              }
            }
          }
          store<f64>(yr + (<usize>(o * HW + h * W + w) << 3), s);
        }
      }
    }
  }
}

function bwdX64(Wm: usize, gy: usize, gx: usize, n: i32, CIN: i32, COUT: i32, H: i32, W: i32, K: i32, gys: i32, gxs: i32): void {
  const p = K >> 1;
  const HW = H * W;
  for (let r = 0; r < n; r++) {
    const gyr = gy + (<usize>(r * gys) << 3), gxr = gx + (<usize>(r * gxs) << 3);
    for (let c = 0; c < CIN; c++) {
      for (let ih = 0; ih < H; ih++) {
        for (let iw = 0; iw < W; iw++) {
          let s: f64 = 0;
          for (let o = 0; o < COUT; o++) {
            const wc = Wm + (<usize>((o * CIN + c) * K * K) << 3);
            const go = gyr + (<usize>(o * HW) << 3);
            for (let ky = 0; ky < K; ky++) {
              const h = ih - ky + p;
              if (h < 0 || h >= H) continue;
              for (let kx = 0; kx < K; kx++) {
                const w = iw - kx + p;
                if (w < 0 || w >= W) continue;
                s += load<f64>(wc + (<usize>(ky * K + kx) << 3)) * load<f64>(go + (<usize>(h * W + w) << 3));
              }
            }
          }
          store<f64>(gxr + (<usize>(c * HW + ih * W + iw) << 3), s);
        }
      }
    }
  }
}

function bwdW64(x: usize, gy: usize, gW: usize, gb: usize, n: i32, CIN: i32, COUT: i32, H: i32, W: i32, K: i32, xs: i32, gys: i32): void {
  const p = K >> 1;
  const HW = H * W;
  for (let r = 0; r < n; r++) {
    const xr = x + (<usize>(r * xs) << 3), gyr = gy + (<usize>(r * gys) << 3);
    for (let o = 0; o < COUT; o++) {
      const go = gyr + (<usize>(o * HW) << 3);
      if (gb != 0) {
        let sb: f64 = 0;
        for (let q = 0; q < HW; q++) sb += load<f64>(go + (<usize>q << 3));
        const pb = gb + (<usize>o << 3);
        store<f64>(pb, load<f64>(pb) + sb);
      }
      for (let c = 0; c < CIN; c++) {
        const xc = xr + (<usize>(c * HW) << 3);
        for (let ky = 0; ky < K; ky++) {
          for (let kx = 0; kx < K; kx++) {
            let s: f64 = 0;
            for (let h = 0; h < H; h++) {
              const ih = h + ky - p;
              if (ih < 0 || ih >= H) continue;
              for (let w = 0; w < W; w++) {
                const iw = w + kx - p;
                if (iw < 0 || iw >= W) continue;
                s += load<f64>(go + (<usize>(h * W + w) << 3)) * load<f64>(xc + (<usize>(ih * W + iw) << 3));
              }
            }
            const q = gW + (<usize>(((o * CIN + c) * K + ky) * K + kx) << 3);
            store<f64>(q, load<f64>(q) + s);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------

/**
 * y_r = conv(x_r) + b for r < n: x rows hold CIN planes of H×W_ (stride xs F),
 * y rows COUT planes (stride ys F); W [COUT, CIN, K, K]; b = 0 for no bias.
 * y must not overlap x or tmp.
 */
export function conv_fwd(W: usize, b: usize, x: usize, y: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, xs: i32, ys: i32, tmp: usize): void {
  if (sizeof<F>() == 4) convRows32(W, b, x, y, n, CIN, COUT, H, W_, K, xs, ys, tmp);
  else fwd64(W, b, x, y, n, CIN, COUT, H, W_, K, xs, ys);
}

/**
 * Wt[c][o][t'] = W[o][c][K·K−1−t']: the transposed, flipped weight, which
 * turns the input gradient into a forward convolution of gy with COUT input
 * planes: conv_fwd(Wt, 0, gy, gx, n, COUT, CIN, …) equals
 * conv_bwd_x(W, gy, gx, n, CIN, COUT, …). A caller that runs the input
 * gradient row by row flips W once instead of once per row.
 */
export function conv_flip(W: usize, Wt: usize, CIN: i32, COUT: i32, K: i32): void {
  const KK = K * K;
  for (let o = 0; o < COUT; o++) {
    for (let c = 0; c < CIN; c++) {
      const s = W + (<usize>((o * CIN + c) * KK) << alignof<F>());
      const d = Wt + (<usize>((c * COUT + o) * KK) << alignof<F>());
      for (let t = 0; t < KK; t++) store<F>(d + (<usize>(KK - 1 - t) << alignof<F>()), load<F>(s + (<usize>t << alignof<F>())));
    }
  }
}

/** gx_r = ∂(Σ gy_r·y_r)/∂x_r (overwrites gx; gx must not overlap gy or tmp). */
export function conv_bwd_x(W: usize, gy: usize, gx: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, gys: i32, gxs: i32, tmp: usize): void {
  if (sizeof<F>() == 4) {
    const Wt = tableAt(tmp, COUT, H, W_, K) + (<usize>(COUT * K * K + 4) << 2);
    conv_flip(W, Wt, CIN, COUT, K);
    convRows32(Wt, 0, gy, gx, n, COUT, CIN, H, W_, K, gys, gxs, tmp);
  } else {
    bwdX64(W, gy, gx, n, CIN, COUT, H, W_, K, gys, gxs);
  }
}

/**
 * Copies C planes of H rows × W floats into planes of H rows × WG floats
 * (WG = W rounded up to 4) with zeros past W.
 */
function padRows(src: usize, dst: usize, C: i32, H: i32, W: i32, WG: i32): void {
  let d = dst, s = src;
  for (let k = 0; k < C * H; k++) {
    copyRow(d, s, W);
    zeroRow(d + (<usize>W << 2), WG - W);
    d += <usize>WG << 2;
    s += <usize>W << 2;
  }
}

/** gW += Σ_r ∂(gy_r·y_r)/∂W and, if gb ≠ 0, gb += Σ_r Σ_pixels gy_r (accumulates). */
export function conv_bwd_w(x: usize, gy: usize, gW: usize, gb: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, xs: i32, gys: i32, tmp: usize): void {
  if (sizeof<F>() != 4) {
    bwdW64(x, gy, gW, gb, n, CIN, COUT, H, W_, K, xs, gys);
    return;
  }
  const p = K >> 1;
  const T = CIN * K * K;
  const tab = tableAt(tmp, CIN, H, W_, K);
  // gy goes to rows of WG floats with zero tails, so the tile loads only full vectors.
  const gq = tab + (<usize>(T + 4) << 2);
  if (K == 1) {
    // One long row per plane; copies only when H·W is not a multiple of 4.
    const HW = H * W_;
    const direct = (HW & 3) == 0;
    const WG = (HW + 3) & ~3;
    buildTable(tab, CIN, 1, (direct ? HW : WG) << 2, 0);
    for (let r = 0; r < n; r++) {
      const xr = x + (<usize>r * <usize>xs << 2);
      const gyr = gy + (<usize>r * <usize>gys << 2);
      if (direct) weightGrad(gyr, xr, tab, T, gW, COUT, 1, HW, 0);
      else {
        padRows(xr, tmp, CIN, 1, HW, WG);
        padRows(gyr, gq, COUT, 1, HW, WG);
        weightGrad(gq, tmp, tab, T, gW, COUT, 1, WG, 0);
      }
      if (gb != 0) biasGrad(gyr, gb, COUT, HW);
    }
    return;
  }
  const Hp = H + 2 * p, Wp = W_ + 2 * p;
  const WG = (W_ + 3) & ~3;
  buildTable(tab, CIN, K, (Hp * Wp) << 2, Wp << 2);
  for (let r = 0; r < n; r++) {
    const gyr = gy + (<usize>r * <usize>gys << 2);
    padPlanes(x + (<usize>r * <usize>xs << 2), tmp, CIN, H, W_, p);
    padRows(gyr, gq, COUT, H, W_, WG);
    weightGrad(gq, tmp, tab, T, gW, COUT, H, WG, <usize>Wp << 2);
    if (gb != 0) biasGrad(gyr, gb, COUT, H * W_);
  }
}
