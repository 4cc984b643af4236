/**
 * @fileoverview The optional relaxed-SIMD build of a flow (compile option
 * `relaxedSimd`, CLI `--relaxed-simd`). The plain SIMD module stays the
 * module: the relaxed build rides inside it as the custom section
 * `flowc.relaxed`, so one .wasm runs everywhere. At load, the host checks
 * whether the runtime validates a relaxed-SIMD instruction (Node 20 needs
 * --experimental-wasm-relaxed-simd; current browsers have it) and, if so,
 * instantiates the relaxed build instead, carrying over the outer module's
 * other custom sections (manifest, bundled weights) so everything downstream
 * reads the same metadata. Pure byte handling: any runtime.
 */

/** Custom section of a plain module holding its relaxed-SIMD build (a whole wasm binary). */
export const RELAXED_SECTION = "flowc.relaxed";
/** Custom section naming the build a module is (`relaxed-simd`); absent in the plain build. */
export const VARIANT_SECTION = "flowc.variant";

/** (func (param v128 v128 v128) (result v128) f32x4.relaxed_madd): valid only where relaxed SIMD is on. */
const PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11]);

let supported: boolean | undefined;

/** Whether this runtime accepts relaxed-SIMD instructions (checked once). */
export function relaxedSimdSupported(): boolean {
  if (supported === undefined) {
    try {
      supported = WebAssembly.validate(PROBE);
    } catch {
      supported = false;
    }
  }
  return supported;
}

/** Reads an unsigned LEB128 at `at`; returns [value, next offset], or null past the end. */
function uleb(b: Uint8Array, at: number): [number, number] | null {
  let v = 0, shift = 0;
  for (let i = at; i < b.length && shift < 35; i++) {
    v += (b[i] & 0x7f) * 2 ** shift;
    if ((b[i] & 0x80) === 0) return [v, i + 1];
    shift += 7;
  }
  return null;
}

/**
 * The relaxed build inside `bytes`, followed by every other custom section
 * of `bytes`, when `bytes` carries one and the runtime supports relaxed
 * SIMD; otherwise null (the caller keeps the plain module). A malformed
 * section layout also gives null: compiling the plain bytes then reports it.
 */
export function relaxedVariant(bytes: Uint8Array): Uint8Array | null {
  if (bytes.length < 8 || !relaxedSimdSupported()) return null;
  let inner: Uint8Array | null = null;
  const carried: Uint8Array[] = [];
  for (let at = 8; at < bytes.length; ) {
    const id = bytes[at];
    const size = uleb(bytes, at + 1);
    if (!size || size[1] + size[0] > bytes.length) return null;
    const [len, body] = size;
    const end = body + len;
    if (id === 0) {
      const name = uleb(bytes, body);
      if (!name || name[1] + name[0] > end) return null;
      const text = new TextDecoder().decode(bytes.subarray(name[1], name[1] + name[0]));
      if (text === RELAXED_SECTION) inner = bytes.subarray(name[1] + name[0], end);
      else carried.push(bytes.subarray(at, end));
    }
    at = end;
  }
  if (!inner) return null;
  const out = new Uint8Array(inner.length + carried.reduce((s, c) => s + c.length, 0));
  out.set(inner, 0);
  let at = inner.length;
  for (const c of carried) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
