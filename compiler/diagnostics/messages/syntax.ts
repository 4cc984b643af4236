/**
 * @fileoverview FLOW1xx messages. Codes are stable: add, never renumber.
 */
import type { MessageDef } from "../types.ts";

export const syntaxMessages: Record<string, MessageDef> = {
  FLOW101: {
    severity: "error",
    message: "unexpected {noun} {text}",
    hint: "remove it: a .flow file is made of names, numbers, = , ; ( ) [ ] { } and comments starting with # or //",
  },
  FLOW102: {
    severity: "error",
    message: "expected {expected}, but found {found}",
  },
  FLOW103: {
    severity: "error",
    message: "this '{' is never closed: the repeated block has no matching '}'",
    hint: "add '}' after the last statement of the block",
  },
  FLOW104: {
    severity: "error",
    message: "unmatched '{bracket}': there is no '{opener}' for it to close",
    hint: "remove it, or add the missing '{opener}' before it",
  },
  FLOW105: {
    severity: "error",
    message: "'{keyword}' needs a shape in brackets, but found {found}",
    hint: "write the event shape after '{keyword}': [D] for vectors, e.g. `{keyword} [2]`, or [C, H, W] for images, e.g. `{keyword} [1, 28, 28]`",
  },
  FLOW106: {
    severity: "error",
    message: "bad number '{text}': {reason}",
  },
  FLOW107: {
    severity: "error",
    message: "the file has no statements; a flow needs at least `input [...]`",
    hint: "a minimal flow:\n  input [2]\n  repeat 4 { coupling affine mask=half; permute reverse }\n  base normal",
  },
  FLOW108: {
    severity: "error",
    message: "'repeat' needs a count and a block in braces, but found {found}",
    hint: "write how many copies to make, then the statements to repeat: `repeat 4 { actnorm; coupling affine mask=checker }`",
  },
  FLOW109: {
    severity: "error",
    message: "{found} starts a new statement on the same line as the previous one",
    hint: "put each statement on its own line, or separate them with ';'",
  },
  FLOW110: {
    severity: "error",
    message: "brackets are nested more than {max} levels deep here",
    hint: "flatten the nesting: `repeat 2 { repeat 4 { actnorm } }` is `repeat 8 { actnorm }`",
  },
};
