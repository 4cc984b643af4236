// @fileoverview Precision alias for editors only; the compiler serves its own
// `prec.ts` (`export type F = f32` or `f64`) to every compiled module.
export type F = f32;
