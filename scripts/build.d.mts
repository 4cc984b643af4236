/** @fileoverview Types of scripts/build.mjs for the TypeScript tests that import it. */
/** Bundle `flowc/runtime` (no imports, no Node built-ins) into `outfile` (default dist/runtime.js). */
export function buildRuntime(outfile?: string): Promise<void>;
/** Bundle `flowc` (dependencies left as imports, runtime library embedded) into `outfile` (default dist/compiler.js). */
export function buildCompiler(outfile?: string): Promise<void>;
