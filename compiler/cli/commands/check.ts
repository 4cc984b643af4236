/**
 * @fileoverview `flowc check FILE…`: checks specs and prints their
 * diagnostics as code frames on stderr (`--json`: one `{file, ok,
 * diagnostics}` object per file, as a JSON array on stdout). Exits 1 if any
 * file has an error, 2 if a file cannot be read.
 */
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { check } from "../../check/api.ts";
import { diag } from "../../diagnostics/catalogue.ts";
import { formatDiagnostics } from "../../diagnostics/format.ts";
import type { Diagnostic } from "../../diagnostics/types.ts";

/** Read a spec; an unreadable file becomes a diagnostic rather than an exception. */
export function readSpec(file: string): { source: string | null; diagnostics: Diagnostic[] } {
  try {
    return { source: readFileSync(file, "utf8"), diagnostics: [] };
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return { source: null, diagnostics: [diag("FLOW605", { reason }, undefined, { filename: file })] };
  }
}

/** Colour only on a terminal, and never when NO_COLOR is set. */
export const useColor = (stream: NodeJS.WriteStream): boolean => Boolean(stream.isTTY) && !process.env.NO_COLOR;

export function register(program: Command): void {
  program
    .command("check")
    .description("check .flow specs: syntax, options, shapes, invertibility")
    .argument("<files...>", ".flow files")
    .option("--json", "print [{file, ok, diagnostics}] as JSON on stdout")
    .action((files: string[], o: { json?: boolean }) => {
      const results: { file: string; ok: boolean; diagnostics: Diagnostic[] }[] = [];
      let code = 0;
      for (const file of files) {
        const read = readSpec(file);
        if (read.source === null) {
          results.push({ file, ok: false, diagnostics: read.diagnostics });
          if (!o.json) process.stderr.write(formatDiagnostics(read.diagnostics) + "\n");
          code = 2;
          continue;
        }
        const res = check(read.source, { filename: file });
        results.push({ file, ok: res.ok, diagnostics: res.diagnostics });
        if (!res.ok) code = Math.max(code, 1);
        if (o.json) continue;
        if (res.diagnostics.length) process.stderr.write(formatDiagnostics(res.diagnostics, read.source, { color: useColor(process.stderr) }) + "\n");
        if (res.ok && res.summary) {
          const t = res.summary.totals;
          process.stdout.write(`${file}: ok, ${t.layers} layers, ${t.params.toLocaleString("en-US")} parameters\n`);
        }
      }
      if (o.json) process.stdout.write(JSON.stringify(results, null, 2) + "\n");
      process.exitCode = code;
    });
}
