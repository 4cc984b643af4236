/**
 * @fileoverview CST → AST: a chevrotain CST visitor that builds the typed
 * nodes of `ast.ts`, each with its span, and turns number literals into
 * values (reporting malformed or out-of-range ones as FLOW106).
 *
 * After syntax errors the CST is partial. Leaf constructs (numbers, values,
 * shapes) are all-or-nothing: a broken one is left out rather than guessed.
 * Statements keep whatever intact parts they have, so later passes can still
 * check them; a statement missing its essential part (a shape, a name, a
 * repeat count) is left out. The syntax diagnostics explain every omission.
 */
import { tokenMatcher, type CstNode, type IToken } from "chevrotain";
import type { Arg, FlowFile, ShapeLit, Span, Stmt, Value } from "./ast.ts";
import type { Diagnostic } from "../diagnostics/types.ts";
import { diag } from "../diagnostics/catalogue.ts";
import { BadNumber, LineIndex, Separator } from "./lexer.ts";
import { CstVisitorBase } from "./parser.ts";

// Children of each rule's CST node, keyed by token or rule name as chevrotain does.
interface StatementsCtx { stmt?: CstNode[] }
interface BlockCtx extends StatementsCtx { LCurly?: IToken[]; RCurly?: IToken[] }
interface StmtCtx {
  inputStmt?: CstNode[];
  contextStmt?: CstNode[];
  baseStmt?: CstNode[];
  repeatStmt?: CstNode[];
  layerStmt?: CstNode[];
}
interface InputStmtCtx { Input?: IToken[]; shape?: CstNode[] }
interface ContextStmtCtx { Context?: IToken[]; shape?: CstNode[] }
interface BaseStmtCtx { Base?: IToken[]; Name?: IToken[]; arg?: CstNode[] }
interface RepeatStmtCtx { Repeat?: IToken[]; Int?: IToken[]; block?: CstNode[] }
interface LayerStmtCtx { Name?: IToken[]; arg?: CstNode[] }
interface ArgCtx { Name?: IToken[]; Equals?: IToken[]; value?: CstNode[] }
interface ValueCtx { Int?: IToken[]; Float?: IToken[]; Name?: IToken[]; callArgs?: CstNode[]; list?: CstNode[] }
interface CallArgsCtx { LParen?: IToken[]; namedValue?: CstNode[]; RParen?: IToken[] }
interface ListCtx { LBracket?: IToken[]; value?: CstNode[]; RBracket?: IToken[] }
interface ShapeCtx { LBracket?: IToken[]; Int?: IToken[]; RBracket?: IToken[] }

type Num = { value: number; text: string; span: Span };

const MAX_EXACT_INT = 2n ** 53n;

/** A token the lexer produced, as opposed to one invented by error recovery. */
function real(tok: IToken | undefined): tok is IToken {
  return tok !== undefined && !tok.isInsertedInRecovery && Number.isFinite(tok.startOffset);
}

class AstBuilder extends CstVisitorBase {
  readonly diagnostics: Diagnostic[] = [];

  /** Offsets of the `{` tokens that open blocks, registered before the blocks' statements are visited. */
  private readonly blockOpeners = new Set<number>();

  constructor(
    private readonly lines: LineIndex,
    private readonly tokens: IToken[],
    /** Where the parser found syntax errors, ascending. */
    private readonly errorOffsets: number[],
    private readonly filename: string,
  ) {
    super();
    this.validateVisitor();
  }

  file(ctx: StatementsCtx): Stmt[] {
    return this.statements(ctx);
  }

  block(ctx: BlockCtx): Stmt[] {
    const open = ctx.LCurly?.[0];
    if (real(open)) this.blockOpeners.add(open.startOffset);
    return this.statements(ctx);
  }

  stmt(ctx: StmtCtx): Stmt | undefined {
    const node = ctx.inputStmt ?? ctx.contextStmt ?? ctx.baseStmt ?? ctx.repeatStmt ?? ctx.layerStmt;
    const stmt: Stmt | undefined = node ? this.visit(node) : undefined;
    // A statement the parser only reached by skipping junk after an error on
    // the same line (`f(x=1)` read as `f`, junk, `x`) is an artefact of recovery.
    return stmt && this.startsStatement(stmt.span.offset) ? stmt : undefined;
  }

  stmtEnd(): void {}

  inputStmt(ctx: InputStmtCtx): Stmt | undefined {
    const keyword = ctx.Input?.[0];
    const shape = this.visitIntact<ShapeLit>(ctx.shape);
    if (!real(keyword) || !shape) return undefined;
    const keywordSpan = this.tokenSpan(keyword);
    return { kind: "input", shape, keywordSpan, span: this.join(keywordSpan, shape.span) };
  }

  contextStmt(ctx: ContextStmtCtx): Stmt | undefined {
    const keyword = ctx.Context?.[0];
    const shape = this.visitIntact<ShapeLit>(ctx.shape);
    if (!real(keyword) || !shape) return undefined;
    const keywordSpan = this.tokenSpan(keyword);
    return { kind: "context", shape, keywordSpan, span: this.join(keywordSpan, shape.span) };
  }

  baseStmt(ctx: BaseStmtCtx): Stmt | undefined {
    const keyword = ctx.Base?.[0];
    const name = ctx.Name?.[0];
    if (!real(keyword) || !real(name)) return undefined;
    const keywordSpan = this.tokenSpan(keyword);
    const nameSpan = this.tokenSpan(name);
    const args = this.args(ctx.arg);
    const span = this.join(keywordSpan, args.at(-1)?.span ?? nameSpan);
    return { kind: "base", name: name.image, nameSpan, args, keywordSpan, span };
  }

  repeatStmt(ctx: RepeatStmtCtx): Stmt | undefined {
    const keyword = ctx.Repeat?.[0];
    const countTok = ctx.Int?.[0];
    const count = real(countTok) ? this.integer(countTok) : undefined;
    const blockNode = ctx.block?.[0];
    // The body is visited even when the repeat is dropped, so that its own problems are reported.
    const body: Stmt[] = blockNode ? this.visit(blockNode) : [];
    const { LCurly: [open] = [], RCurly: [close] = [] } = (blockNode?.children ?? {}) as BlockCtx;
    if (!real(keyword) || !count || !real(open)) return undefined;
    const keywordSpan = this.tokenSpan(keyword);
    const end = real(close) ? this.tokenSpan(close) : (body.at(-1)?.span ?? this.tokenSpan(open));
    return { kind: "repeat", count: count.value, countSpan: count.span, body, keywordSpan, span: this.join(keywordSpan, end) };
  }

  layerStmt(ctx: LayerStmtCtx): Stmt | undefined {
    const name = ctx.Name?.[0];
    if (!real(name)) return undefined;
    const nameSpan = this.tokenSpan(name);
    const args = this.args(ctx.arg);
    return { kind: "layer", name: name.image, nameSpan, args, span: this.join(nameSpan, args.at(-1)?.span ?? nameSpan) };
  }

  arg(ctx: ArgCtx): Arg | undefined {
    const name = ctx.Name?.[0];
    if (!real(name)) return undefined;
    const nameSpan = this.tokenSpan(name);
    // `mask=` without a usable value is left out: read as the flag `mask` it would mean something else.
    if (!ctx.Equals) return { name: name.image, nameSpan, span: nameSpan };
    const value = this.visitIntact<Value>(ctx.value);
    if (!value) return undefined;
    return { name: name.image, nameSpan, value, span: this.join(nameSpan, value.span) };
  }

  value(ctx: ValueCtx): Value | undefined {
    if (ctx.Int) {
      const n = real(ctx.Int[0]) ? this.integer(ctx.Int[0]) : undefined;
      return n && { kind: "int", ...n };
    }
    if (ctx.Float) {
      const n = real(ctx.Float[0]) ? this.float(ctx.Float[0]) : undefined;
      return n && { kind: "float", ...n };
    }
    if (ctx.list) return this.visitIntact(ctx.list);
    const name = ctx.Name?.[0];
    if (!real(name)) return undefined;
    const nameSpan = this.tokenSpan(name);
    if (!ctx.callArgs) return { kind: "name", value: name.image, span: nameSpan };
    const call = this.visitIntact<{ args: Arg[] | undefined; close: Span }>(ctx.callArgs);
    if (!call?.args) return undefined;
    const { args, close } = call;
    const span = this.join(nameSpan, close);
    if (this.hasErrorIn(span)) return undefined;
    return { kind: "call", name: name.image, nameSpan, args, span };
  }

  callArgs(ctx: CallArgsCtx): { args: Arg[] | undefined; close: Span } {
    const items = (ctx.namedValue ?? []).map((node) => this.visitIntact<Arg>([node]));
    const args = items.every((a) => a !== undefined) ? (items as Arg[]) : undefined;
    return { args, close: this.closingSpan(ctx.RParen?.[0], args?.at(-1)?.span, ctx.LParen?.[0]) };
  }

  namedValue(ctx: ArgCtx): Arg | undefined {
    const name = ctx.Name?.[0];
    const value = this.visitIntact<Value>(ctx.value);
    if (!real(name) || !value) return undefined;
    const nameSpan = this.tokenSpan(name);
    return { name: name.image, nameSpan, value, span: this.join(nameSpan, value.span) };
  }

  list(ctx: ListCtx): Value | undefined {
    const open = ctx.LBracket?.[0];
    if (!real(open)) return undefined;
    const items = (ctx.value ?? []).map((node) => this.visitIntact<Value>([node]));
    if (items.length === 0 || items.some((v) => v === undefined)) return undefined;
    const span = this.join(this.tokenSpan(open), this.closingSpan(ctx.RBracket?.[0], items.at(-1)?.span, open));
    return this.hasErrorIn(span) ? undefined : { kind: "list", items: items as Value[], span };
  }

  shape(ctx: ShapeCtx): ShapeLit | undefined {
    const open = ctx.LBracket?.[0];
    if (!real(open)) return undefined;
    const dims = (ctx.Int ?? []).map((tok) => (real(tok) ? this.integer(tok) : undefined));
    if (dims.length === 0 || dims.some((d) => d === undefined)) return undefined;
    const span = this.join(this.tokenSpan(open), this.closingSpan(ctx.RBracket?.[0], dims.at(-1)?.span, open));
    return this.hasErrorIn(span) ? undefined : { dims: dims as Num[], span };
  }

  /** True if the token before `offset` is a separator or `{`, or there is none: where statements begin. */
  private startsStatement(offset: number): boolean {
    let lo = 0;
    let hi = this.tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.tokens[mid].startOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    const before = this.tokens[lo - 1];
    return before === undefined || tokenMatcher(before, Separator) || this.blockOpeners.has(before.startOffset);
  }

  /**
   * True if a syntax error lies inside `span`. Recovery may have deleted a
   * stray token there (`[1, 28 28]` reads as `[1, 28]`), which leaves no trace
   * in the CST, so the error positions are the only witness.
   */
  private hasErrorIn(span: Span): boolean {
    let lo = 0;
    let hi = this.errorOffsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.errorOffsets[mid] < span.offset) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.errorOffsets.length && this.errorOffsets[lo] < span.offset + span.length;
  }

  private statements(ctx: StatementsCtx): Stmt[] {
    return (ctx.stmt ?? []).map((node) => this.visit(node) as Stmt | undefined).filter((s): s is Stmt => s !== undefined);
  }

  private args(nodes: CstNode[] | undefined): Arg[] {
    return (nodes ?? []).map((node) => this.visit(node) as Arg | undefined).filter((a): a is Arg => a !== undefined);
  }

  /**
   * Visit the first of `nodes` and return its result only if recovery left it
   * whole. Broken nodes are still visited so their own problems are reported.
   */
  private visitIntact<T>(nodes: CstNode[] | undefined): T | undefined {
    const node = nodes?.[0];
    if (!node) return undefined;
    const result: T | undefined = this.visit(node);
    return node.recoveredNode ? undefined : result;
  }

  /** Whole numbers are exact up to 2^53; beyond that a value would silently change, so it is an error. */
  private integer(tok: IToken): Num | undefined {
    const span = this.tokenSpan(tok);
    if (tokenMatcher(tok, BadNumber)) {
      return this.badNumber(tok, span, "it is not a number", "write a number as digits with at most one '.' and an optional exponent, e.g. 8, 0.05 or 1e-3; a name cannot start with a digit");
    }
    const big = BigInt(tok.image);
    if (big > MAX_EXACT_INT || big < -MAX_EXACT_INT) {
      return this.badNumber(tok, span, "whole numbers must lie within ±2^53 (9007199254740992) to be exact", "use a smaller number");
    }
    return { value: Number(big), text: tok.image, span };
  }

  private float(tok: IToken): Num | undefined {
    const span = this.tokenSpan(tok);
    const value = Number(tok.image);
    if (!Number.isFinite(value)) return this.badNumber(tok, span, "it is too large to represent", "use a smaller number");
    return { value: Object.is(value, -0) ? 0 : value, text: tok.image, span };
  }

  private badNumber(tok: IToken, span: Span, reason: string, hint: string): undefined {
    this.diagnostics.push(diag("FLOW106", { text: tok.image, reason }, span, { filename: this.filename, hint }));
    return undefined;
  }

  /** The closing bracket's span, or, if recovery invented it, the end of what came before. */
  private closingSpan(close: IToken | undefined, lastItem: Span | undefined, open: IToken | undefined): Span {
    if (real(close)) return this.tokenSpan(close);
    if (lastItem) return lastItem;
    return real(open) ? this.tokenSpan(open) : this.lines.span(0, 0);
  }

  private tokenSpan(tok: IToken): Span {
    return this.lines.span(tok.startOffset, tok.image.length);
  }

  private join(first: Span, last: Span): Span {
    return this.lines.span(first.offset, last.offset + last.length - first.offset);
  }
}

/** Build the AST from the CST of `tokens`, given where the parser found errors; number problems come back as diagnostics. */
export function buildAst(
  cst: CstNode,
  tokens: IToken[],
  errorOffsets: number[],
  source: string,
  filename: string,
  lines = new LineIndex(source),
): { file: FlowFile; diagnostics: Diagnostic[] } {
  const builder = new AstBuilder(lines, tokens, [...errorOffsets].sort((a, b) => a - b), filename);
  const stmts: Stmt[] = builder.visit(cst);
  return { file: { filename, source, stmts, span: lines.span(0, source.length) }, diagnostics: builder.diagnostics };
}
