/**
 * @fileoverview Property tests of parse + check: random specs built from the
 * grammar and the registry's own names (plus typos and wrong values), and
 * random mutations of the examples, never make `check()` fail internally;
 * every diagnostic's span lies within the source; a clean result carries a
 * verified IR.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { check, type CheckResult } from "../compiler/check/api.ts";
import { layers } from "../compiler/layers/index.ts";
import { nets } from "../compiler/layers/nets/index.ts";
import { verifyIR } from "../compiler/ir/verify.ts";

const layerNames = [...Object.keys(layers), "relu", "actnrom", "coupeling", "foo"];
const optionNames = [...new Set(Object.values(layers).flatMap((k) => Object.keys(k.options))), "msk", "hiden"];
const flagNames = [...new Set(Object.values(layers).flatMap((k) => (k.variants ?? []).flatMap((g) => g.values))), "revrse", "lu"];
const enumValues = [...new Set(Object.values(layers).flatMap((k) => Object.values(k.options).flatMap((o) => (o.type === "enum" ? o.values : [])))), "chekcer"];

const int = fc.oneof(fc.integer({ min: -3, max: 10 }), fc.integer({ min: 0, max: 300 }), fc.constantFrom(0, 1, 2, 65536, 2 ** 31, 2 ** 40));
const float = fc.oneof(fc.double({ min: -2, max: 2, noNaN: true }), fc.constantFrom(0, 0.5, 0.01, 1e-9, 1e30)).map((v) => {
  const t = String(v);
  return /[.eE]/.test(t) ? t : `${t}.0`;
});
const netValue = fc
  .tuple(fc.constantFrom(...Object.keys(nets), "mpl"), fc.array(fc.tuple(fc.constantFrom("hidden", "depth", "kernel", "blocks", "act", "width"), fc.oneof(int.map(String), fc.constantFrom("relu", "tanh", "x"))), { maxLength: 3 }))
  .map(([n, args]) => (args.length ? `${n}(${args.map(([k, v]) => `${k}=${v}`).join(", ")})` : n));
const value = fc.oneof(int.map(String), float, fc.constantFrom(...enumValues), netValue, fc.array(int, { maxLength: 3 }).map((xs) => `[${xs.join(", ")}]`));
const arg = fc.oneof(fc.constantFrom(...flagNames), fc.tuple(fc.constantFrom(...optionNames), value).map(([k, v]) => `${k}=${v}`));
const layerStmt = fc.tuple(fc.constantFrom(...layerNames), fc.array(arg, { maxLength: 4 })).map(([n, a]) => [n, ...a].join(" "));
const dims = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 1 }),
  fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 })),
  fc.array(fc.integer({ min: -1, max: 40 }), { minLength: 0, maxLength: 4 }),
);
const shape = dims.map((d) => `[${d.join(", ")}]`);

const stmt: fc.Arbitrary<string> = fc.letrec<{ stmt: string }>((tie) => ({
  stmt: fc.oneof(
    { weight: 8, arbitrary: layerStmt },
    { weight: 1, arbitrary: shape.map((s) => `input ${s}`) },
    { weight: 1, arbitrary: shape.map((s) => `context ${s}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom("normal", "logistic", "gauss"), fc.constantFrom("", " learned", " x=1")).map(([b, a]) => `base ${b}${a}`) },
    { weight: 2, arbitrary: fc.tuple(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(1000, 10 ** 9)), fc.array(tie("stmt"), { maxLength: 3 })).map(([n, body]) => `repeat ${n} { ${body.join("; ")} }`) },
  ),
})).stmt;

const spec = fc
  .tuple(fc.boolean(), shape, fc.array(stmt, { maxLength: 8 }), fc.constantFrom("\n", "; "))
  .map(([withInput, s, body, sep]) => (withInput ? [`input ${s}`, ...body] : body).join(sep));

function assertSound(source: string, res: CheckResult): void {
  const internal = res.diagnostics.filter((d) => d.code === "FLOW500");
  expect(internal, `internal error on:\n${source}\n${internal.map((d) => d.message).join("\n")}`).toEqual([]);
  for (const d of res.diagnostics) {
    if (!d.span) continue;
    expect(d.span.offset, `${d.code} span on:\n${source}`).toBeGreaterThanOrEqual(0);
    expect(d.span.offset + d.span.length, `${d.code} span on:\n${source}`).toBeLessThanOrEqual(source.length);
    expect(d.span.line).toBeGreaterThanOrEqual(1);
    expect(d.span.column).toBeGreaterThanOrEqual(1);
  }
  expect(res.ok).toBe(!res.diagnostics.some((d) => d.severity === "error"));
  if (res.ok) {
    expect(res.ir).not.toBeNull();
    expect(res.summary).not.toBeNull();
    expect(verifyIR(res.ir!)).toEqual([]);
  }
}

const examplesDir = fileURLToPath(new URL("../spec-examples/", import.meta.url));
const examples = readdirSync(examplesDir).filter((f) => f.endsWith(".flow")).map((f) => readFileSync(join(examplesDir, f), "utf8"));

/** Delete, duplicate, replace or insert a slice of the text. */
const mutation = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 12 }), fc.constantFrom("delete", "insert", "replace", "dup"), fc.constantFrom("0", "=", " ", "\n", "{", "}", "[", "]", "(", ")", ",", ";", "squeeze", "split", "repeat 3 {", "mask=", "-1", "x", "#"));
const mutated = fc.tuple(fc.constantFrom(...examples), fc.array(mutation, { minLength: 1, maxLength: 5 })).map(([src, ms]) => {
  let s = src;
  for (const [pos, len, op, text] of ms) {
    const i = pos % (s.length + 1);
    if (op === "delete") s = s.slice(0, i) + s.slice(i + len);
    else if (op === "insert") s = s.slice(0, i) + text + s.slice(i);
    else if (op === "replace") s = s.slice(0, i) + text + s.slice(i + len);
    else s = s.slice(0, i) + s.slice(i, i + len) + s.slice(i);
  }
  return s;
});

/** Mostly valid flows: real layers with values from their own schemas, on ordinary shapes. */
const ownArg = (kind: string) => {
  const k = layers[kind];
  const opts = Object.entries(k.options).map(([name, o]) => {
    const v =
      o.type === "enum" ? fc.constantFrom(...o.values) :
      o.type === "int" ? fc.integer({ min: o.min ?? 0, max: Math.min(o.max ?? 16, 16) }).map(String) :
      o.type === "float" ? fc.constantFrom(0.01, 0.25, 0.9, 2.5).map(String) :
      o.type === "net" ? netValue : fc.constant("1");
    return v.map((x) => `${name}=${x}`);
  });
  const flags = (k.variants ?? []).map((g) => fc.constantFrom(...g.values));
  const all = [...opts, ...flags];
  return all.length ? fc.array(fc.oneof(...all), { maxLength: 2 }) : fc.constant([] as string[]);
};
const validish = fc
  .tuple(
    fc.constantFrom("[2]", "[5]", "[8]", "[1, 4, 4]", "[2, 8, 8]", "[3, 2, 6]"),
    fc.constantFrom("", "context [2]\n"),
    fc.array(fc.constantFrom(...Object.keys(layers)).chain((n) => ownArg(n).map((a) => [n, ...a].join(" "))), { minLength: 1, maxLength: 6 }),
    fc.integer({ min: 1, max: 3 }),
  )
  .map(([s, ctx, ls, n]) => `input ${s}\n${ctx}repeat ${n} {\n${ls.join("\n")}\n}\nbase normal learned`);

describe("check() on random input", () => {
  it("verifies the IR of random mostly-valid flows", () => {
    let clean = 0;
    fc.assert(fc.property(validish, (source) => {
      const res = check(source, { filename: "fuzz.flow" });
      assertSound(source, res);
      if (res.ok) clean++;
    }), { numRuns: 600 });
    expect(clean).toBeGreaterThan(30);
  });

  it("never fails internally on specs built from the grammar", () => {
    fc.assert(fc.property(spec, (source) => assertSound(source, check(source, { filename: "fuzz.flow" }))), { numRuns: 600 });
  });

  it("never fails internally on mutated examples", () => {
    fc.assert(fc.property(mutated, (source) => assertSound(source, check(source, { filename: "fuzz.flow" }))), { numRuns: 600 });
  });

  it("never fails internally on arbitrary text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (source) => assertSound(source, check(source))), { numRuns: 300 });
  });
});
