/**
 * @fileoverview An esbuild plugin that replaces compiler/codegen/runtime-lib.ts
 * (which reads runtime-wasm/assembly/*.ts from disk with node:fs) by a module
 * embedding those sources as strings, so the compiler bundled for a browser,
 * a Worker or dist/ needs no file system.
 */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));

/** name → source of every runtime-library file, exactly as runtime-lib.ts reads them. */
export function runtimeSources() {
  const dir = join(root, "runtime-wasm/assembly");
  const lib = {};
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith(".ts") && name !== "prec.ts" && !name.endsWith(".d.ts")) lib[name] = readFileSync(join(dir, name), "utf8");
  }
  return lib;
}

export function embedRuntimeLibrary() {
  return {
    name: "flowc-embed-runtime-lib",
    setup(build) {
      build.onLoad({ filter: /compiler[\\/]codegen[\\/]runtime-lib\.ts$/ }, () => ({
        loader: "ts",
        contents: `const LIB: Record<string, string> = ${JSON.stringify(runtimeSources())};\nexport function runtimeLibrary(): Record<string, string> { return LIB; }\n`,
      }));
    },
  };
}
