/**
 * @fileoverview FLOW3xx messages. Codes are stable: add, never renumber.
 */
import type { MessageDef } from "../types.ts";

export const shapeMessages: Record<string, MessageDef> = {
};
