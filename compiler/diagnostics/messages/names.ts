/**
 * @fileoverview FLOW2xx messages: statements, layer names and options.
 * Codes are stable: add, never renumber.
 */
import type { MessageDef } from "../types.ts";

export const nameMessages: Record<string, MessageDef> = {
  // names and options
  FLOW201: { severity: "error", message: "unknown layer `{name}`{suggestion}", hint: "known layers: {known}" },
  FLOW202: { severity: "error", message: "unknown option `{option}` for {owner}{suggestion}", hint: "{owner} takes: {allowed}" },
  FLOW203: { severity: "error", message: "unknown flag `{flag}` for {owner}{suggestion}", hint: "{owner} takes the flags: {allowed}" },
  FLOW204: { severity: "error", message: "`{option}` of {owner} expects {expected}, but got `{got}`", hint: "write it as {example}" },
  FLOW205: { severity: "error", message: "`{option}` of {owner} must be {range}, but got {got}", hint: "use a value {range}" },
  FLOW206: { severity: "error", message: "`{option}` of {owner} must be one of {allowed}, but got `{got}`{suggestion}", hint: "allowed values: {allowed}" },
  FLOW207: { severity: "error", message: "`{name}` is given twice for {owner}", hint: "remove one of them" },
  FLOW208: { severity: "error", message: "`{first}` and `{second}` both choose the {group} of {owner}", hint: "pick one of {allowed}" },
  FLOW209: { severity: "error", message: "{owner} needs one of the flags {allowed} to choose its {group}", hint: "e.g. `{example}`" },
  FLOW210: { severity: "error", message: "`{option}` of {owner} needs a value", hint: "write it as `{option}={example}`" },
  FLOW211: { severity: "error", message: "`{flag}` is a flag of {owner} and takes no value", hint: "write `{flag}` on its own" },
  FLOW212: { severity: "error", message: "unknown conditioner net `{name}`{suggestion}", hint: "known nets: {known}" },
  FLOW213: { severity: "error", message: "{owner} cannot use net={name}", hint: "use one of: {allowed}" },
  FLOW214: { severity: "warning", message: "`{option}` has no effect {reason}", hint: "{fix}" },
  FLOW215: { severity: "error", message: "give either `{a}` or `{b}` for {owner}, not both", hint: "{fix}" },
  FLOW216: { severity: "error", message: "unknown base distribution `{name}`{suggestion}", hint: "known bases: {known}" },
  FLOW217: { severity: "error", message: "`kernel` of net=conv must be odd so that `same` padding is symmetric, but got {got}", hint: "use kernel=3" },
  // statements
  FLOW220: { severity: "error", message: "the spec has no `input` statement", hint: "start the file with the event shape, e.g. `input [2]` or `input [1, 28, 28]`" },
  FLOW221: { severity: "error", message: "`input` must be the first statement", hint: "move `input {shape}` to the top of the file" },
  FLOW222: { severity: "error", message: "`input` is given twice (first on line {line})", hint: "a flow has one input shape; remove this statement" },
  FLOW223: { severity: "error", message: "`context` is given twice (first on line {line})", hint: "a flow has one context vector; declare all conditioning features in one `context [k]`" },
  FLOW224: { severity: "error", message: "`base` must be the last statement, but {what} follows it on line {line}", hint: "move `base` to the end of the file" },
  FLOW225: { severity: "error", message: "`base` is given twice (first on line {line})", hint: "a flow has one base distribution; remove this statement" },
  FLOW226: { severity: "error", message: "`{keyword}` cannot appear inside `repeat`", hint: "move it out of the repeat block; it describes the whole flow" },
  FLOW227: { severity: "error", message: "`repeat` needs a count of at least 1, but got {count}", hint: "use `repeat 1 { … }` or remove the block" },
  FLOW228: { severity: "error", message: "the flow unrolls to {count} layers, more than the limit of {limit}", hint: "lower the repeat counts" },
};
