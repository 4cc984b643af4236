/**
 * @fileoverview The AssemblyScript runtime library (runtime-wasm/assembly/*.ts)
 * as a name → source map, handed to asc as virtual files. Read once from disk
 * next to this package; a browser build replaces this module with one that
 * embeds the sources (see scripts/build.mjs).
 */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

let cache: Record<string, string> | null = null;

export function runtimeLibrary(): Record<string, string> {
  if (cache) return cache;
  const dir = fileURLToPath(new URL("../../runtime-wasm/assembly/", import.meta.url));
  const lib: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    if (name.endsWith(".ts") && name !== "prec.ts" && !name.endsWith(".d.ts")) lib[name] = readFileSync(join(dir, name), "utf8");
  }
  cache = lib;
  return lib;
}
