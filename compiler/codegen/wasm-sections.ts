/**
 * @fileoverview Reading and writing wasm custom sections, so that a compiled
 * module carries its own manifest (`flowc.manifest`). Pure byte handling:
 * used by the compiler and by the host, in any runtime.
 */

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Append a custom section (id 0) to a wasm binary. */
export function appendCustomSection(wasm: Uint8Array, name: string, payload: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const body = [...leb128(nameBytes.length), ...nameBytes];
  const size = body.length + payload.length;
  const header = [0, ...leb128(size)];
  const out = new Uint8Array(wasm.length + header.length + body.length + payload.length);
  out.set(wasm, 0);
  out.set(header, wasm.length);
  out.set(body, wasm.length + header.length);
  out.set(payload, wasm.length + header.length + body.length);
  return out;
}
