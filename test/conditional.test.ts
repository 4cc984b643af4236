/**
 * @fileoverview Conditional flows (`context [k]`) through the command line:
 * `conditional-moons.flow` trained on the labelled moons draws, given one
 * moon's label, samples that land on that moon (nearest-arc classification,
 * ≥ 99 %); `conditional-digits.flow` scores held-out digits best under their
 * own class far more often than chance; the context columns of a CSV are
 * picked by index, range or header name; contexts survive the validation
 * split and --resume; and every missing, extra or malformed context is a
 * clear error.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { PNG } from "pngjs";
import { sampleToyLabelled, sampleToy } from "../runtime-wasm/host/toys.ts";
import { contextFromColumns, parseColumns } from "../compiler/cli/io/data.ts";
import { FlowcInputError } from "../runtime-wasm/host/errors.ts";

const root = join(import.meta.dirname, "..");
const flowc = (...args: string[]) => spawnSync(process.execPath, [join(root, "bin/flowc.mjs"), ...args], { encoding: "utf8", cwd: root, timeout: 600_000 });

const commands = {
  train: () => import("../compiler/cli/commands/train.ts"),
  eval: () => import("../compiler/cli/commands/eval.ts"),
  sample: () => import("../compiler/cli/commands/sample.ts"),
};

let stdout = "";

/**
 * Runs a command in this process through its commander definition (faster than a
 * new process on a busy machine); resolves to the error message, or null on
 * success, and leaves what it printed in `stdout`.
 */
async function run(command: keyof typeof commands, ...args: string[]): Promise<string | null> {
  const program = new Command("flowc").exitOverride();
  (await commands[command]()).register(program);
  const [out, err] = [process.stdout.write, process.stderr.write];
  stdout = "";
  process.stdout.write = ((s: string) => { stdout += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await program.parseAsync(["node", "flowc", command, ...args]);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** Which moon of sklearn's make_moons (as in toys.ts) is nearer: 0 = the upper arc around (0, 0), 1 = the lower arc around (1, 0.5). */
function nearestMoon(x: number, y: number): 0 | 1 {
  const arc = (cx: number, cy: number, lo: number) => {
    // Distance to the half circle of radius 1 around (cx, cy) spanning angles [lo, lo + π].
    let a = Math.atan2(y - cy, x - cx);
    if (a < lo) a += 2 * Math.PI;
    if (a <= lo + Math.PI) return Math.abs(Math.hypot(x - cx, y - cy) - 1);
    return Math.min(Math.hypot(x - cx - Math.cos(lo), y - cy - Math.sin(lo)), Math.hypot(x - cx - Math.cos(lo + Math.PI), y - cy - Math.sin(lo + Math.PI)));
  };
  return arc(0, 0, 0) <= arc(1, 0.5, Math.PI) ? 0 : 1;
}

function readRows(file: string): number[][] {
  return readFileSync(file, "utf8").trim().split("\n").map((l) => l.split(",").map(Number));
}

describe("the nearest-moon classifier", () => {
  it("puts every noiseless point of each arc on its own moon", () => {
    const { data, labels } = sampleToyLabelled("moons", 4000, 9);
    let hits = 0;
    for (let i = 0; i < 4000; i++) if (nearestMoon(data[2 * i], data[2 * i + 1]) === labels[i]) hits++;
    // The noisy data themselves: the arcs come within ≈ 0.3 of each other near their tips, so a few cross.
    expect(hits / 4000).toBeGreaterThan(0.99);
    for (let k = 0; k <= 100; k++) {
      const t = (Math.PI * k) / 100;
      expect(nearestMoon(Math.cos(t), Math.sin(t))).toBe(0);
      expect(nearestMoon(1 - Math.cos(t), 0.5 - Math.sin(t))).toBe(1);
    }
  });
});

describe("labelled toys", () => {
  it("give the same rows as the unlabelled ones, with their component", () => {
    for (const name of ["moons", "8gaussians", "pinwheel", "rings", "spirals"] as const) {
      const { data, labels } = sampleToyLabelled(name, 777, 4);
      expect(Array.from(data)).toEqual(Array.from(sampleToy(name, 777, 4)));
      expect(labels.length).toBe(777);
      expect(new Set(labels).size).toBeGreaterThan(1);
    }
    const { data, labels } = sampleToyLabelled("rings", 2000, 1);
    for (let i = 0; i < 2000; i++) expect(Math.abs(Math.hypot(data[2 * i], data[2 * i + 1]) - 3 * [1, 0.75, 0.5, 0.25][labels[i]])).toBeLessThan(0.5);
    expect(() => sampleToyLabelled("checkerboard", 10, 0)).toThrow(/labelled toy density.*checkerboard/);
  });
});

describe("--context-cols parsing", () => {
  const header = ["x", "y", "moon"];
  it("takes indices, negative indices, ranges and header names", () => {
    expect(parseColumns("2", 3, undefined, "f")).toEqual([2]);
    expect(parseColumns("-1", 3, undefined, "f")).toEqual([2]);
    expect(parseColumns("1:3", 5, undefined, "f")).toEqual([1, 2]);
    expect(parseColumns(":2", 5, undefined, "f")).toEqual([0, 1]);
    expect(parseColumns("-2:", 5, undefined, "f")).toEqual([3, 4]);
    expect(parseColumns("moon", 3, header, "f")).toEqual([2]);
    expect(parseColumns("moon, 0", 3, header, "f")).toEqual([2, 0]);
  });
  it("refuses what is not there, with the file's columns", () => {
    expect(() => parseColumns("3", 3, undefined, "d.csv")).toThrow(/d\.csv.*'3'.*\[-3, 2\]/);
    expect(() => parseColumns("label", 3, header, "d.csv")).toThrow(/'label'.*x, y, moon/);
    expect(() => parseColumns("label", 3, undefined, "d.csv")).toThrow(/no header row/);
    expect(() => parseColumns("2:1", 3, undefined, "d.csv")).toThrow(/non-empty range/);
    expect(() => parseColumns("2,-1", 3, undefined, "d.csv")).toThrow(/at most once/);
  });
  it("reads one column of class labels one-hot for a context of k > 1, and nothing else", () => {
    expect(Array.from(contextFromColumns([2, 0], 1, 3, { what: "t" }))).toEqual([0, 0, 1, 1, 0, 0]);
    expect(Array.from(contextFromColumns([0.5, 2], 2, 2, { what: "t" }))).toEqual([0.5, 2]);
    expect(() => contextFromColumns([1, 3], 1, 3, { what: "the label" })).toThrow(/row 2.*integer in \[0, 2\].*got 3/);
    expect(() => contextFromColumns([1, 0.5], 1, 3, { what: "the label" })).toThrow(FlowcInputError);
    expect(() => contextFromColumns([1, 2, 3, 4], 2, 3, { what: "t" })).toThrow(/FLOW604|context \[3\] needs 3/);
  });
});

describe("conditional-moons through the CLI", { timeout: 900_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "flowc-cond-"));
  const out = join(dir, "run");

  it("samples drawn given a moon's label land on that moon ≥ 99 % of the time", async () => {
    expect(await run("train", "spec-examples/conditional-moons.flow", "--data", "moons", "--context-cols", "label", "--steps", "1500", "--batch", "256", "--lr", "1e-3", "--seed", "0", "--n", "20000", "--out", out, "--quiet")).toBeNull();
    for (const moon of [0, 1]) {
      const f = join(dir, `moon${moon}.csv`);
      const args = ["sample", out, "-n", "2000", "--seed", String(11 + moon), "--context", String(moon), "-o", f];
      // One draw through the flowc binary itself, the other in this process.
      if (moon === 0) {
        const s = flowc(...args);
        expect(s.status, s.stderr).toBe(0);
      } else {
        expect(await run("sample", ...args.slice(1))).toBeNull();
      }
      const rows = readRows(f);
      expect(rows.length).toBe(2000);
      // The CSV carries the context after the data columns.
      expect(rows.every((r) => r.length === 3 && r[2] === moon)).toBe(true);
      const on = rows.filter((r) => nearestMoon(r[0], r[1]) === moon).length;
      expect(on / 2000).toBeGreaterThanOrEqual(0.99);
    }
    // log p(x | c) with the true labels: a single moon is far sharper than the mixture (≈ 1.9 nats for this flow unconditioned).
    expect(await run("eval", out, "--data", "moons", "--context-cols", "label", "--n", "5000", "--json")).toBeNull();
    expect(JSON.parse(stdout).nll).toBeLessThan(0.5);
  });

  it("samples one row per line of a --context-file and writes the context next to each", async () => {
    const ctx = join(dir, "ctx.csv"), f = join(dir, "mixed.csv");
    writeFileSync(ctx, Array.from({ length: 400 }, (_, i) => String(i % 2)).join("\n") + "\n");
    expect(await run("sample", out, "--context-file", ctx, "--seed", "3", "-o", f)).toBeNull();
    const rows = readRows(f);
    expect(rows.length).toBe(400);
    expect(rows.map((r) => r[2])).toEqual(Array.from({ length: 400 }, (_, i) => i % 2));
    expect(rows.filter((r) => nearestMoon(r[0], r[1]) === r[2]).length / 400).toBeGreaterThanOrEqual(0.97);
    expect(await run("sample", out, "--context-file", ctx, "-n", "10", "-o", f)).toMatch(/-n 10 but .*400 context rows/);
    // Scatters over p(x | c) for one context, and over the mixture for a file of two.
    for (const [flag, v] of [["--context", "1"], ["--context-file", ctx]]) {
      const png = join(dir, `scatter${flag}.png`);
      expect(await run("sample", out, flag, v, "-n", "400", "-o", png)).toBeNull();
      expect(PNG.sync.read(readFileSync(png)).width).toBeGreaterThan(100);
    }
  });

  it("refuses a missing, extra or malformed context with a message that says what to give", async () => {
    const o = join(dir, "bad");
    expect(await run("train", "spec-examples/conditional-moons.flow", "--data", "moons", "--steps", "1", "--out", o, "--quiet")).toMatch(/conditional \(context \[1\]\).*--context-cols/);
    expect(await run("train", "spec-examples/moons.flow", "--data", "moons", "--context-cols", "label", "--steps", "1", "--out", o, "--quiet")).toMatch(/--context-cols was given, but this flow takes no context/);
    expect(await run("train", "spec-examples/conditional-moons.flow", "--data", "checkerboard", "--context-cols", "label", "--steps", "1", "--out", o, "--quiet")).toMatch(/FLOW608.*checkerboard.*has none/);
    expect(await run("train", "spec-examples/conditional-moons.flow", "--data", "moons", "--context-cols", "2", "--steps", "1", "--out", o, "--quiet")).toMatch(/FLOW608.*'label'/);
    expect(await run("eval", out, "--data", "moons")).toMatch(/--context-cols/);
    expect(await run("train", "spec-examples/iaf-vi.flow", "--target", "banana", "--context-cols", "label", "--steps", "1", "--out", o, "--quiet")).toMatch(/--context-cols goes with --data/);
    expect(await run("sample", out, "-n", "5", "-o", join(dir, "x.csv"))).toMatch(/conditional \(context \[1\]\): give --context v .*--context-file/);
    expect(await run("sample", out, "-n", "5", "--context", "0,1", "-o", join(dir, "x.csv"))).toMatch(/2 values but the spec's context is \[1\]: give one value/);
    expect(await run("sample", out, "-n", "5", "--context", "nan", "-o", join(dir, "x.csv"))).toMatch(/not a finite number/);
  });
});

describe("context columns of a CSV, validation split and resume", { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "flowc-cond-csv-"));
  const { data, labels } = sampleToyLabelled("moons", 3000, 2);
  const lines = Array.from({ length: 3000 }, (_, i) => `${labels[i]},${data[2 * i]},${data[2 * i + 1]}`);
  writeFileSync(join(dir, "h.csv"), "moon,x,y\n" + lines.join("\n") + "\n");
  writeFileSync(join(dir, "n.csv"), lines.join("\n") + "\n");
  const common = ["spec-examples/conditional-moons.flow", "--batch", "64", "--lr", "1e-3", "--seed", "5", "--checkpoint-every", "40", "--val", "0.1", "--quiet"];
  const weights = (d: string) => readFileSync(join(d, "weights.safetensors"));

  it("picks the same column by name, index or negative index; the rest are the data", async () => {
    for (const [file, cols, d] of [["h.csv", "moon", "a"], ["n.csv", "0", "b"], ["n.csv", "-3", "c"]]) {
      expect(await run("train", ...common, "--data", join(dir, file), "--context-cols", cols, "--steps", "40", "--out", join(dir, d))).toBeNull();
    }
    expect(weights(join(dir, "b")).equals(weights(join(dir, "a")))).toBe(true);
    expect(weights(join(dir, "c")).equals(weights(join(dir, "a")))).toBe(true);
    const info = JSON.parse(readFileSync(join(dir, "a", "run.json"), "utf8"));
    expect(info.options.contextCols).toBe("moon");
    expect(Number.isFinite(info.valNll)).toBe(true);
    // Two context columns leave one data column for a flow of two.
    expect(await run("train", ...common, "--data", join(dir, "n.csv"), "--context-cols", "0:2", "--steps", "1", "--out", join(dir, "z"))).toMatch(/FLOW604.*1 \(3 columns less 2 for the context\).*needs 2/);
  });

  it("an interrupted run resumed from its checkpoint ends with the weights of an uninterrupted one", async () => {
    const src = ["--data", join(dir, "h.csv"), "--context-cols", "moon"];
    // Progress pictures (drawn with the training contexts) leave the training itself alone.
    expect(await run("train", ...common, ...src, "--steps", "120", "--sample-every", "120", "--out", join(dir, "full"))).toBeNull();
    expect(existsSync(join(dir, "full", "samples-120.png"))).toBe(true);
    expect(await run("train", ...common, ...src, "--steps", "80", "--out", join(dir, "part"))).toBeNull();
    expect(await run("train", ...common, ...src, "--steps", "120", "--out", join(dir, "part"), "--resume")).toBeNull();
    expect(weights(join(dir, "part")).equals(weights(join(dir, "full")))).toBe(true);
  });
});

describe("conditional-digits", { timeout: 900_000 }, () => {
  it("scores held-out digits highest under their own class far more often than chance", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "flowc-cdigits-")), "run");
    expect(await run("train", "spec-examples/conditional-digits.flow", "--data", "digits", "--context-cols", "label", "--steps", "80", "--batch", "64", "--lr", "1e-3", "--seed", "0", "--out", out, "--quiet")).toBeNull();
    expect(await run("eval", out, "--data", "digits", "--context-cols", "label", "--json")).toBeNull();
    const r = JSON.parse(stdout);
    expect(r.n).toBe(359);
    // Chance is 10 %.
    expect(r.accuracy).toBeGreaterThan(0.5);
    // A one-hot --context draws images of that class.
    const png = join(out, "..", "threes.png");
    expect(await run("sample", out, "-n", "16", "--context", "3", "--temperature", "0.7", "-o", png)).toBeNull();
  });
});
