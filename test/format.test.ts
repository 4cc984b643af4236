/**
 * @fileoverview Tests of the diagnostics formatter: the location line, the
 * code frame with its `^~~~` marker (clipped, tab-aware), hints, colour and
 * the summary line.
 */
import { describe, expect, it } from "vitest";
import { formatDiagnostic, formatDiagnostics, summarize } from "../compiler/diagnostics/format.ts";
import type { Diagnostic } from "../compiler/diagnostics/types.ts";
import { parse } from "../compiler/syntax/index.ts";

const glow = "input [1, 7, 7]\ndequantize uniform bits=8\nlogit alpha=0.05\nactnorm\n  squeeze\nbase normal\n";

const squeezeError: Diagnostic = {
  code: "FLOW301",
  severity: "error",
  message: "squeeze needs an even height and width, but the input here is [1, 7, 7]",
  filename: "glow.flow",
  span: { offset: 69, length: 7, line: 5, column: 3 },
  hint: "use a [1, 8, 8] input or drop the squeeze",
};

describe("formatDiagnostic", () => {
  it("prints the location, the code frame and the hint", () => {
    expect(glow.slice(69, 76)).toBe("squeeze");
    expect(formatDiagnostic(squeezeError, glow)).toBe(
      [
        "glow.flow:5:3: error FLOW301: squeeze needs an even height and width, but the input here is [1, 7, 7]",
        "  5 |   squeeze",
        "    |   ^~~~~~~",
        "  hint: use a [1, 8, 8] input or drop the squeeze",
      ].join("\n"),
    );
  });

  it("prints just the first line and the hint without a span or without the source", () => {
    const { span: _, ...noSpan } = squeezeError;
    const expected = "glow.flow: error FLOW301: squeeze needs an even height and width, but the input here is [1, 7, 7]\n  hint: use a [1, 8, 8] input or drop the squeeze";
    expect(formatDiagnostic(noSpan, glow)).toBe(expected);
    expect(formatDiagnostic(squeezeError).split("\n")).toEqual([
      "glow.flow:5:3: error FLOW301: squeeze needs an even height and width, but the input here is [1, 7, 7]",
      "  hint: use a [1, 8, 8] input or drop the squeeze",
    ]);
    expect(formatDiagnostic({ code: "FLOW601", severity: "error", message: "bad file" })).toBe("error FLOW601: bad file");
  });

  it("marks a multi-line span up to the end of its first line", () => {
    const source = "repeat 2 {\n  actnorm\n}";
    const d: Diagnostic = { code: "FLOW999", severity: "warning", message: "m", span: { offset: 7, length: 16, line: 1, column: 8 } };
    expect(formatDiagnostic(d, source).split("\n").slice(1)).toEqual(["  1 | repeat 2 {", "    |        ^~~"]);
  });

  it("marks a zero-length span with a single caret, also past the end of the line", () => {
    const source = "input [1, 28\nsqueeze";
    const d: Diagnostic = { code: "FLOW102", severity: "error", message: "m", span: { offset: 12, length: 0, line: 1, column: 13 } };
    expect(formatDiagnostic(d, source).split("\n").slice(1)).toEqual(["  1 | input [1, 28", "    |             ^"]);
  });

  it("expands tabs so the marker lines up", () => {
    const source = "input [2]\n\tcoupling\tmask=x";
    const d: Diagnostic = { code: "FLOW201", severity: "error", message: "m", span: { offset: 20, length: 6, line: 2, column: 11 } };
    expect(source.slice(20, 26)).toBe("mask=x");
    expect(formatDiagnostic(d, source).split("\n").slice(1)).toEqual(["  2 |     coupling    mask=x", "    |                 ^~~~~~"]);
  });

  it("widens the gutter for long line numbers and handles CRLF sources", () => {
    const source = "a\r\n".repeat(11) + "bad\r\n";
    const d: Diagnostic = { code: "FLOW201", severity: "error", message: "m", span: { offset: 33, length: 3, line: 12, column: 1 } };
    expect(formatDiagnostic(d, source).split("\n").slice(1)).toEqual(["  12 | bad", "     | ^~~"]);
  });

  it("indents multi-line hints under the first line", () => {
    const d: Diagnostic = { code: "FLOW107", severity: "error", message: "m", hint: "a minimal flow:\n  input [2]" };
    expect(formatDiagnostic(d)).toBe("error FLOW107: m\n  hint: a minimal flow:\n          input [2]");
  });

  it("uses ANSI colours only when asked", () => {
    expect(formatDiagnostic(squeezeError, glow)).not.toMatch(/\x1b\[/);
    const coloured = formatDiagnostic(squeezeError, glow, { color: true });
    expect(coloured).toContain("\x1b[31m");
    expect(coloured).toContain("\x1b[1m");
    expect(coloured.replace(/\x1b\[\d+m/g, "")).toBe(formatDiagnostic(squeezeError, glow));
    expect(formatDiagnostic({ ...squeezeError, severity: "warning" }, glow, { color: true })).toContain("\x1b[33m");
  });
});

describe("formatDiagnostics", () => {
  it("separates diagnostics with blank lines and ends with a summary", () => {
    const warning: Diagnostic = { code: "FLOW401", severity: "warning", message: "w" };
    const out = formatDiagnostics([squeezeError, warning, { ...warning, severity: "error" }], glow);
    expect(out.split("\n\n")).toHaveLength(4);
    expect(out.endsWith("\n\n2 errors, 1 warning")).toBe(true);
  });

  it("summarizes counts with the right plurals and prints nothing for no diagnostics", () => {
    expect(summarize([squeezeError])).toBe("1 error");
    expect(summarize([{ ...squeezeError, severity: "warning" }, { ...squeezeError, severity: "warning" }])).toBe("2 warnings");
    expect(formatDiagnostics([], glow)).toBe("");
  });

  it("prints the front-end's diagnostics for a broken file", () => {
    const source = "input [1, 28 28]\nsqueeze @\nrepeat 4 { actnorm\n";
    const { diagnostics } = parse(source, "broken.flow");
    expect(formatDiagnostics(diagnostics, source)).toBe(
      [
        "broken.flow:1:14: error FLOW102: expected ',' or ']' after '28', but found '28'",
        "  1 | input [1, 28 28]",
        "    |              ^~",
        "  hint: separate the dimensions with commas and close the shape with ']', e.g. [1, 28, 28]",
        "",
        "broken.flow:2:9: error FLOW101: unexpected character '@'",
        "  2 | squeeze @",
        "    |         ^",
        "  hint: remove it: a .flow file is made of names, numbers, = , ; ( ) [ ] { } and comments starting with # or //",
        "",
        "broken.flow:3:10: error FLOW103: this '{' is never closed: the repeated block has no matching '}'",
        "  3 | repeat 4 { actnorm",
        "    |          ^",
        "  hint: add '}' after the last statement of the block",
        "",
        "3 errors",
      ].join("\n"),
    );
  });
});
