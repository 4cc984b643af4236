/**
 * @fileoverview Validates a statement's arguments against a schema (a layer
 * kind's, a net's or a base's variants and options) and resolves them:
 * flags pick variants, `name=value` options are type- and range-checked,
 * defaults are filled in. Problems are FLOW2xx diagnostics with the allowed
 * names or values and a "did you mean" from edit distance. A bad value is
 * reported and replaced by its default so checking can go on.
 */
import type { Arg, Span, Value } from "../syntax/ast.ts";
import type { NetConfig, OptionSpec, Opts, RuleCtx, VariantGroup } from "../layers/types.ts";
import { layers } from "../layers/index.ts";
import { nets } from "../layers/nets/index.ts";
import { Reporter } from "./report.ts";

export interface Schema {
  variants?: VariantGroup[];
  options: Record<string, OptionSpec>;
}

export interface ResolvedArgs {
  opts: Opts;
  /** Span of every option, flag and variant group written in the source (groups under their group name). */
  written: Map<string, Span>;
}

/** A registry lookup that ignores inherited keys, so `constructor` or `toString` are unknown names. */
export function own<T>(rec: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

// ---------------------------------------------------------------- did you mean

/** Optimal-string-alignment distance: Levenshtein plus adjacent transpositions ("actnrom"). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => [i, ...new Array<number>(n).fill(0)]);
  for (let j = 0; j <= n; j++) d[0][j] = j;
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[m][n];
}

/** The closest candidate within a typo's reach, or undefined. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const exact = candidates.find((c) => c.toLowerCase() === lower);
  if (exact) return exact;
  const reach = name.length <= 3 ? 1 : name.length <= 6 ? 2 : 3;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(lower, c.toLowerCase());
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return bestD <= reach ? best : undefined;
}

/** "; did you mean `x`?" or "". */
export function suggestion(name: string, candidates: readonly string[]): string {
  const c = closest(name, candidates);
  return c ? `; did you mean \`${c}\`?` : "";
}

// ---------------------------------------------------------------- describing specs

/** "between 1 and 16", "> 0", "in [0, 0.5)". */
export function describeRange(spec: OptionSpec): string {
  if (spec.type !== "int" && spec.type !== "float") return "";
  const { min, max } = spec;
  const exMin = spec.type === "float" && spec.exclusiveMin;
  const exMax = spec.type === "float" && spec.exclusiveMax;
  if (min !== undefined && max !== undefined) {
    if (spec.type === "int") return `between ${min} and ${max}`;
    return `in ${exMin ? "(" : "["}${min}, ${max}${exMax ? ")" : "]"}`;
  }
  if (min !== undefined) return `${exMin ? ">" : "≥"} ${min}`;
  if (max !== undefined) return `${exMax ? "<" : "≤"} ${max}`;
  return "";
}

function inRange(spec: OptionSpec, v: number): boolean {
  if (spec.type !== "int" && spec.type !== "float") return true;
  const exMin = spec.type === "float" && spec.exclusiveMin;
  const exMax = spec.type === "float" && spec.exclusiveMax;
  if (spec.min !== undefined && (exMin ? !(v > spec.min) : !(v >= spec.min))) return false;
  if (spec.max !== undefined && (exMax ? !(v < spec.max) : !(v <= spec.max))) return false;
  return true;
}

function showNet(n: NetConfig): string {
  const args = Object.entries(n.opts).map(([k, v]) => `${k}=${v}`);
  return args.length ? `${n.kind}(${args.join(", ")})` : n.kind;
}

/** A value that would be accepted, for hints. */
export function exampleValue(spec: OptionSpec): string {
  switch (spec.type) {
    case "int":
      return String(spec.default ?? spec.min ?? 1);
    case "float":
      return String(spec.default ?? (spec.min !== undefined ? spec.min + 1 : 1));
    case "enum":
      return spec.default ?? spec.values[0];
    case "bool":
      return "true";
    case "net":
      return showNet(spec.default);
    case "intlist":
      return `[${(spec.default ?? [1, 2]).join(", ")}]`;
  }
}

function expectedText(spec: OptionSpec): string {
  switch (spec.type) {
    case "int":
      return "an integer";
    case "float":
      return "a number";
    case "enum":
      return `one of ${spec.values.join(", ")}`;
    case "bool":
      return "true or false";
    case "net":
      return "a conditioner net such as mlp(hidden=64, depth=2)";
    case "intlist":
      return "a list of integers such as [1, 2]";
  }
}

/** "mask=, net=, scale=" plus the flags, for "takes:" hints. */
function describeSchema(schema: Schema): string {
  const parts = [
    ...(schema.variants ?? []).map((g) => g.values.join("|")),
    ...Object.keys(schema.options).map((k) => `${k}=`),
  ];
  return parts.length ? parts.join(", ") : "no options";
}

/** Fill a net's own option defaults. */
export function netWithDefaults(n: NetConfig): NetConfig {
  const kind = own(nets, n.kind);
  const opts: NetConfig["opts"] = {};
  if (kind) for (const [k, spec] of Object.entries(kind.options)) if (spec.default !== undefined && spec.type !== "net") opts[k] = spec.default as number | string | boolean;
  return { kind: n.kind, opts: { ...opts, ...n.opts } };
}

function defaultOf(spec: OptionSpec): Opts[string] | undefined {
  if (spec.default === undefined) return undefined;
  if (spec.type === "net") return netWithDefaults(spec.default);
  if (spec.type === "intlist") return [...(spec.default ?? [])];
  return spec.default;
}

// ---------------------------------------------------------------- resolution

/** Which layer kinds declare a flag, for "flag from the wrong layer" hints. */
function flagOwners(flag: string): string[] {
  return Object.values(layers).filter((k) => k.variants?.some((g) => g.values.includes(flag))).map((k) => k.name);
}

/**
 * Validate and resolve `args` against `schema`. `owner` names the statement in
 * messages ("coupling", "net=mlp", "base normal"); `at` is the statement's span.
 */
export function resolveArgs(owner: string, schema: Schema, args: readonly Arg[], at: Span, r: Reporter): ResolvedArgs {
  const opts: Opts = {};
  const written = new Map<string, Span>();
  const chosen = new Map<string, { flag: string; span: Span }>();
  const groups = schema.variants ?? [];
  const flags = [...groups.flatMap((g) => g.values), ...Object.entries(schema.options).filter(([, s]) => s.type === "bool").map(([k]) => k)];
  const takes = describeSchema(schema);

  for (const arg of args) {
    if (arg.value === undefined) {
      const group = groups.find((g) => g.values.includes(arg.name));
      if (group) {
        const prev = chosen.get(group.name);
        if (prev) {
          if (prev.flag === arg.name) r.add("FLOW207", { name: arg.name, owner }, arg.span);
          else r.add("FLOW208", { first: prev.flag, second: arg.name, group: group.name, owner, allowed: group.values.join(", ") }, arg.span);
          continue;
        }
        chosen.set(group.name, { flag: arg.name, span: arg.span });
        opts[group.name] = arg.name;
        written.set(group.name, arg.span);
        written.set(arg.name, arg.span);
        continue;
      }
      const spec = own(schema.options, arg.name);
      if (spec?.type === "bool") {
        if (written.has(arg.name)) r.add("FLOW207", { name: arg.name, owner }, arg.span);
        else {
          opts[arg.name] = true;
          written.set(arg.name, arg.span);
        }
        continue;
      }
      if (spec) {
        r.add("FLOW210", { option: arg.name, owner, example: exampleValue(spec) }, arg.span);
        continue;
      }
      const elsewhere = flagOwners(arg.name).filter((k) => k !== owner);
      const hint = elsewhere.length
        ? `\`${arg.name}\` is a flag of ${elsewhere.join(", ")}; ${owner} takes: ${takes}`
        : `${owner} takes: ${takes}`;
      const cands = [...flags, ...Object.keys(schema.options)];
      r.add("FLOW203", { flag: arg.name, owner, suggestion: suggestion(arg.name, cands), allowed: flags.join(", ") || "none" }, arg.nameSpan, hint);
      continue;
    }

    const spec = own(schema.options, arg.name);
    if (!spec) {
      if (flags.includes(arg.name)) r.add("FLOW211", { flag: arg.name, owner }, arg.span);
      else r.add("FLOW202", { option: arg.name, owner, suggestion: suggestion(arg.name, [...Object.keys(schema.options), ...groups.map((g) => g.name)]), allowed: takes }, arg.nameSpan);
      continue;
    }
    if (written.has(arg.name)) {
      r.add("FLOW207", { name: arg.name, owner }, arg.span);
      continue;
    }
    written.set(arg.name, arg.span);
    const v = checkValue(owner, arg.name, spec, arg.value, r);
    if (v !== undefined) opts[arg.name] = v;
  }

  for (const g of groups) {
    if (opts[g.name] !== undefined) continue;
    if (g.default !== undefined) opts[g.name] = g.default;
    else {
      r.add("FLOW209", { owner, allowed: g.values.join(", "), group: g.name, example: `${owner} ${g.values[0]}` }, at);
      opts[g.name] = g.values[0];
    }
  }
  for (const [k, spec] of Object.entries(schema.options)) {
    if (opts[k] === undefined) {
      const d = defaultOf(spec);
      if (d !== undefined) opts[k] = d;
    }
  }
  return { opts, written };
}

/** Check one value against its spec; undefined after reporting a problem. */
function checkValue(owner: string, option: string, spec: OptionSpec, value: Value, r: Reporter): Opts[string] | undefined {
  const got = r.text(value.span);
  const wrongType = () => {
    r.add("FLOW204", { option, owner, expected: expectedText(spec), got, example: `\`${option}=${exampleValue(spec)}\`` }, value.span);
    return undefined;
  };
  const range = (v: number) => {
    if (inRange(spec, v)) return true;
    r.add("FLOW205", { option, owner, range: describeRange(spec), got }, value.span);
    return false;
  };
  switch (spec.type) {
    case "int":
      if (value.kind !== "int") return wrongType();
      if (!Number.isSafeInteger(value.value)) {
        r.add("FLOW205", { option, owner, range: describeRange(spec) || "a safe integer", got }, value.span);
        return undefined;
      }
      return range(value.value) ? value.value : undefined;
    case "float":
      if (value.kind !== "int" && value.kind !== "float") return wrongType();
      if (!Number.isFinite(value.value)) {
        r.add("FLOW205", { option, owner, range: describeRange(spec) || "a finite number", got }, value.span);
        return undefined;
      }
      // Kernels run in f32: a value that overflows to Infinity or flushes to a subnormal there
      // would change the model silently (or fail deep in code generation).
      if (!f32Normal(value.value)) {
        r.add("FLOW205", { option, owner, range: "0 or a number whose magnitude lies in [1.2e-38, 3.4e38] (an f32)", got }, value.span);
        return undefined;
      }
      return range(value.value) ? value.value : undefined;
    case "enum":
      if (value.kind !== "name") return wrongType();
      if (!spec.values.includes(value.value)) {
        r.add("FLOW206", { option, owner, allowed: spec.values.join(", "), got: value.value, suggestion: suggestion(value.value, spec.values) }, value.span);
        return undefined;
      }
      return value.value;
    case "bool":
      if (value.kind === "name" && (value.value === "true" || value.value === "false")) return value.value === "true";
      return wrongType();
    case "intlist":
      if (value.kind !== "list" || !value.items.every((i) => i.kind === "int")) return wrongType();
      return value.items.map((i) => i.value as number);
    case "net":
      return checkNet(owner, option, spec, value, r);
  }
}

/** Zero, or a number that f32 represents as a normal value. */
function f32Normal(v: number): boolean {
  const a = Math.abs(v);
  return a === 0 || (a >= 1.1754943508222875e-38 && a <= 3.4028234663852886e38);
}

function checkNet(owner: string, option: string, spec: Extract<OptionSpec, { type: "net" }>, value: Value, r: Reporter): NetConfig | undefined {
  if (value.kind !== "name" && value.kind !== "call") {
    r.add("FLOW204", { option, owner, expected: "a conditioner net such as mlp(hidden=64, depth=2)", got: r.text(value.span), example: `\`${option}=${showNet(spec.default)}\`` }, value.span);
    return undefined;
  }
  const name = value.kind === "name" ? value.value : value.name;
  const nameSpan = value.kind === "name" ? value.span : value.nameSpan;
  const kind = own(nets, name);
  if (!kind) {
    r.add("FLOW212", { name, suggestion: suggestion(name, Object.keys(nets)), known: Object.keys(nets).join(", ") }, nameSpan);
    return undefined;
  }
  if (spec.allowed && !spec.allowed.includes(name)) {
    r.add("FLOW213", { owner, name, allowed: spec.allowed.join(", ") }, nameSpan);
    return undefined;
  }
  const netOwner = `net=${name}`;
  const args = value.kind === "call" ? value.args : [];
  const errorsBefore = r.errorCount;
  const { opts, written } = resolveArgs(netOwner, { options: kind.options }, args, value.span, r);
  const conf: NetConfig = { kind: name, opts: opts as NetConfig["opts"] };
  kind.validate?.(conf.opts, plainCtx(r, written, value.span));
  return r.errorCount === errorsBefore ? conf : undefined;
}

/** A RuleCtx for option-level rules (no shape, parity or context yet). */
export function plainCtx(r: Reporter, written: Map<string, Span>, at: Span, parity = 0, contextSize = 0): RuleCtx {
  return {
    error: (code, args, span, hint) => r.add(code, args, span ?? at, hint),
    warn: (code, args, span, hint) => r.add(code, args, span ?? at, hint),
    spanOf: (option) => written.get(option) ?? at,
    written: (option) => written.has(option),
    parity,
    contextSize,
  };
}
