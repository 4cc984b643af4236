#!/usr/bin/env node
// @fileoverview The `flowc` command: runs the TypeScript CLI through tsx's loader.
import { register } from "tsx/esm/api";
register();
await import("../compiler/cli/main.ts");
