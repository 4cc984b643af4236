/**
 * @fileoverview The registry of base distributions (`base <name>`).
 * Adding a base: one file here plus one line below.
 */
import type { BaseKind } from "../types.ts";
import { normal } from "./normal.ts";
import { logistic } from "./logistic.ts";

export const bases: Record<string, BaseKind> = { normal, logistic };
