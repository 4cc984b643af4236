/**
 * @fileoverview FLOW2xx messages. Codes are stable: add, never renumber.
 */
import type { MessageDef } from "../types.ts";

export const nameMessages: Record<string, MessageDef> = {
};
