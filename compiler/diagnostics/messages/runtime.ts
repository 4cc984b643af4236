/**
 * @fileoverview FLOW6xx messages: run-time input (data files, weight files, arrays passed to the host).
 * Codes are stable: add, never renumber.
 */
import type { MessageDef } from "../types.ts";

export const runtimeMessages: Record<string, MessageDef> = {
};
