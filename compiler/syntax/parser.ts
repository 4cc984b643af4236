/**
 * @fileoverview The `.flow` grammar as a chevrotain CstParser. It builds a
 * concrete syntax tree only; `ast-builder.ts` gives it meaning. The grammar
 * knows the keywords `input`, `context`, `base` and `repeat` and no layer
 * names. Error recovery is on so that one run reports every syntax error;
 * errors come back as structured `SyntaxProblem`s, which `index.ts` words as
 * diagnostics.
 */
import {
  CstParser,
  EOF,
  tokenMatcher,
  type CstNode,
  type IParserErrorMessageProvider,
  type IRecognitionException,
  type IToken,
  type TokenType,
} from "chevrotain";
import {
  allTokens,
  Base,
  Comma,
  Context,
  Equals,
  Float,
  Input,
  Int,
  LBracket,
  LCurly,
  LParen,
  Name,
  Newline,
  RBracket,
  RCurly,
  Repeat,
  RParen,
  Separator,
} from "./lexer.ts";

/** A syntax error as data: what the parser wanted, what it found, and where it was. */
export interface SyntaxProblem {
  kind: "mismatch" | "noViableAlt" | "earlyExit" | "notAllInput";
  /** Token types any of which would have been accepted. */
  expected: TokenType[];
  /** The offending token; EOF's has no offset. */
  actual: IToken;
  /** The token before it, if any. */
  previous?: IToken;
  /** Rules being parsed, outermost first (e.g. `["file", "stmt", "layerStmt", "arg", "value"]`). */
  ruleStack: string[];
}

/**
 * Chevrotain only keeps a message string on its exceptions, so the message is
 * a key into this table of structured problems, filled during one parse.
 */
class ProblemRecorder implements IParserErrorMessageProvider {
  problems: Omit<SyntaxProblem, "ruleStack">[] = [];

  private record(problem: Omit<SyntaxProblem, "ruleStack">): string {
    this.problems.push(problem);
    return String(this.problems.length - 1);
  }

  buildMismatchTokenMessage(o: { expected: TokenType; actual: IToken; previous: IToken }): string {
    return this.record({ kind: "mismatch", expected: [o.expected], actual: o.actual, previous: o.previous });
  }
  buildNotAllInputParsedMessage(o: { firstRedundant: IToken }): string {
    return this.record({ kind: "notAllInput", expected: [EOF], actual: o.firstRedundant });
  }
  buildNoViableAltMessage(o: { expectedPathsPerAlt: TokenType[][][]; actual: IToken[]; previous: IToken }): string {
    const expected = o.expectedPathsPerAlt.flatMap((paths) => paths.map((path) => path[0]).filter(Boolean));
    return this.record({ kind: "noViableAlt", expected, actual: o.actual[0], previous: o.previous });
  }
  buildEarlyExitMessage(o: { expectedIterationPaths: TokenType[][]; actual: IToken[]; previous: IToken }): string {
    const expected = o.expectedIterationPaths.map((path) => path[0]).filter(Boolean);
    return this.record({ kind: "earlyExit", expected, actual: o.actual[0], previous: o.previous });
  }
}

class FlowParser extends CstParser {
  constructor(readonly recorder: ProblemRecorder) {
    super(allTokens, { recoveryEnabled: true, errorMessageProvider: recorder });
    this.performSelfAnalysis();
  }

  /** file := (separator | stmt stmtEnd)* */
  file = this.RULE("file", () => {
    // The statement loop must be the top rule's last element: chevrotain then
    // skips stray tokens and re-enters the loop instead of giving up at EOF.
    this.statements();
  });

  /** block := '{' (separator | stmt stmtEnd)* '}' */
  block = this.RULE("block", () => {
    this.CONSUME(LCurly);
    this.statements();
    this.CONSUME(RCurly);
  });

  stmt = this.RULE("stmt", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.inputStmt) },
      { ALT: () => this.SUBRULE(this.contextStmt) },
      { ALT: () => this.SUBRULE(this.baseStmt) },
      { ALT: () => this.SUBRULE(this.repeatStmt) },
      { ALT: () => this.SUBRULE(this.layerStmt) },
    ]);
  });

  /**
   * A statement ends at a separator, or right before `}` or the end of the
   * file. Being its own rule, a failure here ("two statements on one line")
   * re-synchronises at the next statement instead of losing the line.
   */
  stmtEnd = this.RULE("stmtEnd", () => {
    this.OR([
      { ALT: () => this.CONSUME(Separator) },
      { GATE: () => this.atBlockOrFileEnd(), ALT: () => {} },
    ]);
  });

  inputStmt = this.RULE("inputStmt", () => {
    this.CONSUME(Input);
    this.SUBRULE(this.shape);
  });

  contextStmt = this.RULE("contextStmt", () => {
    this.CONSUME(Context);
    this.SUBRULE(this.shape);
  });

  baseStmt = this.RULE("baseStmt", () => {
    this.CONSUME(Base);
    this.CONSUME(Name);
    this.MANY(() => this.SUBRULE(this.arg));
  });

  repeatStmt = this.RULE("repeatStmt", () => {
    this.CONSUME(Repeat);
    this.CONSUME(Int);
    this.skipNewlinesBefore(1, LCurly);
    this.SUBRULE(this.block);
  });

  layerStmt = this.RULE("layerStmt", () => {
    this.CONSUME(Name);
    this.MANY(() => this.SUBRULE(this.arg));
  });

  /** arg := Name ('=' value)? */
  arg = this.RULE("arg", () => {
    this.CONSUME(Name);
    this.OPTION(() => {
      this.CONSUME(Equals);
      this.SUBRULE(this.value);
    });
  });

  value = this.RULE("value", () => {
    this.OR([
      { ALT: () => this.CONSUME(Int) },
      { ALT: () => this.CONSUME(Float) },
      { ALT: () => this.SUBRULE(this.list) },
      {
        // In `mask= net=mlp(...)` the value is missing; `net` names the next option.
        GATE: () => !tokenMatcher(this.LA(2), Equals),
        ALT: () => {
          this.CONSUME(Name);
          this.OPTION(() => this.SUBRULE(this.callArgs));
        },
      },
    ]);
  });

  /** callArgs := '(' (Name '=' value (',' Name '=' value)*)? ')' */
  callArgs = this.RULE("callArgs", () => {
    this.CONSUME(LParen);
    this.skipNewlines(1);
    this.OPTION(() => {
      this.SUBRULE(this.namedValue);
      this.skipNewlinesBefore(2, Comma, RParen);
      this.MANY(() => {
        this.CONSUME(Comma);
        this.skipNewlines(3);
        this.SUBRULE2(this.namedValue);
        this.skipNewlinesBefore(4, Comma, RParen);
      });
    });
    this.CONSUME(RParen);
  });

  namedValue = this.RULE("namedValue", () => {
    this.CONSUME(Name);
    this.CONSUME(Equals);
    this.SUBRULE(this.value);
  });

  /** list := '[' value (',' value)* ']' */
  list = this.RULE("list", () => {
    this.CONSUME(LBracket);
    this.skipNewlines(1);
    this.SUBRULE(this.value);
    this.skipNewlinesBefore(2, Comma, RBracket);
    this.MANY(() => {
      this.CONSUME(Comma);
      this.skipNewlines(3);
      this.SUBRULE2(this.value);
      this.skipNewlinesBefore(4, Comma, RBracket);
    });
    this.CONSUME(RBracket);
  });

  /** shape := '[' Int (',' Int)* ']' */
  shape = this.RULE("shape", () => {
    this.CONSUME(LBracket);
    this.skipNewlines(1);
    this.CONSUME(Int);
    this.skipNewlinesBefore(2, Comma, RBracket);
    this.MANY(() => {
      this.CONSUME(Comma);
      this.skipNewlines(3);
      this.CONSUME2(Int);
      this.skipNewlinesBefore(4, Comma, RBracket);
    });
    this.CONSUME(RBracket);
  });

  /**
   * Only closing brackets are invented during recovery: they carry no
   * meaning. An invented `[` or `{` would swallow the following lines into a
   * phantom shape or block, and an invented number or name would be a guess.
   */
  protected override canTokenTypeBeInsertedInRecovery(tokType: TokenType): boolean {
    return tokType === RParen || tokType === RBracket || tokType === RCurly;
  }

  private statements(): void {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(Separator) },
        {
          ALT: () => {
            this.SUBRULE(this.stmt);
            this.SUBRULE(this.stmtEnd);
          },
        },
      ]);
    });
  }

  /** After an opening bracket or a comma the construct is unfinished, so a line break there continues it. */
  private skipNewlines(idx: number): void {
    this.option(100 + idx, () => this.consume(100 + idx, Newline));
  }

  /**
   * Before a comma or a closing bracket a line break continues the construct
   * only if that token follows. Otherwise the newline is left to end the
   * statement, so a missing `)` is reported on its own line and the next
   * statement still parses.
   */
  private skipNewlinesBefore(idx: number, ...continuations: TokenType[]): void {
    this.option(110 + idx, {
      GATE: () => continuations.some((t) => tokenMatcher(this.LA(2), t)),
      DEF: () => this.consume(110 + idx, Newline),
    });
  }

  private atBlockOrFileEnd(): boolean {
    const next = this.LA(1);
    return tokenMatcher(next, RCurly) || tokenMatcher(next, EOF);
  }
}

/** The one parser instance: chevrotain's grammar analysis is slow, so it is built once and reused. */
const parser = new FlowParser(new ProblemRecorder());

/** Base class for visitors of this grammar's CST (see ast-builder.ts). */
export const CstVisitorBase = parser.getBaseCstVisitorConstructor();

/** Parse a token stream into a CST, with every syntax error as a `SyntaxProblem`. */
export function parseTokens(tokens: IToken[]): { cst: CstNode | undefined; problems: SyntaxProblem[] } {
  parser.recorder.problems = [];
  parser.input = tokens;
  const cst = parser.file();
  const table = parser.recorder.problems;
  const problems = parser.errors.map((e: IRecognitionException): SyntaxProblem => {
    const recorded = table[Number(e.message)];
    const ruleStack = e.context?.ruleStack ?? [];
    // Every message comes from the recorder; the fallback only guards against a chevrotain change.
    return recorded ? { ...recorded, ruleStack } : { kind: "mismatch", expected: [], actual: e.token, ruleStack };
  });
  return { cst, problems };
}
