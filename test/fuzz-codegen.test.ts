/**
 * @fileoverview Nothing from a spec reaches the generated AssemblyScript
 * except through validated, typed values. Property tests (fast-check) feed
 * specs with hostile comments and file names (comment terminators, newlines,
 * U+2028/U+2029, which AssemblyScript also takes as line ends, NUL, emoji,
 * code) and hostile numbers (1e308, 1e-320, -0, hex, 2^53 + 1, 1e999), then
 * check the generated source: printable ASCII only, no fragment of the
 * hostile text outside a comment, and every float literal a finite decimal.
 * One hostile spec is compiled with asc to show the module still builds and
 * exports nothing extra.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { check } from "../compiler/check/api.ts";
import { compile, registry } from "../compiler/codegen/compile.ts";
import { generateModule } from "../compiler/codegen/module.ts";

const RUNS = Number(process.env.FLOWC_FUZZ_RUNS) || 100;
const SEED = process.env.FLOWC_FUZZ_SEED ? Number(process.env.FLOWC_FUZZ_SEED) : 20261122;

const PAYLOAD = "export function pwned(): void {}";
const hostile = fc.oneof(
  fc.constantFrom(
    `*/ ${PAYLOAD} /*`, `\u2028${PAYLOAD}`, `\u2029${PAYLOAD}`, `\r${PAYLOAD}`, `\u0085${PAYLOAD}`, `\u0000${PAYLOAD}`,
    `\`; ${PAYLOAD}; \``, `" + pwned() + "`, "😀 \ud800 \u202e", `\\u2028${PAYLOAD}`,
  ),
  fc.string({ unit: "binary", maxLength: 30 }).map((s) => s + PAYLOAD),
);

/** The generated source with every line comment removed (a line ends at \n as the source is pure ASCII). */
const code = (src: string) => src.split("\n").map((l) => l.replace(/\/\/.*$/, "")).join("\n");

function generate(source: string, filename: string): string | null {
  const r = check(source, { filename });
  if (!r.ok || !r.ir) return null;
  return generateModule(r.ir, registry, { precision: "f32" }).source;
}

function expectClean(src: string): void {
  expect(/^[\x20-\x7e\n\t]*$/.test(src)).toBe(true);
  expect(code(src)).not.toContain("pwned");
  // Every numeric literal is a finite decimal; no spelled-out non-finite value appears.
  const body = code(src);
  expect(body).not.toMatch(/\b(Infinity|NaN)\b/);
  for (const m of body.matchAll(/(?<![\w.])\d+(\.\d*)?(e[+-]?\d+)?(?![\w.])/g)) expect(Number.isFinite(Number(m[0]))).toBe(true);
}

describe("fuzz: safe code generation", () => {
  it("hostile comments and file names never leave a comment", () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, (a, b, name) => {
        // `#` comments run to the end of a line; the hostile text may itself end the line.
        const source = `input [2] # ${a}\nleaky_relu slope=0.5 # ${b}\ncoupling affine mask=half net=mlp(hidden=4, depth=1) // ${a}\npermute reverse\nbase normal\n`;
        const src = generate(source, `${name}.flow`);
        if (src !== null) expectClean(src);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("hostile numbers are refused by the checker or become finite decimal literals", () => {
    const num = fc.oneof(
      fc.constantFrom("1e308", "1e-320", "-0", "0x10", "9007199254740993", "1e999", "4.9e-324", "1_0", ".5", "5.", "1e+3", "NaN", "Infinity", "-1e-7", "0.1e1"),
      fc.double({ noNaN: true }).map(String),
    );
    fc.assert(
      fc.property(num, num, num, (s, alpha, clamp) => {
        const source = `input [1, 4, 4]\nleaky_relu slope=${s}\nlogit alpha=${alpha}\ncoupling affine mask=checker clamp=${clamp} net=conv(hidden=4)\nbase normal\n`;
        let src: string | null = null;
        try {
          src = generate(source, "n.flow");
        } catch (e) {
          // A value the checker let through but no literal can hold is an internal error, never bad code.
          expect(String(e)).toMatch(/non-finite literal/);
        }
        if (src !== null) expectClean(src);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("a module built from a hostile spec and file name compiles and exports only the ABI", async () => {
    const source = `input [2] # */ ${PAYLOAD}\u2028${PAYLOAD}\nleaky_relu slope=0.5 # \u2029${PAYLOAD}\nbase normal\n`;
    const r = await compile(source, { filename: `evil\u2028${PAYLOAD}.flow` });
    expect(r.wasm, r.diagnostics.map((d) => d.message).join("\n")).toBeTruthy();
    expectClean(r.assemblyScript!);
    const names = WebAssembly.Module.exports(new WebAssembly.Module(r.wasm! as BufferSource)).map((e) => e.name);
    expect(names).not.toContain("pwned");
    expect(r.assemblyScript!).toContain("\\u2028export function pwned");
  });
});
