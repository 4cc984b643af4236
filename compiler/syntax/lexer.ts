/**
 * @fileoverview Tokens and lexer of the `.flow` language, plus `LineIndex`,
 * which turns UTF-16 offsets into the 1-based line/column spans used by the
 * AST and by diagnostics. Newlines are tokens because they separate
 * statements; whitespace and comments are skipped. Characters no token
 * matches become lexing errors (reported, never thrown) and lexing goes on.
 */
import { createToken, Lexer, type ILexingError, type IToken, type TokenType } from "chevrotain";
import type { Span } from "./ast.ts";

// Abstract category: the parser accepts either separator wherever a statement ends.
export const Separator = createToken({ name: "Separator", pattern: Lexer.NA });
/**
 * A line break, together with any blank or comment-only lines after it, so
 * that one token stands between any two lines of code. The parser can then
 * skip a line break inside brackets with an OPTION rather than a repetition,
 * whose error recovery would skip ahead across lines.
 */
export const Newline = createToken({
  name: "Newline",
  pattern: /(?:\r\n?|\n)(?:[ \t\f\v\u00A0\uFEFF]*(?:(?:#|\/\/)[^\r\n]*)?(?:\r\n?|\n))*/,
  line_breaks: true,
  categories: [Separator],
});
export const Semicolon = createToken({ name: "Semicolon", pattern: /;/, categories: [Separator] });

const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\f\v\u00A0\uFEFF]+/, group: Lexer.SKIPPED });
const Comment = createToken({ name: "Comment", pattern: /(?:#|\/\/)[^\r\n]*/, group: Lexer.SKIPPED });

export const Name = createToken({ name: "Name", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });
// Keywords fall back to Name when they are only a prefix, so `inputs` is a Name.
export const Input = createToken({ name: "Input", pattern: /input/, longer_alt: Name });
export const Context = createToken({ name: "Context", pattern: /context/, longer_alt: Name });
export const Base = createToken({ name: "Base", pattern: /base/, longer_alt: Name });
export const Repeat = createToken({ name: "Repeat", pattern: /repeat/, longer_alt: Name });

/** Category: any whole-number-shaped token. The parser consumes Int; the AST builder tells the two kinds apart. */
export const Int = createToken({ name: "Int", pattern: Lexer.NA });
/**
 * Digits glued to letters or extra dots (`8bit`, `1.5.3`, `0x1f`). Lexing them
 * as one token lets the AST builder say "malformed number" instead of the
 * parser complaining about a stray name; being an Int, it may stand wherever
 * a number may.
 */
export const BadNumber = createToken({ name: "BadNumber", pattern: /-?\.?\d(?:[eE][+-]|[\w.])*/, categories: [Int] });
const Integer = createToken({ name: "Integer", pattern: /-?\d+/, categories: [Int], longer_alt: BadNumber });
export const Float = createToken({
  name: "Float",
  pattern: /-?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)/,
  longer_alt: BadNumber,
});

export const Equals = createToken({ name: "Equals", pattern: /=/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const LParen = createToken({ name: "LParen", pattern: /\(/ });
export const RParen = createToken({ name: "RParen", pattern: /\)/ });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/ });
export const RBracket = createToken({ name: "RBracket", pattern: /]/ });
export const LCurly = createToken({ name: "LCurly", pattern: /{/ });
export const RCurly = createToken({ name: "RCurly", pattern: /}/ });

/** Every token type, in matching order (first match wins, then `longer_alt`). */
export const allTokens: TokenType[] = [
  Newline, WhiteSpace, Comment, Semicolon,
  Equals, Comma, LParen, RParen, LBracket, RBracket, LCurly, RCurly,
  Float, Integer, BadNumber,
  Input, Context, Base, Repeat, Name,
  Separator, Int,
];

// Spans are computed from offsets by LineIndex, so chevrotain need not track lines.
const lexer = new Lexer(allTokens, { positionTracking: "onlyOffset" });

/** Split `source` into tokens; characters that match no token come back as `errors`. */
export function tokenize(source: string): { tokens: IToken[]; errors: ILexingError[] } {
  const { tokens, errors } = lexer.tokenize(source);
  return { tokens, errors };
}

/** Maps offsets to 1-based lines and columns. Line breaks are `\n`, `\r\n` and `\r`, as for Newline. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(readonly source: string) {
    for (let i = 0; i < source.length; i++) {
      const c = source.charCodeAt(i);
      if (c === 10 || (c === 13 && source.charCodeAt(i + 1) !== 10)) this.starts.push(i + 1);
    }
  }

  /** 1-based line and column of `offset` (clamped into the source). */
  position(offset: number): { line: number; column: number } {
    const at = Math.min(Math.max(0, offset), this.source.length);
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: at - this.starts[lo] + 1 };
  }

  /** A span clamped into the source, so diagnostics never point past its end. */
  span(offset: number, length: number): Span {
    const start = Number.isFinite(offset) ? Math.min(Math.max(0, Math.trunc(offset)), this.source.length) : this.source.length;
    const len = Number.isFinite(length) ? Math.min(Math.max(0, Math.trunc(length)), this.source.length - start) : 0;
    return { offset: start, length: len, ...this.position(start) };
  }
}
