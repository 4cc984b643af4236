/**
 * @fileoverview FLOW1xx messages. Codes are stable: add, never renumber.
 */
import type { MessageDef } from "../types.ts";

export const syntaxMessages: Record<string, MessageDef> = {
};
