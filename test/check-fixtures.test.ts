/**
 * @fileoverview One fixture per checker diagnostic code (FLOW2xx, FLOW3xx,
 * FLOW4xx): a spec, the code it must produce, and where. A completeness test
 * fails when a code in the catalogue has no fixture here.
 */
import { afterEach, describe, expect, it } from "vitest";
import { check } from "../compiler/check/api.ts";
import { nameMessages } from "../compiler/diagnostics/messages/names.ts";
import { shapeMessages } from "../compiler/diagnostics/messages/shapes.ts";
import { directionMessages } from "../compiler/diagnostics/messages/direction.ts";
import { layers } from "../compiler/layers/index.ts";
import { actnorm } from "../compiler/layers/actnorm.ts";
import type { LayerKind } from "../compiler/layers/types.ts";

interface Fixture {
  code: string;
  spec: string;
  line: number;
  column: number;
  /** A fragment the message must contain. */
  says?: string;
}

const fixtures: Fixture[] = [
  // names and options
  { code: "FLOW201", spec: "input [2]\nactnrom", line: 2, column: 1, says: "did you mean `actnorm`?" },
  { code: "FLOW202", spec: "input [2]\ncoupling affine msk=half", line: 2, column: 17, says: "did you mean `mask`?" },
  { code: "FLOW203", spec: "input [2]\npermute revrse", line: 2, column: 9, says: "did you mean `reverse`?" },
  { code: "FLOW204", spec: "input [2]\ncoupling affine bins=2.5", line: 2, column: 22, says: "expects an integer" },
  { code: "FLOW205", spec: "input [1, 4, 4]\nlogit alpha=0.5", line: 2, column: 13, says: "in [0, 0.5)" },
  { code: "FLOW205", spec: "input [2]\nleaky_relu slope=1e-320", line: 2, column: 18, says: "(an f32)" },
  { code: "FLOW205", spec: "input [2]\nleaky_relu slope=1e308", line: 2, column: 18, says: "(an f32)" },
  { code: "FLOW206", spec: "input [2]\ncoupling affine mask=chekcer", line: 2, column: 22, says: "did you mean `checker`?" },
  { code: "FLOW207", spec: "input [2]\ncoupling affine mask=half mask=alternate", line: 2, column: 27 },
  { code: "FLOW208", spec: "input [2]\ncoupling affine additive", line: 2, column: 17, says: "`affine` and `additive`" },
  // FLOW209 needs a kind with a required variant group: see the test below.
  { code: "FLOW210", spec: "input [2]\ncoupling mask", line: 2, column: 10, says: "needs a value" },
  { code: "FLOW211", spec: "input [2]\ncoupling affine=1", line: 2, column: 10 },
  { code: "FLOW212", spec: "input [2]\ncoupling affine net=mpl(hidden=8)", line: 2, column: 21, says: "did you mean `mlp`?" },
  // FLOW213 needs a kind that restricts its nets: see the test below.
  { code: "FLOW214", spec: "input [2]\ncoupling additive clamp=3", line: 2, column: 19, says: "`clamp` has no effect" },
  { code: "FLOW215", spec: "input [1, 4, 4]\ndequantize bits=8 levels=256", line: 2, column: 19 },
  { code: "FLOW216", spec: "input [2]\nactnorm\nbase gaussian", line: 3, column: 6 },
  { code: "FLOW217", spec: "input [4, 4, 4]\ncoupling affine mask=channel net=conv(hidden=8, kernel=4)", line: 2, column: 49 },
  { code: "FLOW220", spec: "actnorm\nbase normal", line: 1, column: 1 },
  { code: "FLOW221", spec: "context [1]\ninput [2]\nactnorm", line: 2, column: 1 },
  { code: "FLOW222", spec: "input [2]\nactnorm\ninput [3]", line: 3, column: 1, says: "first on line 1" },
  { code: "FLOW223", spec: "input [2]\ncontext [1]\ncontext [2]\nactnorm", line: 3, column: 1 },
  { code: "FLOW224", spec: "input [2]\nbase normal\nactnorm", line: 2, column: 1, says: "on line 3" },
  { code: "FLOW225", spec: "input [2]\nactnorm\nbase normal\nbase logistic", line: 4, column: 1 },
  { code: "FLOW226", spec: "input [2]\nrepeat 2 {\n  actnorm\n  base normal\n}", line: 4, column: 3 },
  { code: "FLOW227", spec: "input [2]\nrepeat 0 { actnorm }", line: 2, column: 8 },
  { code: "FLOW228", spec: "input [2]\nrepeat 1000 {\n  repeat 1000 { actnorm }\n}", line: 2, column: 1, says: "1,000,000 layers" },
  // shapes
  { code: "FLOW301", spec: "input [1, 7, 7]\nsqueeze", line: 2, column: 1, says: "squeeze needs an even height and width, but the input here is [1, 7, 7]" },
  { code: "FLOW302", spec: "input [4]\nconv1x1 lu", line: 2, column: 1, says: "the vector [4]" },
  { code: "FLOW303", spec: "input [1, 4, 4]\nmaf affine", line: 2, column: 1, says: "the image [1, 4, 4]" },
  { code: "FLOW304", spec: "input [4]\ncoupling affine mask=checker", line: 2, column: 17 },
  { code: "FLOW305", spec: "input [1]\ncoupling affine", line: 2, column: 1 },
  { code: "FLOW306", spec: "input [1, 4, 4]\nsplit", line: 2, column: 1, says: "split needs at least 2 channels" },
  { code: "FLOW307", spec: "input [4]\ncoupling affine net=conv(hidden=8)", line: 2, column: 17 },
  { code: "FLOW308", spec: "input [2, 4, 4]\ncoupling affine mask=half net=conv(hidden=8)", line: 2, column: 27 },
  { code: "FLOW309", spec: "input [2, 0, 4]\nactnorm", line: 1, column: 11 },
  { code: "FLOW310", spec: "input [2, 3]\nactnorm", line: 1, column: 7 },
  { code: "FLOW311", spec: "input [100000, 100000, 1000]\nactnorm", line: 1, column: 7 },
  { code: "FLOW312", spec: "input [65536]\ncoupling affine net=mlp(hidden=65536, depth=1)", line: 2, column: 1 },
  { code: "FLOW313", spec: "input [2]\ncontext [1, 2, 2]\nactnorm", line: 2, column: 9 },
  { code: "FLOW314", spec: "input [3, 1, 1]\ncoupling affine mask=checker net=mlp(hidden=8)", line: 2, column: 17 },
  // invertibility and direction
  { code: "FLOW401", spec: "input [2]\nrelu", line: 2, column: 1, says: "use `leaky_relu slope=0.01`" },
  { code: "FLOW402", spec: "input [2]\nleaky_relu slope=0", line: 2, column: 12, says: "not invertible" },
  { code: "FLOW403", spec: "input [2]\nrepeat 4 { planar }", line: 2, column: 12 },
  { code: "FLOW404", spec: "input [4]\nmaf affine\npermute reverse\nmaf affine", line: 2, column: 1, says: "4 sequential passes" },
  { code: "FLOW405", spec: "input [4]\niaf affine\npermute reverse\niaf affine", line: 2, column: 1 },
  { code: "FLOW406", spec: "input [4]\nresidual hidden=16", line: 2, column: 1, says: "100 fixed-point iterations" },
  { code: "FLOW407", spec: "input [2]; repeat 4 { coupling affine mask=alternate; permute reverse }", line: 1, column: 1, says: "feature 0 is never transformed" },
];

function diagnosticsOf(spec: string) {
  return check(spec, { filename: "fixture.flow" }).diagnostics;
}

describe("checker diagnostics: one fixture per code", () => {
  for (const f of fixtures) {
    it(`${f.code} at ${f.line}:${f.column}`, () => {
      const ds = diagnosticsOf(f.spec);
      const hit = ds.find((d) => d.code === f.code);
      expect(hit, `${f.code} not reported; got ${ds.map((d) => `${d.code} ${d.message}`).join(" | ")}`).toBeDefined();
      expect(hit!.span, "span").toBeDefined();
      expect([hit!.span!.line, hit!.span!.column]).toEqual([f.line, f.column]);
      if (f.says) expect(hit!.message).toContain(f.says);
      expect(hit!.hint, "every checker diagnostic has a hint").toBeTruthy();
      expect(hit!.filename).toBe("fixture.flow");
      expect(ds.some((d) => d.code === "FLOW500")).toBe(false);
    });
  }

  describe("codes that need a special layer kind", () => {
    const added: string[] = [];
    const register = (kind: LayerKind) => {
      layers[kind.name] = kind;
      added.push(kind.name);
    };
    afterEach(() => {
      for (const name of added.splice(0)) delete layers[name];
    });

    it("FLOW209: a required variant group left out", () => {
      register({ ...actnorm, name: "picky", variants: [{ name: "mode", values: ["a", "b"], doc: "required" }] });
      const hit = diagnosticsOf("input [2]\npicky").find((d) => d.code === "FLOW209");
      expect(hit?.span?.line).toBe(2);
      expect(hit?.span?.column).toBe(1);
      expect(hit?.message).toContain("a, b");
    });

    it("FLOW213: a net the layer does not allow", () => {
      register({ ...actnorm, name: "densecond", options: { net: { type: "net", default: { kind: "mlp", opts: {} }, allowed: ["mlp"], doc: "" } } });
      const hit = diagnosticsOf("input [2]\ndensecond net=resnet").find((d) => d.code === "FLOW213");
      expect(hit?.span?.line).toBe(2);
      expect(hit?.span?.column).toBe(15);
    });
  });

  it("every FLOW2xx/3xx/4xx code in the catalogue has a fixture", () => {
    const covered = new Set([...fixtures.map((f) => f.code), "FLOW209", "FLOW213"]);
    const defined = Object.keys({ ...nameMessages, ...shapeMessages, ...directionMessages });
    expect(defined.filter((c) => !covered.has(c))).toEqual([]);
  });
});

describe("checker behaviour", () => {
  it("reports three independent errors in one run", () => {
    const spec = "input [2]\ncoupling affine mask=checker\nactnrom\nleaky_relu slope=0\n";
    const codes = diagnosticsOf(spec).filter((d) => d.severity === "error").map((d) => d.code);
    expect(codes).toEqual(["FLOW304", "FLOW201", "FLOW402"]);
  });

  it("stops shape propagation after a shape error instead of cascading", () => {
    const spec = "input [1, 7, 7]\nsqueeze\nsqueeze\nsplit\ncoupling affine mask=channel";
    const ds = diagnosticsOf(spec).filter((d) => d.severity === "error");
    expect(ds.map((d) => d.code)).toEqual(["FLOW301"]);
  });

  it("reports a shape error inside a repeat once", () => {
    const ds = diagnosticsOf("input [1, 6, 6]\nrepeat 3 { squeeze }");
    expect(ds.filter((d) => d.code === "FLOW301")).toHaveLength(1);
    expect(ds.find((d) => d.code === "FLOW301")!.message).toContain("[4, 3, 3]");
  });

  it("reports an option error inside a repeat once", () => {
    const ds = diagnosticsOf("input [2]\nrepeat 8 { coupling affine mask=chekcer; permute reverse }");
    expect(ds.filter((d) => d.code === "FLOW206")).toHaveLength(1);
  });

  it("names the flag's owners when a flag belongs to another layer", () => {
    const hit = diagnosticsOf("input [2]\ncoupling lu").find((d) => d.code === "FLOW203");
    expect(hit?.hint).toContain("`lu` is a flag of linear, conv1x1");
  });

  it("lists the allowed options for an unknown option", () => {
    const hit = diagnosticsOf("input [2]\nleaky_relu slop=0.1").find((d) => d.code === "FLOW202");
    expect(hit?.message).toContain("did you mean `slope`?");
    expect(hit?.hint).toContain("slope=");
  });

  it("treats a planar flow as a note, not an error", () => {
    const res = check("input [2]\nrepeat 4 { planar }");
    expect(res.ok).toBe(true);
    expect(res.ir!.capabilities).toMatchObject({ logProb: false, sample: true, trainLikelihood: false, trainReverseKL: true });
  });

  it("mask parity alternates per mask kind", () => {
    const res = check("input [2, 4, 4]\nrepeat 2 { coupling affine mask=checker; coupling affine mask=channel }\ncoupling affine mask=checker");
    expect(res.ir!.layers.map((l) => [l.opts.mask, l.parity])).toEqual([
      ["checker", 0], ["channel", 0], ["checker", 1], ["channel", 1], ["checker", 0],
    ]);
  });

  it("alternate masks without a permutation touch every feature", () => {
    const res = check("input [2]\nrepeat 2 { coupling affine mask=alternate }");
    expect(res.diagnostics.map((d) => d.code)).toEqual([]);
  });

  it("half masks without a permutation leave the first half untouched", () => {
    const hit = check("input [4]\nrepeat 3 { coupling affine mask=half }").diagnostics.find((d) => d.code === "FLOW407");
    expect(hit?.message).toContain("features 0 and 1 are never transformed");
  });

  it("grows the conditioner input by the context size", () => {
    const res = check("input [4]\ncontext [3]\ncoupling affine mask=half net=mlp(hidden=16, depth=1)");
    const w = res.ir!.layers[0].params.find((p) => p.local === "net.0.weight")!;
    expect(w.shape).toEqual([16, 2 + 3]);
    const last = res.ir!.layers[0].params.find((p) => p.local === "net.1.weight")!;
    expect(last.shape).toEqual([2 * 2, 16]);
    expect(last.init).toEqual({ kind: "zeros" });
  });

  it("resolves shape-dependent defaults", () => {
    const img = check("input [2, 4, 4]\ncoupling").ir!.layers[0].opts;
    expect(img).toMatchObject({ transform: "affine", mask: "checker", scale: "sigmoid", net: { kind: "conv", opts: { hidden: 128, kernel: 3 } } });
    const vec = check("input [4]\ncoupling").ir!.layers[0].opts;
    expect(vec).toMatchObject({ mask: "half", net: { kind: "mlp", opts: { hidden: 64, depth: 2, act: "relu" } } });
    expect(vec).not.toHaveProperty("clamp");
    expect(check("input [4]\ndequantize bits=4").ir!.layers[0].opts).toEqual({ noise: "uniform", levels: 16 });
  });

  it("hashes the unrolled flow, not its spelling", () => {
    const a = check("input [2]\nrepeat 2 { coupling affine mask=half; permute reverse }").ir!.hash;
    const b = check("# same flow\ninput [2]\ncoupling affine mask=half net=mlp(hidden=64, depth=2)\npermute\ncoupling mask=half\npermute reverse\nbase normal").ir!.hash;
    const c = check("input [2]\nrepeat 2 { coupling affine mask=half; permute random }").ir!.hash;
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it("lays out trainable parameters first, then buffers, with the base in between", () => {
    const ir = check("input [3]\nlinear lu\npermute reverse\nbase normal learned").ir!;
    const all = [...ir.layers.flatMap((l) => l.params), ...ir.base.params].sort((x, y) => x.offset - y.offset);
    expect(all.map((p) => p.name)).toEqual([
      "layers.0.L", "layers.0.U", "layers.0.logs", "layers.0.bias", "base.loc", "base.log_scale",
      "layers.0.P", "layers.0.sign", "layers.1.perm",
    ]);
    expect(ir.trainableCount).toBe(9 + 9 + 3 + 3 + 3 + 3);
    expect(ir.paramCount).toBe(ir.trainableCount + 9 + 3 + 3);
  });

  it("keeps the checker's own option errors when the file also has syntax errors", () => {
    const res = check("input [2]\ncoupling affine mask=chekcer\nactnorm (\n");
    const codes = res.diagnostics.map((d) => d.code);
    expect(codes.some((c) => c.startsWith("FLOW1"))).toBe(true);
    expect(codes).toContain("FLOW206");
    expect(res.ok).toBe(false);
  });
});
