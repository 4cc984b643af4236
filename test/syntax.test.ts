/**
 * @fileoverview Tests of the syntax front-end: every construct of the
 * language, exact spans, and the FLOW1xx diagnostics for lexing errors,
 * parse errors (all of a file's in one run), end-of-file errors, empty files
 * and bad numbers.
 */
import { describe, expect, it } from "vitest";
import { parse } from "../compiler/syntax/index.ts";
import type { Diagnostic } from "../compiler/diagnostics/types.ts";
import type { Stmt } from "../compiler/syntax/ast.ts";

const glow = `# glow-mnist.flow
input [1, 28, 28]
dequantize uniform bits=8
logit alpha=0.05
squeeze
repeat 8 { actnorm; conv1x1 lu; coupling affine mask=channel net=conv(hidden=128) }
split prior=learned
base normal
`;

const moons = `input [2]
repeat 8 {
  coupling affine mask=half net=mlp(hidden=64, depth=2)
  permute reverse
}
base normal learned
`;

/** Parse a spec that must be valid and return its statements. */
function stmtsOf(source: string): Stmt[] {
  const { file, diagnostics } = parse(source);
  expect(diagnostics).toEqual([]);
  return file!.stmts;
}

/** Code, line and column of each diagnostic, for compact assertions. */
function where(diagnostics: Diagnostic[]): string[] {
  return diagnostics.map((d) => `${d.code} ${d.span?.line}:${d.span?.column}`);
}

describe("parsing valid specs", () => {
  it("parses the Glow example", () => {
    const stmts = stmtsOf(glow);
    expect(stmts.map((s) => (s.kind === "layer" ? s.name : s.kind))).toEqual([
      "input", "dequantize", "logit", "squeeze", "repeat", "split", "base",
    ]);
    expect(stmts[0]).toMatchObject({ kind: "input", shape: { dims: [{ value: 1 }, { value: 28 }, { value: 28 }] } });
    expect(stmts[1]).toMatchObject({ kind: "layer", name: "dequantize", args: [{ name: "uniform" }, { name: "bits", value: { kind: "int", value: 8, text: "8" } }] });
    expect(stmts[1].kind === "layer" && stmts[1].args[0].value).toBeUndefined();
    expect(stmts[2]).toMatchObject({ args: [{ name: "alpha", value: { kind: "float", value: 0.05, text: "0.05" } }] });
    const repeat = stmts[4];
    expect(repeat).toMatchObject({ kind: "repeat", count: 8 });
    expect(repeat.kind === "repeat" && repeat.body.map((s) => s.kind === "layer" && s.name)).toEqual(["actnorm", "conv1x1", "coupling"]);
    expect(repeat.kind === "repeat" && repeat.body[2]).toMatchObject({
      args: [
        { name: "affine" },
        { name: "mask", value: { kind: "name", value: "channel" } },
        { name: "net", value: { kind: "call", name: "conv", args: [{ name: "hidden", value: { kind: "int", value: 128 } }] } },
      ],
    });
    expect(stmts[6]).toMatchObject({ kind: "base", name: "normal", args: [] });
  });

  it("parses a multi-line repeat block and a base with a flag", () => {
    const stmts = stmtsOf(moons);
    expect(stmts).toHaveLength(3);
    expect(stmts[1]).toMatchObject({
      kind: "repeat",
      count: 8,
      body: [
        { kind: "layer", name: "coupling", args: [{ name: "affine" }, { name: "mask" }, { name: "net", value: { kind: "call", name: "mlp", args: [{ name: "hidden" }, { name: "depth", value: { value: 2 } }] } }] },
        { kind: "layer", name: "permute", args: [{ name: "reverse" }] },
      ],
    });
    expect(stmts[2]).toMatchObject({ kind: "base", name: "normal", args: [{ name: "learned" }] });
  });

  it("parses context, lists, nested calls, empty calls and every number form", () => {
    const [, context, layer] = stmtsOf(
      "input [4]\ncontext [3]\nx a=[1, [2, b], f(c=1)] g=h() i=-7 j=1e-3 k=.5 l=-2.5 m=5. n=2E+3",
    );
    expect(context).toMatchObject({ kind: "context", shape: { dims: [{ value: 3 }] } });
    expect(layer.kind === "layer" && layer.args.map((a) => a.value)).toMatchObject([
      { kind: "list", items: [{ kind: "int", value: 1 }, { kind: "list", items: [{ kind: "int", value: 2 }, { kind: "name", value: "b" }] }, { kind: "call", name: "f", args: [{ name: "c" }] }] },
      { kind: "call", name: "h", args: [] },
      { kind: "int", value: -7, text: "-7" },
      { kind: "float", value: 1e-3, text: "1e-3" },
      { kind: "float", value: 0.5, text: ".5" },
      { kind: "float", value: -2.5 },
      { kind: "float", value: 5 },
      { kind: "float", value: 2000 },
    ]);
  });

  it("accepts ';', CRLF and CR line ends, comments, blank lines and a newline before '{'", () => {
    const stmts = stmtsOf("input [2] ; actnorm # c\r\n\r\n// d\rrepeat 2\n{\n\n  a // e\n  b; c\n}\n\n");
    expect(stmts.map((s) => s.kind)).toEqual(["input", "layer", "repeat"]);
    expect(stmts[2].kind === "repeat" && stmts[2].body).toHaveLength(3);
  });

  it("tolerates newlines inside brackets and parentheses", () => {
    const [input, layer] = stmtsOf("input [\n  1,\n  28, 28\n]\ncoupling net=mlp(\n  hidden=64,\n  depth=2\n) x=[1,\n2]");
    expect(input.kind === "input" && input.shape.dims.map((d) => d.value)).toEqual([1, 28, 28]);
    expect(layer).toMatchObject({ args: [{ name: "net" }, { name: "x" }] });
  });

  it("treats names that merely start with a keyword as names, and knows no layer names", () => {
    const stmts = stmtsOf("input [2]\ninputs\nrepeated x=base_1\nbases\nfrobnicate wildly=yes");
    expect(stmts.slice(1).map((s) => s.kind === "layer" && s.name)).toEqual(["inputs", "repeated", "bases", "frobnicate"]);
  });

  it("parses nested repeats", () => {
    const depth = 20;
    const stmts = stmtsOf(`input [2]\n${"repeat 2 { ".repeat(depth)}actnorm${" }".repeat(depth)}`);
    let node = stmts[1];
    for (let i = 0; i < depth; i++) {
      expect(node.kind).toBe("repeat");
      if (node.kind !== "repeat") return;
      node = node.body[0];
    }
    expect(node).toMatchObject({ kind: "layer", name: "actnorm" });
  });

  it("reuses the parser without leaking state between runs", () => {
    expect(parse("input [2\nx )").diagnostics.length).toBeGreaterThan(0);
    expect(parse(glow).diagnostics).toEqual([]);
  });
});

describe("spans", () => {
  const source = "input [1, 28, 28]\nrepeat 8 { actnorm; conv1x1 lu }\ncoupling net=mlp(hidden=64)";
  const [input, repeat, coupling] = stmtsOf(source);

  it("covers statements, keywords and shapes exactly", () => {
    expect(input.span).toEqual({ offset: 0, length: 17, line: 1, column: 1 });
    expect(input.kind === "input" && input.keywordSpan).toEqual({ offset: 0, length: 5, line: 1, column: 1 });
    expect(input.kind === "input" && input.shape.span).toEqual({ offset: 6, length: 11, line: 1, column: 7 });
    expect(input.kind === "input" && input.shape.dims[2].span).toEqual({ offset: 14, length: 2, line: 1, column: 15 });
  });

  it("covers a repeat from its keyword to its closing brace", () => {
    if (repeat.kind !== "repeat") throw new Error("not a repeat");
    expect(repeat.span).toEqual({ offset: 18, length: 32, line: 2, column: 1 });
    expect(repeat.countSpan).toEqual({ offset: 25, length: 1, line: 2, column: 8 });
    const conv = repeat.body[1];
    expect(conv.span).toEqual({ offset: 38, length: 10, line: 2, column: 21 });
    expect(conv.kind === "layer" && conv.args[0].span).toEqual({ offset: 46, length: 2, line: 2, column: 29 });
  });

  it("covers options and calls", () => {
    if (coupling.kind !== "layer") throw new Error("not a layer");
    const net = coupling.args[0];
    expect(net.span).toEqual({ offset: 60, length: 18, line: 3, column: 10 });
    expect(net.value?.span).toEqual({ offset: 64, length: 14, line: 3, column: 14 });
    expect(net.value?.kind === "call" && net.value.args[0].value?.span).toEqual({ offset: 75, length: 2, line: 3, column: 25 });
  });

  it("covers the whole file", () => {
    expect(parse(source).file?.span).toEqual({ offset: 0, length: source.length, line: 1, column: 1 });
  });
});

describe("syntax errors", () => {
  it("reports every error of a file in one run, with the right codes and positions", () => {
    const source = [
      "input [1, 28 28]", // missing comma
      "squeeze",
      "coupling affine mask= net=mlp(hidden=64)", // missing value
      "split prior=learned)", // stray ')'
      "base normal",
    ].join("\n");
    const { file, diagnostics } = parse(source, "three.flow");
    expect(where(diagnostics)).toEqual(["FLOW102 1:14", "FLOW102 3:23", "FLOW104 4:20"]);
    expect(diagnostics.every((d) => d.filename === "three.flow" && d.severity === "error")).toBe(true);
    expect(diagnostics[0].message).toBe("expected ',' or ']' after '28', but found '28'");
    expect(diagnostics[1].message).toBe("expected a value after '=', but found the next option, 'net='");
    expect(diagnostics[2].message).toBe("unmatched ')': there is no '(' for it to close");
    // The rest of the file is still there for the checker.
    expect(file?.stmts.map((s) => (s.kind === "layer" ? s.name : s.kind))).toEqual(["squeeze", "coupling", "split", "base"]);
  });

  it("words errors in plain language, never in the parser's own terms", () => {
    const { diagnostics } = parse("input\nbase\nrepeat x { a }\nx = 4\nlayer(a=1)\nc n=mlp(a 1)\ninput [2] squeeze");
    expect(where(diagnostics)).toEqual(["FLOW105 1:6", "FLOW102 2:5", "FLOW108 3:8", "FLOW102 4:3", "FLOW102 5:6", "FLOW102 6:11", "FLOW109 7:11"]);
    for (const d of diagnostics) {
      expect(d.message).not.toMatch(/token of type|Expecting|-->|EOF/);
      expect(d.hint).toBeTruthy();
    }
    expect(diagnostics[0].message).toBe("'input' needs a shape in brackets, but found the end of the line");
    expect(diagnostics[6].message).toBe("'squeeze' starts a new statement on the same line as the previous one");
  });

  it("reports an unterminated block at its '{'", () => {
    const { diagnostics, file } = parse("input [2]\nrepeat 4 {\n  actnorm\n  permute reverse\n");
    expect(where(diagnostics)).toEqual(["FLOW103 2:10"]);
    expect(diagnostics[0].span).toMatchObject({ offset: 19, length: 1 });
    expect(file?.stmts[1]).toMatchObject({ kind: "repeat", body: [{ name: "actnorm" }, { name: "permute" }] });
  });

  it("reports each unclosed brace of nested blocks", () => {
    expect(where(parse("repeat 2 { repeat 3 { a").diagnostics)).toEqual(["FLOW103 1:10", "FLOW103 1:21"]);
  });

  it("reports unmatched closing brackets", () => {
    const { diagnostics } = parse("input [2]\n}\nrepeat 2 { a }}\ncoupling net=mlp(hidden=64]");
    expect(where(diagnostics)).toEqual(["FLOW104 2:1", "FLOW104 3:15", "FLOW104 4:27"]);
    expect(diagnostics[2].hint).toBe("the innermost open bracket here is '(': close it with ')'");
  });

  it("points at the end of the last token for errors at the end of the file", () => {
    for (const source of ["input [1, 28", "input [1, 28\n\n", "base", "x a=", "x a=f(b=1"]) {
      const { diagnostics } = parse(source);
      expect(diagnostics).toHaveLength(1);
      const end = source.trimEnd().length;
      expect(diagnostics[0].span).toMatchObject({ offset: end, length: 0, line: 1, column: end + 1 });
      expect(diagnostics[0].message).toMatch(/the end of the (file|line)$/);
    }
  });

  it("keeps only the first parse error of a line, where one mistake derails the rest", () => {
    const { diagnostics } = parse("x a= = b=) c=(\ny");
    expect(where(diagnostics)).toEqual(["FLOW102 1:6"]);
  });

  it("leaves broken pieces out of the AST rather than guessing", () => {
    const { file } = parse("input [1, x]\ncoupling a=[1, =] b=2 c=\nrepeat { a }\nbase\nrepeat 2 a");
    expect(file?.stmts).toEqual([expect.objectContaining({ kind: "layer", name: "coupling", args: [expect.objectContaining({ name: "b" })] })]);
  });
});

describe("lexing errors", () => {
  it("reports unexpected characters and keeps going", () => {
    const { diagnostics, file } = parse('input [2]\ncoupling mask="half" @@ x:y\nbase normal');
    expect(where(diagnostics)).toEqual(["FLOW101 2:15", "FLOW101 2:20", "FLOW101 2:22", "FLOW101 2:26"]);
    expect(diagnostics.map((d) => d.message)).toEqual([
      "unexpected character '\"'",
      "unexpected character '\"'",
      "unexpected characters '@@'",
      "unexpected character ':'",
    ]);
    expect(diagnostics[0].hint).toMatch(/without quotes/);
    expect(diagnostics[2].span).toMatchObject({ length: 2 });
    expect(file?.stmts.map((s) => s.kind)).toEqual(["input", "layer", "base"]);
  });

  it("names invisible and non-ASCII characters", () => {
    const { diagnostics } = parse("input [2]\nx\u200By é");
    expect(diagnostics.map((d) => d.message)).toEqual(["unexpected character U+200B", "unexpected character 'é'"]);
  });
});

describe("empty files", () => {
  it.each([
    ["an empty file", ""],
    ["a file of blank lines", "\n\n  \n"],
    ["a file of comments", "# nothing here\n// nor here\n"],
    ["a file of separators", " ; ;\n;"],
  ])("reports FLOW107 for %s", (_, source) => {
    const { file, diagnostics } = parse(source, "empty.flow");
    expect(file?.stmts).toEqual([]);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({
      code: "FLOW107",
      severity: "error",
      filename: "empty.flow",
      message: "the file has no statements; a flow needs at least `input [...]`",
      span: { offset: 0, length: 0, line: 1, column: 1 },
    });
    expect(diagnostics[0].hint).toMatch(/input \[2\]/);
  });
});

describe("numbers", () => {
  it("parses whole numbers exactly up to 2^53", () => {
    const [layer] = stmtsOf("x a=9007199254740992 b=-9007199254740992 c=0 d=-0");
    expect(layer.kind === "layer" && layer.args.map((a) => a.value?.kind === "int" && a.value.value)).toEqual([2 ** 53, -(2 ** 53), 0, 0]);
  });

  it("reports whole numbers beyond 2^53, infinite floats and malformed numbers as FLOW106", () => {
    const source = "input [9007199254740993]\nx a=1e999 b=8bit c=1.5.3 d=0x1F e=12345678901234567890123456789";
    const { diagnostics, file } = parse(source);
    expect(where(diagnostics)).toEqual(["FLOW106 1:8", "FLOW106 2:5", "FLOW106 2:13", "FLOW106 2:20", "FLOW106 2:28", "FLOW106 2:35"]);
    expect(diagnostics[0].message).toBe("bad number '9007199254740993': whole numbers must lie within ±2^53 (9007199254740992) to be exact");
    expect(diagnostics[2].message).toBe("bad number '8bit': it is not a number");
    expect(file?.stmts).toEqual([expect.objectContaining({ kind: "layer", args: [] })]);
  });
});

describe("robustness", () => {
  it("refuses absurdly deep nesting with a diagnostic instead of overflowing the stack", () => {
    for (const source of ["repeat 2 { ".repeat(5000), `x a=${"[".repeat(5000)}1${"]".repeat(5000)}`, `x a=${"f(b=".repeat(3000)}`]) {
      const { file, diagnostics } = parse(source);
      expect(file).toBeNull();
      expect(where(diagnostics)).toEqual([expect.stringMatching(/^FLOW110 1:\d+$/)]);
    }
  });

  it("defaults the filename and never throws on odd input", () => {
    expect(parse("x )").diagnostics[0].filename).toBe("<input>");
    for (const source of ["\uD800", "\u0000\u0001", "}}}}", "{{{{", "repeat -1 {}", "=".repeat(1000)]) {
      expect(() => parse(source)).not.toThrow();
    }
  });
});
