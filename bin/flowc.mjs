#!/usr/bin/env node
// @fileoverview The `flowc` command. In a checkout it runs the TypeScript sources
// through tsx (no build step, never a stale dist/); the published package has no
// sources and runs the bundled CLI in dist/cli/.
import { existsSync } from "node:fs";

const sources = new URL("../compiler/cli/main.ts", import.meta.url);
if (existsSync(sources)) {
  const { register } = await import("tsx/esm/api");
  register();
  await import(sources.href);
} else {
  await import("../dist/cli/main.js");
}
