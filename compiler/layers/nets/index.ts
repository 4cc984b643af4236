/**
 * @fileoverview The registry of conditioner nets (`net=` option values).
 * Adding a net: one file here plus one line below.
 */
import type { NetKind } from "../types.ts";
import { mlp } from "./mlp.ts";
import { resnet } from "./resnet.ts";
import { conv } from "./conv.ts";

export const nets: Record<string, NetKind> = { mlp, resnet, conv };
