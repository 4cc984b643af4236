/**
 * @fileoverview The CLI's on-disk cache of compiled kernels
 * (`node_modules/.cache/flowc/<key>.wasm`, or `$FLOWC_CACHE_DIR`; `FLOWC_CACHE=0`
 * turns it off). Keys hash everything asc sees, so entries never go stale;
 * a corrupt entry is ignored and rewritten.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ModuleCache } from "../codegen/compile.ts";
import { writeFileAtomic } from "./io/atomic.ts";

export function diskCache(): ModuleCache | undefined {
  if (process.env.FLOWC_CACHE === "0") return undefined;
  const dir = process.env.FLOWC_CACHE_DIR ?? fileURLToPath(new URL("../../node_modules/.cache/flowc/", import.meta.url));
  return {
    get(key) {
      const f = join(dir, `${key}.wasm`);
      if (!existsSync(f)) return undefined;
      const bytes = new Uint8Array(readFileSync(f));
      return WebAssembly.validate(bytes) ? bytes : undefined;
    },
    set(key, wasm) {
      try {
        mkdirSync(dir, { recursive: true });
        writeFileAtomic(join(dir, `${key}.wasm`), wasm);
      } catch {
        // A cache that cannot be written only costs time.
      }
    },
  };
}
