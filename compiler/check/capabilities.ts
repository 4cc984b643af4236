/**
 * @fileoverview What the flow can do, from its layers' direction info
 * (DESIGN §3.4): `logProb` needs every forward (data → latent) available,
 * `sample` every inverse; likelihood training needs a closed-form forward,
 * reverse-KL training a closed-form inverse. Also reports the slow or
 * unavailable directions as FLOW4xx notes: MAF sampling and IAF scoring take
 * D sequential passes, i-ResNet inverts by fixed-point iteration, planar and
 * radial flows cannot score data.
 */
import type { Capabilities } from "../ir/types.ts";
import type { DirectionSide } from "../layers/types.ts";
import type { LayerDraft } from "./shapes.ts";
import { Reporter } from "./report.ts";

type Side = "forward" | "inverse";

export function capabilitiesOf(drafts: readonly { direction: { forward: DirectionSide; inverse: DirectionSide } }[]): Capabilities {
  const all = (side: Side, ok: (s: DirectionSide) => boolean) => drafts.every((d) => ok(d.direction[side]));
  const caps: Capabilities = {
    logProb: all("forward", (s) => s.kind !== "none"),
    sample: all("inverse", (s) => s.kind !== "none"),
    trainLikelihood: all("forward", (s) => s.kind === "analytic"),
    trainReverseKL: all("inverse", (s) => s.kind === "analytic"),
    notes: [],
  };
  return caps;
}

/** "layer 3 (planar)" or "32 layers (planar; the first is layer 0)". */
function describeLayers(list: readonly LayerDraft[]): string {
  const kinds = [...new Set(list.map((d) => d.kind.name))].join(", ");
  return list.length === 1 ? `layer ${list[0].index} (${kinds})` : `${list.length} layers (${kinds}; the first is layer ${list[0].index})`;
}

function passesOf(list: readonly LayerDraft[], side: Side): string {
  const ps = [...new Set(list.map((d) => d.direction[side].passes ?? 1))];
  return ps.length === 1 ? String(ps[0]) : `up to ${Math.max(...ps)}`;
}

/** Fill `caps.notes` and report FLOW403–406 (notes, not errors) at the first layer concerned. */
export function directionNotes(drafts: readonly LayerDraft[], caps: Capabilities, r: Reporter): void {
  const pick = (side: Side, test: (s: DirectionSide) => boolean) => drafts.filter((d) => test(d.direction[side]));
  const verb = (list: readonly LayerDraft[], one: string, many: string) => (list.length === 1 ? one : many);

  const noForward = pick("forward", (s) => s.kind === "none");
  if (noForward.length) {
    const layers = describeLayers(noForward);
    r.add("FLOW403", { layers, verb: verb(noForward, "has", "have") }, noForward[0].stmt.span);
    caps.notes.push(`logProb and likelihood training are unavailable: ${layers} ${verb(noForward, "has", "have")} no data → latent direction`);
  }
  const seqInverse = pick("inverse", (s) => s.kind !== "none" && s.cost === "sequential" && s.kind !== "iterative");
  if (seqInverse.length) {
    const layers = describeLayers(seqInverse);
    const passes = passesOf(seqInverse, "inverse");
    r.add("FLOW404", { layers, each: verb(seqInverse, "", " per layer"), passes, kind: seqInverse[0].kind.name }, seqInverse[0].stmt.span);
    caps.notes.push(`sampling is slow: inverting ${layers} takes ${passes} sequential passes${verb(seqInverse, "", " per layer")}`);
  }
  const seqForward = pick("forward", (s) => s.kind !== "none" && s.cost === "sequential");
  if (seqForward.length) {
    const layers = describeLayers(seqForward);
    const passes = passesOf(seqForward, "forward");
    r.add("FLOW405", { layers, each: verb(seqForward, "", " per layer"), passes, kind: seqForward[0].kind.name }, seqForward[0].stmt.span);
    caps.notes.push(`logProb is slow: evaluating ${layers} takes ${passes} sequential passes${verb(seqForward, "", " per layer")}`);
  }
  const iterative = pick("inverse", (s) => s.kind === "iterative");
  if (iterative.length) {
    const layers = describeLayers(iterative);
    const passes = passesOf(iterative, "inverse");
    r.add("FLOW406", { layers, each: verb(iterative, "", " per layer"), passes }, iterative[0].stmt.span);
    caps.notes.push(`sampling is iterative: inverting ${layers} takes ${passes} fixed-point iterations${verb(iterative, "", " per layer")}`);
  }
}
