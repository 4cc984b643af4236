/**
 * @fileoverview Property tests of the syntax front-end. Specs generated from
 * the grammar must parse without diagnostics into the AST they were printed
 * from, with spans that point at the right text; arbitrary mutations of
 * realistic specs must never make `parse` throw or report a span outside the
 * source.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parse } from "../compiler/syntax/index.ts";
import type { Arg, FlowFile, Span, Stmt, Value } from "../compiler/syntax/ast.ts";

// ---------------------------------------------------------------------------
// Invariants every parse must satisfy, whatever the input.

/** Line and column of every offset 0..length, counted independently of the implementation. */
function positions(source: string): { line: number; column: number }[] {
  const out: { line: number; column: number }[] = [];
  let line = 1;
  let column = 1;
  for (let i = 0; i <= source.length; i++) {
    out.push({ line, column });
    const c = source[i];
    if (c === "\n" || (c === "\r" && source[i + 1] !== "\n")) {
      line++;
      column = 1;
    } else column++;
  }
  return out;
}

/** Why `span` is not a valid span of `source`, or undefined if it is. */
function spanProblem(span: Span, source: string, at: { line: number; column: number }[]): string | undefined {
  const { offset, length, line, column } = span;
  if (!Number.isInteger(offset) || !Number.isInteger(length)) return "non-integer offset or length";
  if (offset < 0 || length < 0 || offset + length > source.length) return `outside the source (${source.length} long)`;
  if (at[offset].line !== line || at[offset].column !== column) return `line/column ${line}:${column}, expected ${at[offset].line}:${at[offset].column}`;
  return undefined;
}

/** Every span in the AST, depth first. */
function astSpans(file: FlowFile): Span[] {
  const spans: Span[] = [file.span];
  const value = (v: Value): void => {
    spans.push(v.span);
    if (v.kind === "call") {
      spans.push(v.nameSpan);
      v.args.forEach(arg);
    } else if (v.kind === "list") v.items.forEach(value);
  };
  const arg = (a: Arg): void => {
    spans.push(a.span, a.nameSpan);
    if (a.value) value(a.value);
  };
  const stmt = (s: Stmt): void => {
    spans.push(s.span);
    if (s.kind === "layer") {
      spans.push(s.nameSpan);
      s.args.forEach(arg);
    } else {
      spans.push(s.keywordSpan);
      if (s.kind === "input" || s.kind === "context") spans.push(s.shape.span, ...s.shape.dims.map((d) => d.span));
      if (s.kind === "base") {
        spans.push(s.nameSpan);
        s.args.forEach(arg);
      }
      if (s.kind === "repeat") {
        spans.push(s.countSpan);
        s.body.forEach(stmt);
      }
    }
  };
  file.stmts.forEach(stmt);
  return spans;
}

function checkInvariants(source: string): ReturnType<typeof parse> {
  const result = parse(source, "fuzz.flow");
  const at = positions(source);
  const problems: string[] = [];
  for (const d of result.diagnostics) {
    // A FLOW500 would mean the front-end crashed and caught itself.
    if (!/^FLOW1\d\d$/.test(d.code)) problems.push(`unexpected code ${d.code}: ${d.message}`);
    if (d.filename !== "fuzz.flow") problems.push(`${d.code} without the filename`);
    if (/Expecting|token of type|-->/.test(d.message)) problems.push(`raw parser message: ${d.message}`);
    const bad = d.span ? spanProblem(d.span, source, at) : "no span";
    if (bad) problems.push(`${d.code} span ${JSON.stringify(d.span)}: ${bad}`);
  }
  if (result.file) {
    for (const span of astSpans(result.file)) {
      const bad = spanProblem(span, source, at);
      if (bad) problems.push(`AST span ${JSON.stringify(span)}: ${bad}`);
    }
  }
  expect(problems).toEqual([]);
  return result;
}

// ---------------------------------------------------------------------------
// A model of a spec, printed with random layout, parsed back.

type MValue =
  | { kind: "int"; value: number }
  | { kind: "float"; text: string }
  | { kind: "name"; value: string }
  | { kind: "call"; name: string; args: { name: string; value: MValue }[] }
  | { kind: "list"; items: MValue[] };
type MArg = { name: string; value?: MValue };
type MStmt =
  | { kind: "input" | "context"; dims: number[] }
  | { kind: "base"; name: string; args: MArg[] }
  | { kind: "repeat"; count: number; body: MStmt[] }
  | { kind: "layer"; name: string; args: MArg[] };

const keywords = new Set(["input", "context", "base", "repeat"]);
const name = fc
  .stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/)
  .filter((n) => !keywords.has(n));
const int = fc.integer({ min: -1_000_000, max: 1_000_000 });
const floatText = fc.oneof(
  fc.tuple(fc.nat(999), fc.nat(999)).map(([a, b]) => `${a}.${b}`),
  fc.tuple(fc.nat(99), fc.integer({ min: -9, max: 9 })).map(([a, e]) => `${a}e${e}`),
  fc.nat(999).map((b) => `.${b}`),
  fc.tuple(fc.nat(99), fc.nat(99)).map(([a, b]) => `-${a}.${b}`),
);

const { value } = fc.letrec<{ value: MValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    int.map((v): MValue => ({ kind: "int", value: v })),
    floatText.map((text): MValue => ({ kind: "float", text })),
    name.map((v): MValue => ({ kind: "name", value: v })),
    fc.record({ kind: fc.constant("call" as const), name, args: fc.array(fc.record({ name, value: tie("value") }), { maxLength: 3 }) }),
    fc.record({ kind: fc.constant("list" as const), items: fc.array(tie("value"), { minLength: 1, maxLength: 3 }) }),
  ),
}));
const arg: fc.Arbitrary<MArg> = fc.record({ name, value: fc.option(value, { nil: undefined }) });
const args = fc.array(arg, { maxLength: 4 });

const { stmt } = fc.letrec<{ stmt: MStmt }>((tie) => ({
  stmt: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ kind: fc.constant("layer" as const), name, args }),
    fc.record({ kind: fc.constantFrom("input" as const, "context" as const), dims: fc.array(fc.nat(4096), { minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constant("base" as const), name, args }),
    fc.record({ kind: fc.constant("repeat" as const), count: fc.nat(64), body: fc.array(tie("stmt"), { maxLength: 4 }) }),
  ),
}));

/** Layout choices: where spaces, newlines and comments go. Only valid layouts are generated. */
const layout = fc.record({
  space: fc.constantFrom(" ", "  ", "\t", " \t "),
  separator: fc.constantFrom("\n", ";", " ; ", "\r\n", "\n\n", "\n  # note\n", " // note\n", ";\n"),
  inner: fc.constantFrom("", " ", "\n", "\n  "),
  eol: fc.constantFrom("\n", "\r\n", "\r"),
});
type Layout = typeof layout extends fc.Arbitrary<infer T> ? T : never;

function printValue(v: MValue, l: Layout): string {
  switch (v.kind) {
    case "int":
      return String(v.value);
    case "float":
      return v.text;
    case "name":
      return v.value;
    case "call":
      return `${v.name}(${l.inner}${v.args.map((a) => `${a.name}=${printValue(a.value, l)}`).join(`,${l.inner}`)}${l.inner})`;
    case "list":
      return `[${l.inner}${v.items.map((i) => printValue(i, l)).join(`,${l.inner}`)}${l.inner}]`;
  }
}

function printArgs(list: MArg[], l: Layout): string {
  return list.map((a) => `${l.space}${a.name}${a.value ? `=${printValue(a.value, l)}` : ""}`).join("");
}

function printStmts(list: MStmt[], l: Layout): string {
  return list
    .map((s) => {
      switch (s.kind) {
        case "input":
        case "context":
          return `${s.kind}${l.space}[${l.inner}${s.dims.join(`,${l.inner}`)}${l.inner}]`;
        case "base":
          return `base${l.space}${s.name}${printArgs(s.args, l)}`;
        case "layer":
          return `${s.name}${printArgs(s.args, l)}`;
        case "repeat":
          return `repeat${l.space}${s.count}${l.space}{${l.space}${printStmts(s.body, l)}${l.space}}`;
      }
    })
    .join(l.separator);
}

function modelOfValue(v: Value): MValue {
  switch (v.kind) {
    case "int":
      return { kind: "int", value: v.value };
    case "float":
      return { kind: "float", text: v.text };
    case "name":
      return { kind: "name", value: v.value };
    case "call":
      return { kind: "call", name: v.name, args: v.args.map((a) => ({ name: a.name, value: modelOfValue(a.value!) })) };
    case "list":
      return { kind: "list", items: v.items.map(modelOfValue) };
  }
}

function modelOf(stmts: Stmt[]): MStmt[] {
  const margs = (list: Arg[]): MArg[] => list.map((a) => (a.value ? { name: a.name, value: modelOfValue(a.value) } : { name: a.name }));
  return stmts.map((s): MStmt => {
    switch (s.kind) {
      case "input":
      case "context":
        return { kind: s.kind, dims: s.shape.dims.map((d) => d.value) };
      case "base":
        return { kind: "base", name: s.name, args: margs(s.args) };
      case "layer":
        return { kind: "layer", name: s.name, args: margs(s.args) };
      case "repeat":
        return { kind: "repeat", count: s.count, body: modelOf(s.body) };
    }
  });
}

/** Drop `value: undefined` keys so models compare structurally. */
const normal = (x: unknown) => JSON.parse(JSON.stringify(x));

// ---------------------------------------------------------------------------
// Mutations of realistic specs.

const realistic = [
  `# glow-mnist.flow
input [1, 28, 28]
dequantize uniform bits=8
logit alpha=0.05
squeeze
repeat 8 { actnorm; conv1x1 lu; coupling affine mask=channel net=conv(hidden=128) }
split prior=learned
base normal
`,
  `input [2]
repeat 8 {
  coupling affine mask=half net=mlp(hidden=64, depth=2)
  permute reverse
}
base normal learned
`,
  `// conditional
input [4]
context [3]
repeat 2 { maf affine hidden=[32, 32] depth=2; permute random seed=-7 }
leaky_relu slope=1e-2
base logistic
`,
];

type Mutation =
  | { op: "insert"; at: number; text: string }
  | { op: "delete"; at: number; count: number }
  | { op: "swap"; at: number }
  | { op: "duplicate"; at: number; count: number };

const tricky = fc.constantFrom("{", "}", "(", ")", "[", "]", "=", ",", ";", "\n", "\r", "#", "//", "-", ".", "1e", "9".repeat(30), "repeat", "input", '"', "\u2028", "\uD800", "\t");
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text: fc.oneof(tricky, fc.string({ unit: "binary", maxLength: 3 }), fc.string({ maxLength: 4 })) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant("swap" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 20 }) }),
);

function mutate(source: string, m: Mutation): string {
  const at = source.length === 0 ? 0 : m.at % (source.length + 1);
  switch (m.op) {
    case "insert":
      return source.slice(0, at) + m.text + source.slice(at);
    case "delete":
      return source.slice(0, at) + source.slice(at + m.count);
    case "swap":
      return at + 1 < source.length ? source.slice(0, at) + source[at + 1] + source[at] + source.slice(at + 2) : source;
    case "duplicate":
      return source.slice(0, at) + source.slice(at, at + m.count) + source.slice(at);
  }
}

// ---------------------------------------------------------------------------

describe("parse on generated specs", () => {
  it("parses every spec printed from the grammar back into the same AST, without diagnostics", () => {
    fc.assert(
      fc.property(fc.array(stmt, { minLength: 1, maxLength: 6 }), layout, fc.boolean(), (stmts, l, trailing) => {
        const source = printStmts(stmts, l) + (trailing ? l.eol : "");
        const result = checkInvariants(source);
        expect(result.diagnostics).toEqual([]);
        expect(normal(modelOf(result.file!.stmts))).toEqual(normal(stmts));
      }),
      { numRuns: 1000 },
    );
  });

  it("gives every node a span that covers exactly its text", () => {
    fc.assert(
      fc.property(fc.array(stmt, { minLength: 1, maxLength: 4 }), layout, (stmts, l) => {
        const source = printStmts(stmts, l);
        const { file } = checkInvariants(source);
        const text = (s: Span) => source.slice(s.offset, s.offset + s.length);
        const walkArgs = (list: Arg[]) =>
          list.forEach((a) => {
            expect(text(a.nameSpan)).toBe(a.name);
            expect(text(a.span).startsWith(a.name)).toBe(true);
            if (a.value) walkValue(a.value);
          });
        const walkValue = (v: Value): void => {
          if (v.kind === "int" || v.kind === "float") expect(text(v.span)).toBe(v.text);
          if (v.kind === "name") expect(text(v.span)).toBe(v.value);
          if (v.kind === "call") {
            expect(text(v.nameSpan)).toBe(v.name);
            expect(text(v.span).endsWith(")")).toBe(true);
            walkArgs(v.args);
          }
          if (v.kind === "list") {
            expect(text(v.span)).toMatch(/^\[[\s\S]*\]$/);
            v.items.forEach(walkValue);
          }
        };
        const walk = (list: Stmt[]): void =>
          list.forEach((s) => {
            if (s.kind === "layer") {
              expect(text(s.nameSpan)).toBe(s.name);
              walkArgs(s.args);
            } else {
              expect(text(s.keywordSpan)).toBe(s.kind);
              expect(text(s.span).startsWith(s.kind)).toBe(true);
            }
            if (s.kind === "input" || s.kind === "context") {
              expect(text(s.shape.span)).toMatch(/^\[[\s\S]*\]$/);
              s.shape.dims.forEach((d) => expect(text(d.span)).toBe(d.text));
            }
            if (s.kind === "base") walkArgs(s.args);
            if (s.kind === "repeat") {
              expect(text(s.countSpan)).toBe(String(s.count));
              expect(text(s.span).endsWith("}")).toBe(true);
              walk(s.body);
            }
          });
        walk(file!.stmts);
      }),
      { numRuns: 300 },
    );
  });
});

describe("parse on broken input", () => {
  it("never throws and keeps every span inside the source, for mutated realistic specs", () => {
    fc.assert(
      fc.property(fc.constantFrom(...realistic), fc.array(mutation, { minLength: 1, maxLength: 8 }), (spec, mutations) => {
        checkInvariants(mutations.reduce(mutate, spec));
      }),
      { numRuns: 1500 },
    );
  });

  it("never throws on arbitrary strings, including unicode and lone surrogates", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 80 }), fc.string({ unit: "grapheme", maxLength: 40 }), fc.string({ maxLength: 120 })), (source) => {
        checkInvariants(source);
      }),
      { numRuns: 1000 },
    );
  });

  it("never throws on token soup", () => {
    const piece = fc.constantFrom(
      "input", "context", "base", "repeat", "coupling", "mask", "=", ",", "(", ")", "[", "]", "{", "}", ";", "\n",
      "8", "-3", "0.5", "1e-3", "8bit", " ", "# c\n", "@",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        checkInvariants(pieces.join(" "));
        checkInvariants(pieces.join(""));
      }),
      { numRuns: 1000 },
    );
  });
});
