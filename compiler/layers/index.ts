/**
 * @fileoverview The layer registry: every layer kind by the name used in
 * `.flow` files, plus names that users reach for but that are not invertible
 * (so the checker can say what to use instead). Adding a layer kind: one
 * file in this folder plus one line below.
 */
import type { LayerKind } from "./types.ts";
import { actnorm } from "./actnorm.ts";
import { permute } from "./permute.ts";
import { linear } from "./linear.ts";
import { conv1x1 } from "./conv1x1.ts";
import { coupling } from "./coupling.ts";
import { maf } from "./maf.ts";
import { iaf } from "./iaf.ts";
import { leaky_relu } from "./leaky_relu.ts";
import { sigmoid } from "./sigmoid.ts";
import { logit } from "./logit.ts";
import { affine } from "./affine.ts";
import { squeeze } from "./squeeze.ts";
import { split } from "./split.ts";
import { dequantize } from "./dequantize.ts";
import { planar } from "./planar.ts";
import { radial } from "./radial.ts";
import { residual } from "./residual.ts";

export const layers: Record<string, LayerKind> = {
  actnorm,
  permute,
  linear,
  conv1x1,
  coupling,
  maf,
  iaf,
  leaky_relu,
  sigmoid,
  logit,
  affine,
  squeeze,
  split,
  dequantize,
  planar,
  radial,
  residual,
};

/** Layer names that are not bijections: `hint` is the invertible layer to use instead, `reason` why the name fails. */
export const nonInvertible: Record<string, { hint: string; reason: string }> = {
  relu: { hint: "use `leaky_relu slope=0.01`", reason: "relu maps every negative input to 0" },
  relu6: { hint: "use `leaky_relu slope=0.01`", reason: "relu6 clips both ends" },
  gelu: { hint: "use `leaky_relu slope=0.01`", reason: "gelu is not monotone" },
  silu: { hint: "use `leaky_relu slope=0.01`", reason: "silu is not monotone" },
  swish: { hint: "use `leaky_relu slope=0.01`", reason: "swish is not monotone" },
  abs: { hint: "use `leaky_relu slope=0.01`", reason: "abs maps x and −x to the same value" },
  dropout: { hint: "remove it (regularise with weight decay instead)", reason: "dropout zeroes features at random" },
  maxpool: { hint: "use `squeeze` to trade resolution for channels", reason: "pooling discards values" },
  avgpool: { hint: "use `squeeze` to trade resolution for channels", reason: "pooling discards values" },
  pool: { hint: "use `squeeze` to trade resolution for channels", reason: "pooling discards values" },
  softmax: { hint: "use `sigmoid` for values in (0, 1)", reason: "softmax outputs sum to one, losing a dimension" },
  dense: { hint: "use `linear lu` (vectors) or a coupling layer", reason: "a free dense layer can be singular" },
  conv: { hint: "use `conv1x1 lu`, or `coupling … net=conv(hidden=128)`", reason: "a free convolution can be singular" },
};
