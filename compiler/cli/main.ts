/**
 * @fileoverview The `flowc` command line. Every subcommand lives in its own
 * module under ./commands/ exporting `register(program)`; adding a command is
 * one file there plus one line in the list below.
 *
 * Exit codes: 0 success (warnings allowed), 1 errors in the input (spec
 * diagnostics, bad data), 2 usage errors (unknown command or option, missing
 * argument, unreadable file). User errors print a message, never a stack trace.
 */
import { Command, CommanderError } from "commander";
import { FLOWC_VERSION } from "../version.ts";

export interface CommandModule {
  register(program: Command): void;
}

/** Exit code for usage errors; commands may throw `new UsageError(...)` to get it. */
export class UsageError extends Error {
  override name = "UsageError";
}

const program = new Command("flowc")
  .description("compile normalizing-flow specs (.flow) to WebAssembly; check, inspect, train, sample")
  .version(FLOWC_VERSION, "-V, --version")
  .showSuggestionAfterError(true)
  .exitOverride();

/** One line per command: its name and its module. Only the module of the command being
 *  run is loaded (training pulls in the compiler back end, `check` should not). */
const commands: Record<string, () => Promise<CommandModule>> = {
  check: () => import("./commands/check.ts"),
  inspect: () => import("./commands/inspect.ts"),
  compile: () => import("./commands/compile.ts"),
  train: () => import("./commands/train.ts"),
  eval: () => import("./commands/eval.ts"),
  sample: () => import("./commands/sample.ts"),
  verify: () => import("./commands/verify.ts"),
  bundle: () => import("./commands/bundle.ts"),
};

/** The subcommand named on the command line, if it is one of ours. */
function requested(argv: readonly string[]): string | undefined {
  const first = argv.slice(2).find((a) => !a.startsWith("-"));
  return first !== undefined && Object.hasOwn(commands, first) ? first : undefined;
}

const wanted = requested(process.argv);
// Help, suggestions for typos and `flowc help <cmd>` need every command registered.
for (const name of wanted ? [wanted] : Object.keys(commands)) (await commands[name]()).register(program);

function report(e: unknown): number {
  if (e instanceof CommanderError) {
    // Commander has already printed its message (or the help / version).
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
    return 2;
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`${/^(error|internal error)\b/.test(message) ? "" : "error: "}${message}\n`);
  if (process.env.FLOWC_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return e instanceof UsageError ? 2 : 1;
}

try {
  if (process.argv.length <= 2) {
    program.outputHelp({ error: true });
    process.exitCode = 2;
  } else {
    await program.parseAsync(process.argv);
  }
} catch (e) {
  process.exitCode = report(e);
}
