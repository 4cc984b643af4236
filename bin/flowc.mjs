#!/usr/bin/env node
// @fileoverview The `flowc` command. In a checkout it runs the TypeScript sources
// through tsx (no build step, never a stale dist/); the published package has no
// sources (and no tsx) and runs the bundled CLI in dist/cli/.
import { existsSync } from "node:fs";

const sources = new URL("../compiler/cli/main.ts", import.meta.url);
const bundled = new URL("../dist/cli/main.js", import.meta.url);

async function tsx() {
  try {
    return await import("tsx/esm/api");
  } catch (e) {
    // A checkout installed without dev dependencies can still run a built dist/.
    if (e?.code === "ERR_MODULE_NOT_FOUND" && existsSync(bundled)) return null;
    throw e;
  }
}

const loader = existsSync(sources) ? await tsx() : null;
if (loader) {
  // The AssemblyScript compiler first, natively: through tsx's loader hooks its 13 MB binaryen
  // takes ~7 s to import, natively 0.4 s (ESM caches it, so the sources' imports reuse it).
  await import("assemblyscript/asc");
  loader.register();
  await import(sources.href);
} else {
  await import(bundled.href);
}
