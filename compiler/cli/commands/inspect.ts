/**
 * @fileoverview `flowc inspect FILE`: checks a spec and prints one row per
 * unrolled layer (index, layer with its options, output shape, parameters,
 * forward and inverse kind/cost, FLOPs per sample), then totals, the latent
 * layout and what the flow can do. `--json` prints `{file, ok, diagnostics,
 * summary}`. Exits 1 if the spec has errors (no table then), 2 if unreadable.
 */
import type { Command } from "commander";
import { check } from "../../check/api.ts";
import { formatDiagnostics } from "../../diagnostics/format.ts";
import type { FlowSummary } from "../../check/summary.ts";
import { readSpec, useColor } from "./check.ts";

const shape = (s: readonly number[]) => `[${s.join(", ")}]`;
const count = (n: number) => n.toLocaleString("en-US");

/** 2352 → "2.35k", 97958840 → "98.0M". */
export function compact(n: number): string {
  if (n === 0) return "0";
  const units = ["", "k", "M", "G", "T", "P"];
  let u = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? String(Math.round(v)) : `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${units[u]}`;
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** The human-readable report. */
export function renderSummary(s: FlowSummary): string {
  const head = ["#", "layer", "output", "params", "forward", "inverse", "FLOPs/sample fwd / inv"];
  const rows = s.rows.map((r) => [
    String(r.index),
    clip(r.text, 72),
    shape(r.outShape),
    count(r.params),
    r.forward.text,
    r.inverse.text,
    r.forward.kind === "none" ? `— / ${compact(r.flops.inverse)}` : `${compact(r.flops.forward)} / ${compact(r.flops.inverse)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const right = new Set([0, 3]);
  const line = (cells: string[]) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  const out = [line(head), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)];

  const t = s.totals;
  const baseOpts = Object.entries(s.base.opts).map(([k, v]) => `${k}=${v}`).join(" ");
  out.push("");
  out.push(`input ${shape(s.inputShape)}${s.contextSize ? `, context [${s.contextSize}]` : ""} → base ${s.base.kind}${baseOpts ? ` (${baseOpts})` : ""} on ${shape(s.finalShape)}${s.base.params ? `, ${count(s.base.params)} parameters` : ""}`);
  if (s.latentLayout.length > 1) {
    const parts = s.latentLayout.map((p) => `${p.layer < 0 ? "final" : `layer ${p.layer}`} ${shape(p.shape)} @${p.offset}`);
    out.push(`latent: ${parts.join(", ")}`);
  }
  out.push(`total: ${t.layers} layers, ${count(t.params)} parameters (${count(t.trainable)} trainable, ${count(t.buffers)} buffers)`);
  out.push(`FLOPs per sample: ${compact(t.flops.forward)} forward (data → latent), ${compact(t.flops.inverse)} inverse (latent → data)`);
  const c = s.capabilities;
  const yn = (b: boolean) => (b ? "yes" : "no");
  out.push(`capabilities: logProb ${yn(c.logProb)}, sample ${yn(c.sample)}, train by likelihood ${yn(c.trainLikelihood)}, train by reverse KL ${yn(c.trainReverseKL)}`);
  for (const n of c.notes) out.push(`  note: ${n}`);
  out.push(`hash: ${s.hash}`);
  return out.join("\n");
}

export function register(program: Command): void {
  program
    .command("inspect")
    .description("print a spec's layers: shapes, parameters, direction and cost")
    .argument("<file>", ".flow file")
    .option("--json", "print {file, ok, diagnostics, summary} as JSON on stdout")
    .action((file: string, o: { json?: boolean }) => {
      const read = readSpec(file);
      if (read.source === null) {
        if (o.json) process.stdout.write(JSON.stringify({ file, ok: false, diagnostics: read.diagnostics, summary: null }, null, 2) + "\n");
        else process.stderr.write(formatDiagnostics(read.diagnostics) + "\n");
        process.exitCode = 2;
        return;
      }
      const res = check(read.source, { filename: file });
      if (o.json) {
        process.stdout.write(JSON.stringify({ file, ok: res.ok, diagnostics: res.diagnostics, summary: res.summary }, null, 2) + "\n");
      } else {
        if (res.diagnostics.length) process.stderr.write(formatDiagnostics(res.diagnostics, read.source, { color: useColor(process.stderr) }) + "\n");
        if (res.summary) process.stdout.write(renderSummary(res.summary) + "\n");
      }
      process.exitCode = res.ok ? 0 : 1;
    });
}
