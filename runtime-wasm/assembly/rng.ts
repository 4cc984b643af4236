// @fileoverview Deterministic pseudo-random numbers with the state in linear
// memory (16 bytes at `state`), so every workspace, and so every thread, owns
// its own stream. Generator: xoshiro128** (Blackman & Vigna 2018), seeded
// through splitmix32. Only integer ops and AssemblyScript's own Math are
// used, so one seed gives the same sequence in every runtime.

/** 2^-53 */
const INV_2_53: f64 = 1.1102230246251565e-16;
const TWO_PI: f64 = 6.283185307179586;

@inline function splitmix32(z: u32): u32 {
  z = (z ^ (z >>> 16)) * 0x85ebca6b;
  z = (z ^ (z >>> 13)) * 0xc2b2ae35;
  return z ^ (z >>> 16);
}

/** Fills the 16-byte state from `seed`; equal seeds give equal streams. */
export function rng_seed(state: usize, seed: u32): void {
  let z = seed;
  let any: u32 = 0;
  for (let k: usize = 0; k < 4; k++) {
    z += 0x9e3779b9;
    const w = splitmix32(z);
    any |= w;
    store<u32>(state + (k << 2), w);
  }
  // xoshiro never leaves the all-zero state, so it must never enter it.
  if (any == 0) store<u32>(state, 0x9e3779b9);
}

/** The next 32 random bits. */
export function rng_u32(state: usize): u32 {
  const s0 = load<u32>(state);
  const s1 = load<u32>(state, 4);
  let s2 = load<u32>(state, 8);
  let s3 = load<u32>(state, 12);
  const result = rotl<u32>(s1 * 5, 7) * 9;
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  const n1 = s1 ^ s2;
  const n0 = s0 ^ s3;
  s2 ^= t;
  s3 = rotl<u32>(s3, 11);
  store<u32>(state, n0);
  store<u32>(state, n1, 4);
  store<u32>(state, s2, 8);
  store<u32>(state, s3, 12);
  return result;
}

/** 53 random bits as an integer in [0, 2^53). */
@inline function bits53(state: usize): u64 {
  const hi = <u64>(rng_u32(state) >>> 5);
  const lo = <u64>(rng_u32(state) >>> 6);
  return (hi << 26) | lo;
}

/** Uniform on [0, 1) with 53 random bits. */
export function rng_uniform(state: usize): f64 {
  return <f64>bits53(state) * INV_2_53;
}

/** Uniform on the open interval (0, 1): safe to take logs of u and 1 − u. */
export function rng_uniform_open(state: usize): f64 {
  return (<f64>bits53(state) + 0.5) * INV_2_53;
}

/** Standard normal by Box–Muller; one value per call, so a stream never depends on call parity. */
export function rng_normal(state: usize): f64 {
  const u1 = rng_uniform_open(state);
  const u2 = rng_uniform(state);
  return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(TWO_PI * u2);
}

/** Standard logistic: log(u / (1 − u)). */
export function rng_logistic(state: usize): f64 {
  const u = rng_uniform_open(state);
  return Math.log(u) - Math.log1p(-u);
}
