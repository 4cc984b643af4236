/**
 * @fileoverview The flow's identity: SHA-256 (FIPS 180-4) of a canonical
 * JSON rendering of the unrolled flow. Pure TypeScript, because the compiler
 * also runs in browsers and edge runtimes where node:crypto is absent and
 * WebCrypto is async-only. Two specs that unroll to the same layers, resolved
 * options, shapes, parameters and base get the same hash, however they were
 * written (comments, spacing, `repeat`, defaults spelled out or not).
 */
import type { IRFlow } from "./types.ts";

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 of bytes, as lowercase hex. Plain int32 arithmetic in locals keeps the loop fast. */
export function sha256(bytes: Uint8Array): string {
  const bitLen = bytes.length * 8;
  const padded = new Uint8Array(Math.ceil((bytes.length + 9) / 64) * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  // Message length in bits as a 64-bit big-endian integer.
  const hi = Math.floor(bitLen / 2 ** 32);
  const lo = bitLen >>> 0;
  for (let i = 0; i < 4; i++) {
    padded[padded.length - 8 + i] = (hi >>> (24 - 8 * i)) & 0xff;
    padded[padded.length - 4 + i] = (lo >>> (24 - 8 * i)) & 0xff;
  }

  let h0 = 0x6a09e667 | 0, h1 = 0xbb67ae85 | 0, h2 = 0x3c6ef372 | 0, h3 = 0xa54ff53a | 0;
  let h4 = 0x510e527f | 0, h5 = 0x9b05688c | 0, h6 = 0x1f83d9ab | 0, h7 = 0x5be0cd19 | 0;
  const w = new Int32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let t = 0; t < 16; t++) {
      const j = off + 4 * t;
      w[t] = (padded[j] << 24) | (padded[j + 1] << 16) | (padded[j + 2] << 8) | padded[j + 3];
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15];
      const y = w[t - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
  }
  return [h0, h1, h2, h3, h4, h5, h6, h7].map((x) => (x >>> 0).toString(16).padStart(8, "0")).join("");
}

/** SHA-256 of a string's UTF-8 bytes, as hex. */
export const sha256Text = (text: string): string => sha256(new TextEncoder().encode(text));

/** JSON with object keys sorted at every level, so equal values render equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i ? "," : "") + canonicalJson(value[i]);
    return out + "]";
  }
  const rec = value as Record<string, unknown>;
  let out = "{";
  let first = true;
  for (const k of Object.keys(rec).sort()) {
    if (rec[k] === undefined) continue;
    out += (first ? "" : ",") + JSON.stringify(k) + ":" + canonicalJson(rec[k]);
    first = false;
  }
  return out + "}";
}

/**
 * The canonical description of a flow that its hash covers: no source text,
 * spans or file name, and no offsets (they follow from the order). Params are
 * written as `[local name, shape, init, trainable]` to keep the text short.
 */
export function canonicalFlow(ir: Omit<IRFlow, "hash">): string {
  const params = (ps: IRFlow["base"]["params"]) => ps.map((p) => [p.local, p.shape, p.init, p.trainable]);
  const parts = [
    `flowc-flow/1 input=${canonicalJson(ir.inputShape)} context=${ir.contextSize}`,
    ...ir.layers.map((l) => `${l.kind} ${canonicalJson(l.opts)} ${canonicalJson(l.inShape)}->${canonicalJson(l.outShape)} parity=${l.parity} ${canonicalJson(params(l.params))}`),
    `base ${ir.base.kind} ${canonicalJson(ir.base.opts)} ${canonicalJson(params(ir.base.params))}`,
  ];
  return parts.join("\n");
}

/** Hex SHA-256 of the canonical flow. */
export const flowHash = (ir: Omit<IRFlow, "hash">): string => sha256Text(canonicalFlow(ir));
