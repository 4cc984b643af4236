/**
 * @fileoverview The syntax front-end's entry point: `parse()` lexes, parses
 * and builds the AST of a `.flow` file, and words every lexing and parsing
 * error as a FLOW1xx diagnostic. It never throws.
 */
import { EOF, tokenMatcher, type ILexingError, type IToken, type TokenType } from "chevrotain";
import type { FlowFile, Span } from "./ast.ts";
import type { Diagnostic } from "../diagnostics/types.ts";
import { diag } from "../diagnostics/catalogue.ts";
import {
  Base,
  Context,
  Equals,
  Float,
  Input,
  Int,
  LBracket,
  LCurly,
  LineIndex,
  LParen,
  Name,
  Newline,
  RBracket,
  RCurly,
  Repeat,
  RParen,
  Separator,
  tokenize,
} from "./lexer.ts";
import { parseTokens, type SyntaxProblem } from "./parser.ts";
import { buildAst } from "./ast-builder.ts";

export type { FlowFile } from "./ast.ts";

export interface ParseResult {
  /**
   * The AST; null only if nothing could be built. With syntax errors it is
   * partial: broken pieces are left out (see ast-builder.ts).
   */
  file: FlowFile | null;
  /** FLOW1xx diagnostics, in source order; a FLOW500 if the front-end itself failed. */
  diagnostics: Diagnostic[];
}

/** Lex, parse and build the AST of `source`. Never throws: every problem is a diagnostic. */
export function parse(source: string, filename = "<input>"): ParseResult {
  try {
    return parseSource(source, filename);
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    return { file: null, diagnostics: [diag("FLOW500", { detail: `syntax front-end: ${detail}` }, undefined, { filename })] };
  }
}

function parseSource(source: string, filename: string): ParseResult {
  const lines = new LineIndex(source);
  const { tokens, errors: lexErrors } = tokenize(source);
  const explainer = new ProblemExplainer(source, lines, tokens, filename);
  const lexical = lexErrors.map((e) => explainer.lexError(e));

  // The parser recurses once per bracket level; refuse absurd nesting rather than overflow the stack.
  const tooDeep = tokens.find(nestingBeyond(MAX_NESTING));
  if (tooDeep) return { file: null, diagnostics: [...lexical, explainer.tooDeep(tooDeep)] };

  const { cst, problems } = parseTokens(tokens);
  const unclosed = explainer.unclosedBlocks();
  // An unclosed block is reported at its '{' (FLOW103); the parser's own complaint at EOF would repeat it.
  const parsing = problems
    .filter((p) => !(unclosed.length > 0 && tokenMatcher(p.actual, EOF) && p.expected.includes(RCurly)))
    .map((p) => explainer.problem(p));

  const errorOffsets = problems.map((p) => p.actual.startOffset).filter(Number.isFinite);
  const built = cst ? buildAst(cst, tokens, errorOffsets, source, filename, lines) : undefined;
  const diagnostics = [...lexical, ...unclosed, ...firstPerLine(lexical, parsing), ...(built?.diagnostics ?? [])];

  const hasContent = lexErrors.length > 0 || tokens.some((t) => !tokenMatcher(t, Separator));
  if (!hasContent) diagnostics.push(diag("FLOW107", {}, lines.span(0, 0), { filename }));

  diagnostics.sort((a, b) => (a.span?.offset ?? 0) - (b.span?.offset ?? 0));
  return { file: built?.file ?? null, diagnostics };
}

/** Deepest nesting of brackets and braces accepted. Real flows use two or three levels. */
const MAX_NESTING = 32;

/** A predicate, for tokens in order, that is true at the first opening bracket nested deeper than `max`. */
function nestingBeyond(max: number): (tok: IToken) => boolean {
  let depth = 0;
  return (tok) => {
    if (tokenMatcher(tok, LCurly) || tokenMatcher(tok, LBracket) || tokenMatcher(tok, LParen)) return ++depth > max;
    if (tokenMatcher(tok, RCurly) || tokenMatcher(tok, RBracket) || tokenMatcher(tok, RParen)) depth = Math.max(0, depth - 1);
    return false;
  };
}

/**
 * One mistake often derails the parser for the rest of its line; only the
 * first parse error of a line is kept, and none on a line where a lexing
 * error (the likely cause) already stands.
 */
function firstPerLine(lexical: Diagnostic[], parsing: Diagnostic[]): Diagnostic[] {
  const lexLines = new Set(lexical.map((d) => d.span?.line));
  const seen = new Set<number | undefined>();
  const kept: Diagnostic[] = [];
  for (const d of [...parsing].sort((a, b) => (a.span?.offset ?? 0) - (b.span?.offset ?? 0))) {
    const line = d.span?.line;
    if (seen.has(line) || lexLines.has(line)) continue;
    seen.add(line);
    kept.push(d);
  }
  return kept;
}

/** Each kind of bracket, with the grammar rules that open one (so a closer inside them has something to close). */
const BRACKETS = [
  { open: "(", close: ")", closer: RParen, rules: ["callArgs"] },
  { open: "[", close: "]", closer: RBracket, rules: ["shape", "list"] },
  { open: "{", close: "}", closer: RCurly, rules: ["block"] },
];

const VALUE_HINT = "a value is a number (8, 0.05), a name (checker), a call (mlp(hidden=64)) or a list ([1, 2])";

/** Words chevrotain's lexing and parsing errors as diagnostics, with spans inside the source. */
class ProblemExplainer {
  constructor(
    private readonly source: string,
    private readonly lines: LineIndex,
    private readonly tokens: IToken[],
    private readonly filename: string,
  ) {}

  lexError(e: ILexingError): Diagnostic {
    const text = this.source.slice(e.offset, e.offset + e.length);
    const chars = [...text];
    const noun = chars.length === 1 ? "character" : "characters";
    const shown = chars.every(printable) ? `'${text}'` : chars.map(describeChar).join(" ");
    return this.diag("FLOW101", { noun, text: shown }, this.lines.span(e.offset, e.length), charHint(chars[0] ?? ""));
  }

  /** Every `{` of a `repeat` block that no `}` closes. */
  unclosedBlocks(): Diagnostic[] {
    const open: number[] = [];
    this.tokens.forEach((tok, i) => {
      if (tokenMatcher(tok, LCurly)) open.push(i);
      else if (tokenMatcher(tok, RCurly)) open.pop();
    });
    return open.filter((i) => this.opensRepeatBlock(i)).map((i) => this.diag("FLOW103", {}, this.tokenSpan(this.tokens[i])));
  }

  /** `repeat N {`, with perhaps a line break before the brace. */
  private opensRepeatBlock(i: number): boolean {
    let k = i - 1;
    if (k >= 0 && tokenMatcher(this.tokens[k], Newline)) k--;
    return k >= 1 && tokenMatcher(this.tokens[k], Int) && tokenMatcher(this.tokens[k - 1], Repeat);
  }

  tooDeep(tok: IToken): Diagnostic {
    return this.diag("FLOW110", { max: MAX_NESTING }, this.tokenSpan(tok));
  }

  problem(p: SyntaxProblem): Diagnostic {
    const { actual, previous } = p;
    const span = this.spanOf(p);
    const found = describeToken(actual);
    const rule = p.ruleStack.at(-1) ?? "file";
    const after = previous && isReal(previous) && !tokenMatcher(previous, Separator) ? ` after '${clip(previous.image)}'` : "";
    const expects = (t: TokenType) => p.expected.includes(t);

    const stray = BRACKETS.find((b) => tokenMatcher(actual, b.closer));
    if (stray && !stray.rules.some((r) => p.ruleStack.includes(r))) {
      const innermostRule = [...p.ruleStack].reverse().find((r) => BRACKETS.some((b) => b.rules.includes(r)));
      const open = BRACKETS.find((b) => innermostRule && b.rules.includes(innermostRule));
      // Only suggest the right closer where the parser was in fact waiting for it.
      const hint = open && p.expected.includes(open.closer) ? `the innermost open bracket here is '${open.open}': close it with '${open.close}'` : undefined;
      return this.diag("FLOW104", { bracket: stray.close, opener: stray.open }, span, hint);
    }

    switch (rule) {
      case "shape":
        if (expects(LBracket)) {
          const keyword = previous && isReal(previous) && (tokenMatcher(previous, Input) || tokenMatcher(previous, Context)) ? previous.image : "input";
          return this.diag("FLOW105", { keyword, found }, span);
        }
        if (expects(Int)) {
          const expected = tokenMatcher(actual, RBracket) ? "at least one dimension in the shape" : `a whole number for a dimension of the shape${after}`;
          return this.expected(expected, found, span, "a shape lists whole numbers separated by commas, e.g. [1, 28, 28]");
        }
        return this.expected(`',' or ']'${after}`, found, span, "separate the dimensions with commas and close the shape with ']', e.g. [1, 28, 28]");
      case "list":
        return this.expected(`',' or ']'${after}`, found, span, "separate the items with commas and close the list with ']', e.g. [1, 2, 3]");
      case "callArgs":
        return this.expected(`',' or ')'${after}`, found, span, "separate the options with commas and close them with ')', e.g. mlp(hidden=64, depth=2)");
      case "namedValue":
        if (expects(Equals)) return this.expected(`'='${after}`, found, span, "options inside parentheses are written name=value, e.g. mlp(hidden=64, depth=2)");
        return this.expected(`an option name${after}`, found, span, "options inside parentheses are written name=value, e.g. mlp(hidden=64, depth=2)");
      case "value": {
        const nextOption = tokenMatcher(actual, Name) && tokenMatcher(this.tokenAfter(actual) ?? actual, Equals);
        return this.expected(`a value${after}`, nextOption ? `the next option, '${clip(actual.image)}='` : found, span, VALUE_HINT);
      }
      case "baseStmt":
        return this.expected(`the name of the base distribution${after}`, found, span, "e.g. `base normal`, `base logistic` or `base normal learned`");
      case "repeatStmt":
        return this.diag("FLOW108", { found }, span);
      case "block":
        if (expects(LCurly)) return this.diag("FLOW108", { found }, span);
        return this.expected("a statement or '}'", found, span, "inside the braces write statements such as `actnorm` or `coupling affine mask=checker`");
      case "stmtEnd":
        return this.statementEnd(actual, previous, span);
      default:
        return this.expected("a statement", found, span, "a statement starts with a layer name or with input, context, base or repeat");
    }
  }

  private statementEnd(actual: IToken, previous: IToken | undefined, span: Span): Diagnostic {
    const found = describeToken(actual);
    if ([Name, Input, Context, Base, Repeat].some((t) => tokenMatcher(actual, t))) return this.diag("FLOW109", { found }, span);
    const expected = "the end of the statement (a new line or ';')";
    if (tokenMatcher(actual, Equals)) {
      return this.expected(expected, found, span, "'=' belongs between an option's name and its value, after the layer name: e.g. `coupling mask=checker`");
    }
    if (tokenMatcher(actual, Int) || tokenMatcher(actual, Float)) {
      return this.expected(expected, found, span, "a number needs an option name: write name=value, e.g. hidden=64");
    }
    if (tokenMatcher(actual, LParen)) {
      const hint = previous && tokenMatcher(previous, Name)
        ? `only an option's value can take parentheses: write e.g. net=${clip(previous.image)}(hidden=64)`
        : "only an option's value can take parentheses, e.g. net=mlp(hidden=64)";
      return this.expected(expected, found, span, hint);
    }
    if (tokenMatcher(actual, LBracket)) {
      return this.expected(expected, found, span, "a list in brackets must be an option's value (name=[1, 2]) or the shape after input or context");
    }
    return this.expected(expected, found, span, "put each statement on its own line, or separate them with ';'");
  }

  /**
   * Where to point: at the offending token, or, when that is a line break or
   * the end of the file, just after the last token before it, so the caret
   * sits where something is missing.
   */
  private spanOf(p: SyntaxProblem): Span {
    const { actual } = p;
    if (isReal(actual) && !tokenMatcher(actual, Newline)) return this.tokenSpan(actual);
    const limit = isReal(actual) ? actual.startOffset : this.source.length;
    const before = this.lastTokenBefore(limit);
    if (before) return this.lines.span(before.startOffset + before.image.length, 0);
    return this.lines.span(isReal(actual) ? actual.startOffset : this.source.length, 0);
  }

  private lastTokenBefore(offset: number): IToken | undefined {
    for (let i = this.indexAt(offset) - 1; i >= 0; i--) if (!tokenMatcher(this.tokens[i], Newline)) return this.tokens[i];
    return undefined;
  }

  private tokenAfter(tok: IToken): IToken | undefined {
    return this.tokens[this.indexAt(tok.startOffset) + 1];
  }

  /** Index of the first token starting at or after `offset`. */
  private indexAt(offset: number): number {
    let lo = 0;
    let hi = this.tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.tokens[mid].startOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private expected(expected: string, found: string, span: Span, hint: string): Diagnostic {
    return this.diag("FLOW102", { expected, found }, span, hint);
  }

  private diag(code: string, args: Record<string, unknown>, span: Span, hint?: string): Diagnostic {
    return diag(code, args, span, { filename: this.filename, hint });
  }

  private tokenSpan(tok: IToken): Span {
    return this.lines.span(tok.startOffset, tok.image.length);
  }
}

function isReal(tok: IToken): boolean {
  return !tok.isInsertedInRecovery && Number.isFinite(tok.startOffset) && tok.tokenType !== EOF;
}

function describeToken(tok: IToken): string {
  if (!isReal(tok)) return "the end of the file";
  if (tokenMatcher(tok, Newline)) return "the end of the line";
  return `'${clip(tok.image)}'`;
}

function clip(text: string): string {
  return text.length > 24 ? `${text.slice(0, 23)}…` : text;
}

function printable(ch: string): boolean {
  return /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}

function describeChar(ch: string): string {
  const hex = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
  return printable(ch) ? `'${ch}'` : `U+${hex}`;
}

function charHint(ch: string): string | undefined {
  if (/^["'\u2018\u2019\u201C\u201D`]$/.test(ch)) return "names and values are written without quotes, e.g. mask=checker";
  if (ch === ":") return "options are written name=value, e.g. mask=checker";
  if (ch === "-") return "a minus sign must be followed directly by digits, e.g. -2.5";
  if (ch === ".") return "a decimal number needs digits around its point, e.g. 0.5";
  if (ch === "/") return "comments start with # or //";
  if (/^\p{L}$/u.test(ch)) return "names use only the ASCII letters a-z and A-Z, digits and '_'";
  if (/^\s$/u.test(ch)) return "this is an unusual space or line break character; replace it with a plain space or a new line";
  return undefined;
}
