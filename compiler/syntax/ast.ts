/**
 * @fileoverview The typed AST of a `.flow` file. Every node carries a span so
 * that later passes can point diagnostics at the exact source text. The AST
 * knows no layer names: a layer statement is just a name with arguments; the
 * layer registry gives it meaning.
 */

/** A source range. `line` and `column` are 1-based; `offset` and `length` count UTF-16 units. */
export interface Span {
  offset: number;
  length: number;
  line: number;
  column: number;
}

export type Value =
  | { kind: "int"; value: number; text: string; span: Span }
  | { kind: "float"; value: number; text: string; span: Span }
  | { kind: "name"; value: string; span: Span }
  /** `mlp(hidden=64, depth=2)` */
  | { kind: "call"; name: string; nameSpan: Span; args: Arg[]; span: Span }
  /** `[1, 2, 3]` */
  | { kind: "list"; items: Value[]; span: Span };

/** `lu` (a flag: no value) or `mask=checker` (an option). */
export interface Arg {
  name: string;
  nameSpan: Span;
  value?: Value;
  span: Span;
}

export interface ShapeLit {
  dims: { value: number; text: string; span: Span }[];
  span: Span;
}

export type Stmt =
  | { kind: "input"; shape: ShapeLit; keywordSpan: Span; span: Span }
  | { kind: "context"; shape: ShapeLit; keywordSpan: Span; span: Span }
  | { kind: "base"; name: string; nameSpan: Span; args: Arg[]; keywordSpan: Span; span: Span }
  | { kind: "repeat"; count: number; countSpan: Span; body: Stmt[]; keywordSpan: Span; span: Span }
  | { kind: "layer"; name: string; nameSpan: Span; args: Arg[]; span: Span };

export interface FlowFile {
  filename: string;
  source: string;
  stmts: Stmt[];
  /** Span covering the whole file (used for file-level errors such as "empty file"). */
  span: Span;
}
