/**
 * @fileoverview FLOW4xx messages: invertibility, direction and the
 * untouched-feature analysis. Codes are stable: add, never renumber.
 */
import type { MessageDef } from "../types.ts";

export const directionMessages: Record<string, MessageDef> = {
  FLOW401: { severity: "error", message: "`{name}` is not invertible: {fix}", hint: "{reason}, and every flow layer must be a bijection" },
  FLOW402: { severity: "error", message: "leaky_relu slope={slope} is not invertible: the slope must be > 0", hint: "use slope=0.01" },
  FLOW403: { severity: "info", message: "logProb is unavailable: {layers} {verb} no closed-form data → latent direction", hint: "sample, sampleAndLogProb and reverse-KL training still work; for density estimation use coupling or maf layers" },
  FLOW404: { severity: "info", message: "sampling is slow: inverting {layers} takes {passes} sequential passes{each}", hint: "{kind} scores data in one pass; use iaf or coupling layers if you mostly sample" },
  FLOW405: { severity: "info", message: "logProb is slow: evaluating {layers} takes {passes} sequential passes{each}", hint: "{kind} samples in one pass; use maf or coupling layers if you mostly score data" },
  FLOW406: { severity: "info", message: "sampling is iterative: inverting {layers} takes {passes} fixed-point iterations{each}", hint: "lower `iterations=` for speed or raise it for accuracy" },
  FLOW407: { severity: "warning", message: "{features} {verb} never transformed by a layer that depends on other features, so the flow models {pronoun} independently of the rest", hint: "make every feature land in a transformed part: pair mask=half with `permute reverse`, do not follow alternating masks with a permute that undoes their flip, or mix features with `linear lu` / `conv1x1 lu`" },
};
