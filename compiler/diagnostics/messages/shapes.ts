/**
 * @fileoverview FLOW3xx messages: event shapes, propagated layer by layer.
 * Codes are stable: add, never renumber.
 */
import type { MessageDef } from "../types.ts";

export const shapeMessages: Record<string, MessageDef> = {
  FLOW301: { severity: "error", message: "squeeze needs an even height and width, but the input here is {shape}", hint: "change the input size or the squeeze/split order so that height and width are even here" },
  FLOW302: { severity: "error", message: "{layer} needs an image [C, H, W], but the input here is {input}", hint: "image layers (squeeze, conv1x1, checker and channel masks) need `input [C, H, W]`" },
  FLOW303: { severity: "error", message: "{layer} needs a vector [D], but the input here is {input}", hint: "declare the input as a vector, e.g. `input [{size}]`, or use coupling layers on images" },
  FLOW304: { severity: "error", message: "mask={mask} needs an image [C, H, W], but the input here is {input}", hint: "on vectors use mask=half or mask=alternate" },
  FLOW305: { severity: "error", message: "{layer} needs at least 2 features, but the input here is {shape}", hint: "a single feature cannot be conditioned on others; use an elementwise layer such as affine" },
  FLOW306: { severity: "error", message: "{what} needs at least 2 channels, but the input here is {shape}", hint: "add a `squeeze` before it to get 4·C channels" },
  FLOW307: { severity: "error", message: "net={net} needs an image, but the input here is {input}", hint: "use net=mlp(hidden=64, depth=2) on vectors" },
  FLOW308: { severity: "error", message: "net={net} needs mask=checker or mask=channel, but mask={mask} does not keep the image layout", hint: "use mask=checker or mask=channel, or net=mlp(...)" },
  FLOW309: { severity: "error", message: "dimension {index} of {what} is {value}, but dimensions must be positive integers", hint: "e.g. `input [2]` or `input [1, 28, 28]`" },
  FLOW310: { severity: "error", message: "{what} has {count} dimensions, but an event is a vector [D] or an image [C, H, W]", hint: "write [D] or [C, H, W]" },
  FLOW311: { severity: "error", message: "{what} has {count} elements, more than the 2147483647 a module can index", hint: "use a smaller shape" },
  FLOW312: { severity: "error", message: "the flow has {count} parameters, more than the 2147483647 a module can index", hint: "lower the conditioner widths (hidden=) or the number of layers" },
  FLOW313: { severity: "error", message: "`context` must be a vector [k], but got {shape}", hint: "flatten the conditioning features into one vector, e.g. `context [{size}]`" },
  FLOW314: { severity: "error", message: "mask=checker needs at least 2 pixels, but the input here is {shape}", hint: "use mask=channel, or apply the coupling before squeezing the image down to one pixel" },
};
