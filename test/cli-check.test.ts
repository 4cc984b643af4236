/**
 * @fileoverview `flowc check` and `flowc inspect` as a user runs them: exit
 * codes (0 ok, 1 spec errors, 2 usage errors or unreadable files), code
 * frames on stderr, JSON on stdout, no stack traces.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const flowc = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join(root, "bin/flowc.mjs"), ...args], { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

const dir = mkdtempSync(join(tmpdir(), "flowc-cli-"));
const bad = join(dir, "bad.flow");
writeFileSync(bad, "input [1, 7, 7]\nsqueeze\n");
const warn = join(dir, "warn.flow");
writeFileSync(warn, "input [2]\nrepeat 4 { coupling affine mask=alternate; permute reverse }\n");

describe("flowc check", () => {
  it("exits 0 on clean specs", () => {
    const r = flowc("check", "spec-examples/moons.flow", "spec-examples/glow-mnist.flow");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("spec-examples/moons.flow: ok");
  });

  it("prints a code frame and exits 1 on errors", () => {
    const r = flowc("check", bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bad.flow:2:1: error FLOW301: squeeze needs an even height and width, but the input here is [1, 7, 7]");
    expect(r.stderr).toContain("  2 | squeeze\n    | ^~~~~~~");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("exits 0 with warnings", () => {
    const r = flowc("check", warn);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("warning FLOW407");
  });

  it("prints JSON per file", () => {
    const r = flowc("check", "--json", "spec-examples/moons.flow", bad);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.map((x: { file: string; ok: boolean }) => [x.file, x.ok])).toEqual([["spec-examples/moons.flow", true], [bad, false]]);
    expect(out[1].diagnostics[0]).toMatchObject({ code: "FLOW301", severity: "error", span: { line: 2, column: 1 } });
  });

  it("exits 2 on an unreadable file and on usage errors", () => {
    expect(flowc("check", join(dir, "missing.flow")).code).toBe(2);
    expect(flowc("check").code).toBe(2);
    expect(flowc("check", "--bogus", bad).code).toBe(2);
    expect(flowc("nonsense").code).toBe(2);
    expect(flowc().code).toBe(2);
    expect(flowc("--help").code).toBe(0);
  });
});

describe("flowc inspect", () => {
  it("prints one row per layer, totals and capabilities", () => {
    const r = flowc("inspect", "spec-examples/glow-mnist.flow");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ *2 +squeeze +\[4, 14, 14\] +0 +analytic, parallel +analytic, parallel/m);
    expect(r.stdout).toMatch(/^ *27 +split prior=learned +\[2, 14, 14\]/m);
    expect(r.stdout).toContain("total: 53 layers, 434,604 parameters");
    expect(r.stdout).toContain("capabilities: logProb yes, sample yes");
  });

  it("shows slow directions", () => {
    const r = flowc("inspect", "spec-examples/maf-tabular.flow");
    expect(r.stdout).toMatch(/maf affine hidden=64 depth=2 +\[8\] +.*analytic, parallel +analytic, 8 sequential passes/);
    expect(r.stdout).toContain("note: sampling is slow");
  });

  it("prints the summary as JSON", () => {
    const r = flowc("inspect", "--json", "spec-examples/planar-vi.flow");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.summary.rows).toHaveLength(32);
    expect(out.summary.capabilities.logProb).toBe(false);
    expect(out.summary.rows[0].forward.text).toBe("unavailable");
  });

  it("exits 1 without a table on errors", () => {
    const r = flowc("inspect", bad);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("FLOW301");
  });
});
