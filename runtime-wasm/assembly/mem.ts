// @fileoverview Element access helpers for generated kernels: load/store the
// i-th F of an array at a byte address. `alignof<F>()` is log2(sizeof F),
// so the shift is a compile-time constant.
import { F } from "./prec";

@inline export function ldf(p: usize, i: i32): F { return load<F>(p + (<usize>i << alignof<F>())); }
@inline export function stf(p: usize, i: i32, v: F): void { store<F>(p + (<usize>i << alignof<F>()), v); }
@inline export function addf(p: usize, i: i32, v: F): void { const a = p + (<usize>i << alignof<F>()); store<F>(a, load<F>(a) + v); }
@inline export function at(p: usize, i: i32): usize { return p + (<usize>i << alignof<F>()); }
