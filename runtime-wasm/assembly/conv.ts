// @fileoverview Same-padded 2-D convolutions over a chunk of image rows
// (each row C·H·W floats, CHW order), with the weight in PyTorch layout
// W[COUT, CIN, K, K] (K odd, padding K/2), and their gradients. Every pointer
// is a byte address; row strides count elements of F.
//
// The f32 forward pass and input gradient vectorise over output pixels along
// a row of the image, so every feature map stays CHW. The input of each row
// is first copied into `tmp` with a zero border, so every tap of the kernel
// is a plain shifted load and no lane needs a mask; a 1×1 convolution reads
// its input in place when H·W is a multiple of 4 and treats the whole plane
// as one row. The reduction over (input channel, ky, kx) runs through a
// table of byte offsets into the padded input, so one loop nest serves every
// K. Weights are packed first (conv_pack) in blocks of four output channels,
// [t][4] each, so a step's four broadcasts share one address; the input
// gradient is the same kernel with the transposed, flipped weight packed the
// same way. Register tiles are R output channels × V vectors of 4 pixels
// with R·V ≤ 8 accumulators, the same budget as dense.ts (12 accumulators
// measured 25% slower: spills; so did two reduction steps per loop
// iteration, 15–25%); a tile function runs over all the channel blocks of a
// pixel run.
// The weight gradient is, per tap, a GEMM over the pixels of the image: the
// operand with more channels is copied channels-last (in 4×4 register
// transposes) so its channels fill vectors, the other is copied in blocks of
// four channels per pixel and broadcast from there (one address for a
// tile's four broadcasts), and the sums stay in registers over the whole image (no
// horizontal reductions, no padding lanes at odd widths). Measured against
// the previous pixel-vectorised reduction: 1.07–1.56× on Glow-MNIST's shapes.
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
  const P = (H + K - 1) * (W + K - 1);
  // forward and input gradient: padded planes + slack, (alignment), offset
  // table, (alignment), packed weight (either orientation)
  const packed = max(((COUT + 3) & ~3) * CIN, ((CIN + 3) & ~3) * COUT) * KK;
  const fwd = cmax * (P + 3) + 16 + 4 + cmax * KK + 4 + 4 + packed;
  // weight gradient: x padded and gy, each channels-last or blocked
  const grad = ((CIN + 3) & ~3) * P + ((COUT + 3) & ~3) * H * W;
  return max(fwd, grad);
}

@inline function madd(acc: v128, a: v128, b: v128): v128 {
  // The relaxed-SIMD build (compile option relaxedSimd) may fuse: one rounding instead of two.
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
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
 * For nb blocks of R output channels and one run of 4·(V−1)+L pixels of an
 * output row:
 *   dst[r][v] = bias[r] + Σ_t Wb[t][r] · src[tab[t] + v]
 * Wb is the packed weight (blocks of 4 outputs, [t][4] each, `wbb` bytes a
 * block), so the R broadcasts of a step come from one address with constant
 * offsets; dst planes are `dpb` bytes apart. Loads are always full vectors
 * (the source has slack); only the last store of a plane's run is partial.
 */
@inline function outTile(R: i32, V: i32, nb: i32, Wb: usize, wbb: usize, bias: usize, src: usize, tab: usize, T: i32, dst: usize, dpb: usize, L: i32): void {
  const z = f32x4.splat(0);
  const tend = tab + (<usize>T << 2);
  for (let k = 0; k < nb; k++) {
    const b0 = bias != 0 ? v128.load32_splat(bias) : z;
    const b1 = R > 1 && bias != 0 ? v128.load32_splat(bias, 4) : z;
    const b2 = R > 2 && bias != 0 ? v128.load32_splat(bias, 8) : z;
    const b3 = R > 3 && bias != 0 ? v128.load32_splat(bias, 12) : z;
    let a00 = b0, a01 = b0, a02 = b0, a03 = b0;
    let a10 = b1, a11 = b1, a12 = b1, a13 = b1;
    let a20 = b2, a21 = b2;
    let a30 = b3, a31 = b3;
    let w = Wb;
    for (let tp = tab; tp < tend; tp += 4) {
      const p = src + <usize>load<i32>(tp);
      const x0 = v128.load(p);
      const x1 = V > 1 ? v128.load(p, 16) : z;
      const x2 = V > 2 ? v128.load(p, 32) : z;
      const x3 = V > 3 ? v128.load(p, 48) : z;
      const s0 = v128.load32_splat(w);
      a00 = madd(a00, s0, x0);
      if (V > 1) a01 = madd(a01, s0, x1);
      if (V > 2) a02 = madd(a02, s0, x2);
      if (V > 3) a03 = madd(a03, s0, x3);
      if (R > 1) {
        const s1 = v128.load32_splat(w, 4);
        a10 = madd(a10, s1, x0);
        if (V > 1) a11 = madd(a11, s1, x1);
        if (V > 2) a12 = madd(a12, s1, x2);
        if (V > 3) a13 = madd(a13, s1, x3);
      }
      if (R > 2) {
        const s2 = v128.load32_splat(w, 8);
        a20 = madd(a20, s2, x0);
        if (V > 1) a21 = madd(a21, s2, x1);
      }
      if (R > 3) {
        const s3 = v128.load32_splat(w, 12);
        a30 = madd(a30, s3, x0);
        if (V > 1) a31 = madd(a31, s3, x1);
      }
      w += 16;
    }
    putRun(V, L, dst, a00, a01, a02, a03);
    if (R > 1) putRun(V, L, dst + dpb, a10, a11, a12, a13);
    if (R > 2) putRun(V, L, dst + 2 * dpb, a20, a21, z, z);
    if (R > 3) putRun(V, L, dst + 3 * dpb, a30, a31, z, z);
    Wb += wbb;
    if (bias != 0) bias += 16;
    dst += dpb << 2;
  }
}

@inline function putRun(V: i32, L: i32, d: usize, c0: v128, c1: v128, c2: v128, c3: v128): void {
  storeK(d, c0, V == 1 ? L : 4);
  if (V > 1) storeK(d + 16, c1, V == 2 ? L : 4);
  if (V > 2) storeK(d + 32, c2, V == 3 ? L : 4);
  if (V > 3) storeK(d + 48, c3, L);
}

// One compiled function per tile shape (inlining them all into the driver
// makes Binaryen's optimiser slow), as in dense.ts. Each runs over all the
// full blocks of a pixel run, so the call is paid once per run.
function ot_4x2(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(4, 2, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_4x1(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(4, 1, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_3x2(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(3, 2, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_3x1(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(3, 1, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_2x4(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(2, 4, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_2x3(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(2, 3, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_2x2(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(2, 2, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_2x1(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(2, 1, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_1x4(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(1, 4, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_1x3(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(1, 3, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_1x2(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(1, 2, nb, W, wbb, b, s, tab, T, d, dpb, L); }
function ot_1x1(nb: i32, W: usize, wbb: usize, b: usize, s: usize, tab: usize, T: i32, d: usize, dpb: usize, L: i32): void { outTile(1, 1, nb, W, wbb, b, s, tab, T, d, dpb, L); }

/**
 * All COUT output planes (HO rows of WO pixels, contiguous) of one image row:
 * out[o] = bias[o] + Σ_t Wp[o/4][t][o%4] · src[tab[t] + position]; rowInB is
 * the byte distance between successive rows of the (padded) source.
 */
function outConv(Wp: usize, bias: usize, src: usize, tab: usize, T: i32, y: usize, COUT: i32, HO: i32, WO: i32, rowInB: usize): void {
  const wbb = <usize>T << 4;
  const planeB = <usize>(HO * WO) << 2;
  const nb = COUT >> 2, R = COUT & 3;
  // the tail block (R < 4 channels) after the full ones
  const Wt = Wp + <usize>nb * wbb;
  const bt = bias != 0 ? bias + (<usize>nb << 4) : 0;
  const dt = <usize>nb * (planeB << 2);
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
      const sw = s + (<usize>w << 2), dw = d + (<usize>w << 2);
      if (nb > 0) {
        if (V == 2) ot_4x2(nb, Wp, wbb, bias, sw, tab, T, dw, planeB, L);
        else ot_4x1(nb, Wp, wbb, bias, sw, tab, T, dw, planeB, L);
      }
      if (R == 3) {
        if (V == 2) ot_3x2(1, Wt, wbb, bt, sw, tab, T, dw + dt, planeB, L);
        else ot_3x1(1, Wt, wbb, bt, sw, tab, T, dw + dt, planeB, L);
      } else if (R == 2) {
        if (V == 4) ot_2x4(1, Wt, wbb, bt, sw, tab, T, dw + dt, planeB, L);
        else if (V == 3) ot_2x3(1, Wt, wbb, bt, sw, tab, T, dw + dt, planeB, L);
        else if (V == 2) ot_2x2(1, Wt, wbb, bt, sw, tab, T, dw + dt, planeB, L);
        else ot_2x1(1, Wt, wbb, bt, sw, tab, T, dw + dt, planeB, L);
      } else if (R == 1) {
        if (V == 4) ot_1x4(1, Wt, wbb, bt, sw, tab, T, dw + dt, planeB, L);
        else if (V == 3) ot_1x3(1, Wt, wbb, bt, sw, tab, T, dw + dt, planeB, L);
        else if (V == 2) ot_1x2(1, Wt, wbb, bt, sw, tab, T, dw + dt, planeB, L);
        else ot_1x1(1, Wt, wbb, bt, sw, tab, T, dw + dt, planeB, L);
      }
    }
  }
}

/**
 * Shared driver of the forward pass and the input gradient: for each of n
 * rows, out_r = conv(in_r) with packed weights Wp (conv_pack) and an
 * optional bias.
 */
function convRows32(Wp: usize, bias: usize, x: usize, y: usize, n: i32, CIN: i32, COUT: i32, H: i32, W: i32, K: i32, xs: i32, ys: i32, tmp: usize): void {
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
      outConv(Wp, bias, src, tab, T, y + (<usize>r * <usize>ys << 2), COUT, 1, H * W, 0);
    }
    return;
  }
  const Hp = H + 2 * p, Wp_ = W + 2 * p;
  buildTable(tab, CIN, K, (Hp * Wp_) << 2, Wp_ << 2);
  for (let r = 0; r < n; r++) {
    padPlanes(x + (<usize>r * <usize>xs << 2), tmp, CIN, H, W, p);
    outConv(Wp, bias, tmp, tab, T, y + (<usize>r * <usize>ys << 2), COUT, H, W, <usize>Wp_ << 2);
  }
}

/** Where conv_fwd/conv_bwd_x pack their weights in `tmp`: after the offset table, 16-byte aligned. */
@inline function packAt(tmp: usize, CIN: i32, H: i32, W: i32, K: i32): usize {
  return (tableAt(tmp, CIN, H, W, K) + (<usize>(CIN * K * K + 4) << 2) + 15) & ~(<usize>15);
}

// ---------------------------------------------------------------------------
// f32: weight gradient
// ---------------------------------------------------------------------------

/**
 * Writes C planes of H×W floats at src as (H+2p)×(W+2p) pixels, the image
 * at (p, p), zeros in the border and in channels C..Cp−1 (Cp = C rounded up
 * to 4). Channels-last: pixels of Cp floats. Blocked: for each group of four
 * channels, a plane of pixels of 4 floats, so a pixel's four values share
 * one address. 4×4 blocks are transposed in registers; the ragged edges go
 * one float at a time.
 */
function toChannelsLast(src: usize, dst: usize, C: i32, H: i32, W: i32, p: i32, blocked: bool): void {
  const Cp = (C + 3) & ~3;
  const Wp = W + 2 * p;
  const pixB: usize = blocked ? 16 : <usize>Cp << 2;
  const blockB: usize = blocked ? <usize>((H + 2 * p) * Wp) << 4 : 16;
  const planeB = <usize>(H * W) << 2;
  // Zero only what no copy writes: the border rows and columns (channel tails are zeroed below).
  const bandB = <usize>(p * Wp) * pixB;
  if (p > 0 && blocked) memory.fill(dst, 0, <usize>(Cp >> 2) * blockB);
  else if (p > 0) {
    zeroRow(dst, <i32>(bandB >> 2));
    zeroRow(dst + <usize>((H + p) * Wp) * pixB, <i32>(bandB >> 2));
    for (let h = 0; h < H; h++) {
      const row = dst + <usize>((h + p) * Wp) * pixB;
      zeroRow(row, <i32>((<usize>p * pixB) >> 2));
      zeroRow(row + <usize>(W + p) * pixB, <i32>((<usize>p * pixB) >> 2));
    }
  }
  for (let c = 0; c < C; c += 4) {
    const full = C - c >= 4;
    const s0 = src + <usize>c * planeB;
    for (let h = 0; h < H; h++) {
      const srow = s0 + (<usize>(h * W) << 2);
      const drow = dst + <usize>((h + p) * Wp + p) * pixB + <usize>(c >> 2) * blockB;
      let w = 0;
      if (full) {
        for (; w + 4 <= W; w += 4) {
          const sp = srow + (<usize>w << 2);
          const r0 = v128.load(sp), r1 = v128.load(sp + planeB), r2 = v128.load(sp + 2 * planeB), r3 = v128.load(sp + 3 * planeB);
          const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
          const dp = drow + <usize>w * pixB;
          v128.store(dp, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(dp + pixB, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
          v128.store(dp + 2 * pixB, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
          v128.store(dp + 3 * pixB, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
        }
      }
      const cn = min(4, C - c);
      for (; w < W; w++) {
        for (let j = 0; j < 4; j++) store<f32>(drow + <usize>w * pixB + (<usize>j << 2), j < cn ? load<f32>(srow + <usize>j * planeB + (<usize>w << 2)) : 0);
      }
    }
  }
}

/**
 * One block of the weight gradient for one tap: with R "splat" channels
 * (blocked: pixels of 4 floats, rows `srb` bytes apart, starting at S) and
 * V vectors of 4 channels-last "vector" channels (pixels `vpx` bytes apart,
 * rows `vrb` bytes apart, starting at Vb):
 *   acc[r][v] = Σ_{h<H, w<W} S[r][h][w] · Vb[h][w][4v..4v+3]
 * then lane l of acc[r][v] is added to gW at r·rS + (4v+l)·lS bytes, for
 * the `lanes` real channels of the last vector. The reduction runs over the
 * whole image, so the sums stay in registers until the end.
 */
@inline function gradTile(R: i32, V: i32, S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void {
  const z = f32x4.splat(0);
  let a00 = z, a01 = z, a02 = z, a03 = z;
  let a10 = z, a11 = z, a12 = z, a13 = z;
  let a20 = z, a21 = z, a30 = z, a31 = z;
  for (let h = 0; h < H; h++) {
    let s = S + <usize>h * srb;
    const se = s + (<usize>W << 4);
    let v = Vb + <usize>h * vrb;
    for (; s < se; s += 16) {
      const x0 = v128.load(v);
      const x1 = V > 1 ? v128.load(v, 16) : z;
      const x2 = V > 2 ? v128.load(v, 32) : z;
      const x3 = V > 3 ? v128.load(v, 48) : z;
      const g0 = v128.load32_splat(s);
      a00 = madd(a00, g0, x0);
      if (V > 1) a01 = madd(a01, g0, x1);
      if (V > 2) a02 = madd(a02, g0, x2);
      if (V > 3) a03 = madd(a03, g0, x3);
      if (R > 1) {
        const g1 = v128.load32_splat(s, 4);
        a10 = madd(a10, g1, x0);
        if (V > 1) a11 = madd(a11, g1, x1);
        if (V > 2) a12 = madd(a12, g1, x2);
        if (V > 3) a13 = madd(a13, g1, x3);
      }
      if (R > 2) {
        const g2 = v128.load32_splat(s, 8);
        a20 = madd(a20, g2, x0);
        if (V > 1) a21 = madd(a21, g2, x1);
      }
      if (R > 3) {
        const g3 = v128.load32_splat(s, 12);
        a30 = madd(a30, g3, x0);
        if (V > 1) a31 = madd(a31, g3, x1);
      }
      v += vpx;
    }
  }
  addRow(V, lanes, gW, lS, a00, a01, a02, a03);
  if (R > 1) addRow(V, lanes, gW + rS, lS, a10, a11, a12, a13);
  if (R > 2) addRow(V, lanes, gW + 2 * rS, lS, a20, a21, z, z);
  if (R > 3) addRow(V, lanes, gW + 3 * rS, lS, a30, a31, z, z);
}

@inline function addRow(V: i32, lanes: i32, p: usize, lS: usize, c0: v128, c1: v128, c2: v128, c3: v128): void {
  addLanes(p, lS, c0, V == 1 ? lanes : 4);
  if (V > 1) addLanes(p + 4 * lS, lS, c1, V == 2 ? lanes : 4);
  if (V > 2) addLanes(p + 8 * lS, lS, c2, V == 3 ? lanes : 4);
  if (V > 3) addLanes(p + 12 * lS, lS, c3, lanes);
}

/** Adds the low k lanes of s to floats `stride` bytes apart (contiguous runs take one vector). */
@inline function addLanes(p: usize, stride: usize, s: v128, k: i32): void {
  if (stride == 4 && k == 4) {
    v128.store(p, f32x4.add(v128.load(p), s));
    return;
  }
  store<f32>(p, load<f32>(p) + f32x4.extract_lane(s, 0));
  if (k > 1) store<f32>(p + stride, load<f32>(p + stride) + f32x4.extract_lane(s, 1));
  if (k > 2) store<f32>(p + 2 * stride, load<f32>(p + 2 * stride) + f32x4.extract_lane(s, 2));
  if (k > 3) store<f32>(p + 3 * stride, load<f32>(p + 3 * stride) + f32x4.extract_lane(s, 3));
}

function gt_4x2(S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void { gradTile(4, 2, S, srb, Vb, vpx, vrb, H, W, gW, rS, lS, lanes); }
function gt_4x1(S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void { gradTile(4, 1, S, srb, Vb, vpx, vrb, H, W, gW, rS, lS, lanes); }
function gt_3x2(S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void { gradTile(3, 2, S, srb, Vb, vpx, vrb, H, W, gW, rS, lS, lanes); }
function gt_3x1(S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void { gradTile(3, 1, S, srb, Vb, vpx, vrb, H, W, gW, rS, lS, lanes); }
function gt_2x4(S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void { gradTile(2, 4, S, srb, Vb, vpx, vrb, H, W, gW, rS, lS, lanes); }
function gt_2x2(S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void { gradTile(2, 2, S, srb, Vb, vpx, vrb, H, W, gW, rS, lS, lanes); }
function gt_2x1(S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void { gradTile(2, 1, S, srb, Vb, vpx, vrb, H, W, gW, rS, lS, lanes); }
function gt_1x4(S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void { gradTile(1, 4, S, srb, Vb, vpx, vrb, H, W, gW, rS, lS, lanes); }
function gt_1x2(S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void { gradTile(1, 2, S, srb, Vb, vpx, vrb, H, W, gW, rS, lS, lanes); }
function gt_1x1(S: usize, srb: usize, Vb: usize, vpx: usize, vrb: usize, H: i32, W: i32, gW: usize, rS: usize, lS: usize, lanes: i32): void { gradTile(1, 1, S, srb, Vb, vpx, vrb, H, W, gW, rS, lS, lanes); }

/**
 * All tiles of one tap: NS splat channels (blocks of 4, `sbb` bytes apart) ×
 * NV vector channels. Tiles are 4 splat × 2 vectors (8 accumulators); with
 * ≤ 2 splat channels, 2 × 4 or 1 × 4.
 */
function gradTap(S: usize, sbb: usize, srb: usize, NS: i32, Vb: usize, vpx: usize, vrb: usize, NV: i32, H: i32, W: i32, gW: usize, rS: usize, lS: usize): void {
  const nvec = (NV + 3) >> 2;
  const last = NV - ((nvec - 1) << 2);
  for (let r = 0; r < NS; r += 4) {
    const R = min(4, NS - r);
    const Sr = S + <usize>(r >> 2) * sbb;
    const gr = gW + <usize>r * rS;
    const VM = R > 2 ? 2 : 4;
    for (let v = 0; v < nvec; v += VM) {
      const Vn = min(VM, nvec - v);
      const lanes = v + Vn == nvec ? last : 4;
      const Vv = Vb + (<usize>v << 4);
      const gv = gr + <usize>(v << 2) * lS;
      if (R == 4) {
        if (Vn == 2) gt_4x2(Sr, srb, Vv, vpx, vrb, H, W, gv, rS, lS, lanes);
        else gt_4x1(Sr, srb, Vv, vpx, vrb, H, W, gv, rS, lS, lanes);
      } else if (R == 3) {
        if (Vn == 2) gt_3x2(Sr, srb, Vv, vpx, vrb, H, W, gv, rS, lS, lanes);
        else gt_3x1(Sr, srb, Vv, vpx, vrb, H, W, gv, rS, lS, lanes);
      } else if (R == 2) {
        if (Vn == 4) gt_2x4(Sr, srb, Vv, vpx, vrb, H, W, gv, rS, lS, lanes);
        else if (Vn >= 2) {
          gt_2x2(Sr, srb, Vv, vpx, vrb, H, W, gv, rS, lS, Vn == 2 ? lanes : 4);
          if (Vn == 3) gt_2x1(Sr, srb, Vv + 32, vpx, vrb, H, W, gv + 8 * lS, rS, lS, lanes);
        } else gt_2x1(Sr, srb, Vv, vpx, vrb, H, W, gv, rS, lS, lanes);
      } else {
        if (Vn == 4) gt_1x4(Sr, srb, Vv, vpx, vrb, H, W, gv, rS, lS, lanes);
        else if (Vn >= 2) {
          gt_1x2(Sr, srb, Vv, vpx, vrb, H, W, gv, rS, lS, Vn == 2 ? lanes : 4);
          if (Vn == 3) gt_1x1(Sr, srb, Vv + 32, vpx, vrb, H, W, gv + 8 * lS, rS, lS, lanes);
        } else gt_1x1(Sr, srb, Vv, vpx, vrb, H, W, gv, rS, lS, lanes);
      }
    }
  }
}

/**
 * gW[o][c][ky][kx] += Σ_{h,w} gy[o][h][w] · x[c][h+ky−p][w+kx−p] for one
 * image row, as a GEMM per tap over the image's pixels: the side with more
 * channels is copied channels-last so its channels fill vectors, the other
 * is broadcast from its CHW planes.
 */
function weightGrad32(x: usize, gy: usize, gW: usize, CIN: i32, COUT: i32, H: i32, W: i32, K: i32, tmp: usize): void {
  const p = K >> 1;
  const Hp = H + 2 * p, Wp = W + 2 * p;
  const KK = K * K;
  // x (padded) first, then gy; both sides round their channels up to 4
  const G = tmp + (<usize>(((CIN + 3) & ~3) * Hp * Wp) << 2);
  if (CIN >= COUT) {
    // vector side: x channels-last; splat side: gy blocked
    const pix = <usize>((CIN + 3) & ~3) << 2;
    toChannelsLast(x, tmp, CIN, H, W, p, false);
    toChannelsLast(gy, G, COUT, H, W, 0, true);
    for (let ky = 0; ky < K; ky++) {
      for (let kx = 0; kx < K; kx++) {
        const Vb = tmp + <usize>(ky * Wp + kx) * pix;
        gradTap(G, <usize>(H * W) << 4, <usize>W << 4, COUT, Vb, pix, <usize>Wp * pix, CIN, H, W, gW + (<usize>(ky * K + kx) << 2), <usize>(CIN * KK) << 2, <usize>KK << 2);
      }
    }
  } else {
    // vector side: gy channels-last; splat side: x blocked
    const pix = <usize>((COUT + 3) & ~3) << 2;
    toChannelsLast(x, tmp, CIN, H, W, p, true);
    toChannelsLast(gy, G, COUT, H, W, 0, false);
    for (let ky = 0; ky < K; ky++) {
      for (let kx = 0; kx < K; kx++) {
        const S = tmp + (<usize>(ky * Wp + kx) << 4);
        gradTap(S, <usize>(Hp * Wp) << 4, <usize>Wp << 4, CIN, G, pix, <usize>W * pix, COUT, H, W, gW + (<usize>(ky * K + kx) << 2), <usize>KK << 2, <usize>(CIN * KK) << 2);
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

/** F of packed weights (conv_pack) for a convolution with CIN inputs and COUT outputs. */
export function conv_packed_size(CIN: i32, COUT: i32, K: i32): i32 {
  return (sizeof<F>() == 4 ? (COUT + 3) & ~3 : COUT) * CIN * K * K;
}

/**
 * Packs W [COUT, CIN, K, K] for conv_fwd_packed. flip = false: the forward
 * convolution (CIN → COUT). flip = true: its input gradient, a forward
 * convolution of gy (COUT → CIN) with the transposed weight, taps reversed:
 * conv_fwd_packed(Wt, 0, gy, gx, n, COUT, CIN, …) equals
 * conv_bwd_x(W, gy, gx, n, CIN, COUT, …). f32 layout: blocks of four
 * outputs, each [t = (input, ky, kx)][4 outputs], zero lanes past the last
 * output, so a tile's broadcasts share one address; f64: [output][t]. A
 * caller that runs many small calls with one weight packs it once.
 */
export function conv_pack(W: usize, Wp: usize, CIN: i32, COUT: i32, K: i32, flip: bool): void {
  const KK = K * K;
  const NO = flip ? CIN : COUT, NI = flip ? COUT : CIN;
  const T = NI * KK;
  const f32 = sizeof<F>() == 4;
  const sz = <usize>sizeof<F>();
  if (f32 && (NO & 3) != 0) memory.fill(Wp + (<usize>((NO >> 2) * T) << 4), 0, <usize>T << 4);
  // destination step per reduction index: one block row (4 lanes) in f32, one element in f64
  const step: usize = f32 ? 16 : sz;
  for (let o = 0; o < NO; o++) {
    let d = f32 ? Wp + (<usize>(o >> 2) * <usize>T << 4) + (<usize>(o & 3) << 2) : Wp + <usize>o * <usize>T * sz;
    for (let i = 0; i < NI; i++) {
      if (flip) {
        let s = W + <usize>((i * CIN + o) * KK + KK - 1) * sz;
        for (let q = 0; q < KK; q++) { store<F>(d, load<F>(s)); d += step; s -= sz; }
      } else {
        let s = W + <usize>((o * CIN + i) * KK) * sz;
        for (let q = 0; q < KK; q++) { store<F>(d, load<F>(s)); d += step; s += sz; }
      }
    }
  }
}

/**
 * y_r = conv(x_r) + b for r < n: x rows hold CIN planes of H×W_ (stride xs F),
 * y rows COUT planes (stride ys F); W [COUT, CIN, K, K]; b = 0 for no bias.
 * y must not overlap x or tmp.
 */
export function conv_fwd(W: usize, b: usize, x: usize, y: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, xs: i32, ys: i32, tmp: usize): void {
  if (sizeof<F>() == 4) {
    const Wp = packAt(tmp, CIN, H, W_, K);
    conv_pack(W, Wp, CIN, COUT, K, false);
    convRows32(Wp, b, x, y, n, CIN, COUT, H, W_, K, xs, ys, tmp);
  } else {
    fwd64(W, b, x, y, n, CIN, COUT, H, W_, K, xs, ys);
  }
}

/** conv_fwd with weights already packed by conv_pack (either orientation). Wp must not overlap tmp. */
export function conv_fwd_packed(Wp: usize, b: usize, x: usize, y: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, xs: i32, ys: i32, tmp: usize): void {
  if (sizeof<F>() == 4) convRows32(Wp, b, x, y, n, CIN, COUT, H, W_, K, xs, ys, tmp);
  else fwd64(Wp, b, x, y, n, CIN, COUT, H, W_, K, xs, ys);
}

/** gx_r = ∂(Σ gy_r·y_r)/∂x_r (overwrites gx; gx must not overlap gy or tmp). */
export function conv_bwd_x(W: usize, gy: usize, gx: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, gys: i32, gxs: i32, tmp: usize): void {
  if (sizeof<F>() == 4) {
    const Wt = packAt(tmp, COUT, H, W_, K);
    conv_pack(W, Wt, CIN, COUT, K, true);
    convRows32(Wt, 0, gy, gx, n, COUT, CIN, H, W_, K, gys, gxs, tmp);
  } else {
    bwdX64(W, gy, gx, n, CIN, COUT, H, W_, K, gys, gxs);
  }
}

/** gW += Σ_r ∂(gy_r·y_r)/∂W and, if gb ≠ 0, gb += Σ_r Σ_pixels gy_r (accumulates). */
export function conv_bwd_w(x: usize, gy: usize, gW: usize, gb: usize, n: i32, CIN: i32, COUT: i32, H: i32, W_: i32, K: i32, xs: i32, gys: i32, tmp: usize): void {
  if (sizeof<F>() != 4) {
    bwdW64(x, gy, gW, gb, n, CIN, COUT, H, W_, K, xs, gys);
    return;
  }
  for (let r = 0; r < n; r++) {
    const gyr = gy + (<usize>r * <usize>gys << 2);
    weightGrad32(x + (<usize>r * <usize>xs << 2), gyr, gW, CIN, COUT, H, W_, K, tmp);
    if (gb != 0) biasGrad(gyr, gb, COUT, H * W_);
  }
}
