/**
 * @fileoverview FLOW4xx messages. Codes are stable: add, never renumber.
 */
import type { MessageDef } from "../types.ts";

export const directionMessages: Record<string, MessageDef> = {
};
