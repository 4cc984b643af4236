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

/** Layer names that are not bijections, with the invertible layer to use instead. */
export const nonInvertible: Record<string, { hint: string }> = {
  relu: { hint: "relu maps every negative input to 0; use `leaky_relu slope=0.01`" },
  relu6: { hint: "relu6 clips both ends; use `leaky_relu slope=0.01`" },
  gelu: { hint: "gelu is not monotone; use `leaky_relu slope=0.01`" },
  silu: { hint: "silu is not monotone; use `leaky_relu slope=0.01`" },
  swish: { hint: "swish is not monotone; use `leaky_relu slope=0.01`" },
  abs: { hint: "abs maps x and −x to the same value; use `leaky_relu slope=0.01`" },
  dropout: { hint: "dropout zeroes features at random; remove it (flows regularise with weight decay)" },
  maxpool: { hint: "pooling discards values; use `squeeze` to trade resolution for channels" },
  avgpool: { hint: "pooling discards values; use `squeeze` to trade resolution for channels" },
  pool: { hint: "pooling discards values; use `squeeze` to trade resolution for channels" },
  softmax: { hint: "softmax outputs sum to one, losing a dimension; use `sigmoid` for values in (0, 1)" },
  dense: { hint: "a free dense layer can be singular; use `linear lu` (vectors) or a coupling layer" },
  conv: { hint: "a free convolution can be singular; use `conv1x1 lu`, or `coupling … net=conv(hidden=128)`" },
};
