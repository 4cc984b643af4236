/**
 * @fileoverview The IR helpers: the pure-TS SHA-256 against node:crypto, the
 * canonical JSON, and the verifier catching broken invariants as FLOW500.
 */
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { canonicalJson, sha256, sha256Text } from "../compiler/ir/hash.ts";
import { verifyIR } from "../compiler/ir/verify.ts";
import { check } from "../compiler/check/api.ts";
import type { IRFlow } from "../compiler/ir/types.ts";

describe("sha256", () => {
  it("matches the FIPS 180-4 test vectors", () => {
    expect(sha256Text("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Text("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  it("agrees with node:crypto on random bytes of every padding length", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      expect(sha256(bytes)).toBe(createHash("sha256").update(bytes).digest("hex"));
    }), { numRuns: 400 });
  });
});

describe("canonicalJson", () => {
  it("sorts keys at every level and drops undefined", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: undefined, x: "s" }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":"s","z":0}]},"b":1}');
  });
});

describe("verifyIR", () => {
  const good = () => structuredClone(check("input [4]\nlinear lu\nsplit\ncoupling affine\nbase normal learned").ir!) as IRFlow;

  it("accepts the checker's IR", () => {
    expect(verifyIR(good())).toEqual([]);
  });

  const broken: [string, (ir: IRFlow) => void, string][] = [
    ["shape chain", (ir) => { ir.layers[1].inShape = [3]; }, "inShape"],
    ["overlapping offsets", (ir) => { ir.layers[0].params[1].offset -= 1; }, "tile"],
    ["duplicate names", (ir) => { ir.layers[0].params[1].name = ir.layers[0].params[0].name; }, "not unique"],
    ["buffer among trainables", (ir) => { ir.trainableCount += 5; }, "wrong side"],
    ["latent gap", (ir) => { ir.latentLayout[1].offset += 1; }, "latent"],
    ["latent size", (ir) => { ir.latentSize = 5; }, "latentSize"],
    ["capabilities", (ir) => { ir.capabilities.logProb = false; }, "logProb"],
    ["bad dims", (ir) => { ir.layers[0].outShape = [0]; }, "non-positive"],
  ];
  for (const [what, breakIt, says] of broken) {
    it(`reports ${what} as FLOW500`, () => {
      const ir = good();
      breakIt(ir);
      const ds = verifyIR(ir);
      expect(ds.length).toBeGreaterThan(0);
      expect(ds.every((d) => d.code === "FLOW500" && d.severity === "error")).toBe(true);
      expect(ds.map((d) => d.message).join("\n")).toContain(says);
    });
  }
});
