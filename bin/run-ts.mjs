#!/usr/bin/env node
// @fileoverview Runs a TypeScript entry point (benchmarks, scripts) through tsx's loader.
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
// The AssemblyScript compiler first, natively: through tsx's loader hooks its 13 MB binaryen
// takes ~7 s to import, natively 0.4 s (ESM caches it, so the sources' imports reuse it).
await import("assemblyscript/asc");
const { register } = await import("tsx/esm/api");
register();
const [file, ...rest] = process.argv.slice(2);
process.argv = [process.argv[0], resolve(file), ...rest];
await import(pathToFileURL(resolve(file)).href);
