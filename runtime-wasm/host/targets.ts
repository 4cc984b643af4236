/**
 * @fileoverview Unnormalised 2-D target densities for variational inference
 * (reverse-KL training, `Trainer.stepReverseKL`), each with its gradient,
 * batched over rows, plus log Z by integration on a grid.
 *
 * - `u1` … `u4`: the test energies of Rezende & Mohamed 2015 ("Variational
 *   inference with normalizing flows", Table 1), p̃(z) = exp(−U(z)), with
 *   w1(z) = sin(2πz1/4), w2(z) = 3·exp(−½((z1 − 1)/0.6)²), w3(z) = 3σ((z1 − 1)/0.3):
 *     U1 = ½((‖z‖ − 2)/0.4)² − log(e^{−½((z1−2)/0.6)²} + e^{−½((z1+2)/0.6)²})
 *     U2 = ½((z2 − w1)/0.4)²
 *     U3 = −log(e^{−½((z2−w1)/0.35)²} + e^{−½((z2−w1+w2)/0.35)²})
 *     U4 = −log(e^{−½((z2−w1)/0.4)²} + e^{−½((z2−w1+w3)/0.35)²})
 *   U2–U4 do not decay along z1 (their mass on R² is infinite, so neither
 *   log Z nor the ELBO's optimum exists); the paper shows them on
 *   [−4, 4]². Here they are confined to that window by a soft wall
 *   ½((|z1| − 4)₊/0.2)² added to U: inside |z1| ≤ 4 they are the paper's
 *   energies exactly, and about 6% of the mass lies just outside.
 * - `banana`: the twisted Gaussian of Haario, Saksman & Tamminen 1999
 *   ("Adaptive proposal distribution for random walk Metropolis"): the
 *   Gaussian N(0, diag(s², 1)) read through the volume-preserving map
 *   (x1, x2) ↦ (x1, x2 + b(x1² − s²)), i.e. x1 ~ N(0, s²) and
 *   x2 | x1 ~ N(−b(x1² − s²), 1), here with s = 2, b = 0.5 (an arch over
 *   [−6, 6] that bends down by 2b s² per s² of x1²). Normalised: log Z = 0.
 * - `funnel`: Neal's funnel (Neal 2003, "Slice sampling", §8) in 2-D:
 *   v ~ N(0, 3²), x | v ~ N(0, e^v), rows (v, x). Normalised: log Z = 0.
 *
 * No Node built-ins: this file runs wherever the host does.
 */
import { FLOW6, inputError } from "./errors.ts";

export interface Target {
  name: string;
  /** Dimension of x (every built-in target is 2-D). */
  dim: number;
  /**
   * log p̃ for n rows of x (n × dim, row-major); when `grad` is given (n × dim)
   * it receives ∇ₓ log p̃ row by row (overwritten).
   */
  logDensity(x: Float64Array, n: number, grad: Float64Array | null): Float64Array;
  /** One line for reports: what the density is and where it comes from. */
  description?: string;
  /** log ∫ p̃ when known in closed form. */
  logZ?: number;
  /** Per dimension [lo, hi]: the window for grid integration and plots. */
  box?: [number, number][];
}

const LOG_2PI = Math.log(2 * Math.PI);

/** log(e^a + e^b) and the weight e^a/(e^a + e^b), without overflow. */
function lse2(a: number, b: number): { v: number; wa: number } {
  const m = Math.max(a, b);
  if (m === -Infinity) return { v: -Infinity, wa: 0.5 };
  const ea = Math.exp(a - m), eb = Math.exp(b - m);
  return { v: m + Math.log(ea + eb), wa: ea / (ea + eb) };
}

const sigmoid = (t: number) => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)));

/** The wall ½((|z1| − 4)₊/0.2)² that confines U2–U4 to the paper's window, and its derivative. */
const WALL_EDGE = 4, WALL_WIDTH = 0.2;
function wall(z1: number): { v: number; d: number } {
  const e = Math.abs(z1) - WALL_EDGE;
  if (e <= 0) return { v: 0, d: 0 };
  return { v: (0.5 * e * e) / (WALL_WIDTH * WALL_WIDTH), d: (Math.sign(z1) * e) / (WALL_WIDTH * WALL_WIDTH) };
}

/** A 2-D target from a per-point function returning [log p̃, ∂/∂x1, ∂/∂x2]. */
function target2(name: string, description: string, box: [number, number][], f: (a: number, b: number) => [number, number, number], logZ?: number): Target {
  return {
    name,
    dim: 2,
    description,
    box,
    logZ,
    logDensity(x, n, grad) {
      const out = new Float64Array(n);
      for (let r = 0; r < n; r++) {
        const [v, g1, g2] = f(x[2 * r], x[2 * r + 1]);
        out[r] = v;
        if (grad) { grad[2 * r] = g1; grad[2 * r + 1] = g2; }
      }
      return out;
    },
  };
}

const w1 = (z1: number) => Math.sin((Math.PI * z1) / 2);
const dw1 = (z1: number) => (Math.PI / 2) * Math.cos((Math.PI * z1) / 2);

function u1(z1: number, z2: number): [number, number, number] {
  const r = Math.hypot(z1, z2);
  const e = (r - 2) / 0.4;
  const a = -0.5 * ((z1 - 2) / 0.6) ** 2, b = -0.5 * ((z1 + 2) / 0.6) ** 2;
  const s = lse2(a, b);
  // ∂(−½e²)/∂z = −e/0.4 · z/r (the cone point r = 0 gets the zero subgradient).
  const k = r > 0 ? (-e / 0.4) / r : 0;
  const dmix = s.wa * (-(z1 - 2) / 0.36) + (1 - s.wa) * (-(z1 + 2) / 0.36);
  return [-0.5 * e * e + s.v, k * z1 + dmix, k * z2];
}

function u2(z1: number, z2: number): [number, number, number] {
  const e = z2 - w1(z1), wl = wall(z1);
  const k = e / 0.16;
  return [-0.5 * e * e / 0.16 - wl.v, k * dw1(z1) - wl.d, -k];
}

/** −U for U3/U4: log(e^{−½(e1/s1)²} + e^{−½(e2/s2)²}) with e1 = z2 − w1, e2 = e1 + w(z1). */
function twoBranches(z1: number, z2: number, s1: number, s2: number, w: number, dw: number): [number, number, number] {
  const e1 = z2 - w1(z1), e2 = e1 + w;
  const a = -0.5 * (e1 / s1) ** 2, b = -0.5 * (e2 / s2) ** 2;
  const s = lse2(a, b), wl = wall(z1);
  const ka = -e1 / (s1 * s1), kb = -e2 / (s2 * s2); // ∂a/∂e1, ∂b/∂e2
  const d1 = dw1(z1);
  const g1 = s.wa * ka * -d1 + (1 - s.wa) * kb * (dw - d1) - wl.d;
  const g2 = s.wa * ka + (1 - s.wa) * kb;
  return [s.v - wl.v, g1, g2];
}

function u3(z1: number, z2: number): [number, number, number] {
  const w2 = 3 * Math.exp(-0.5 * ((z1 - 1) / 0.6) ** 2);
  return twoBranches(z1, z2, 0.35, 0.35, w2, (w2 * -(z1 - 1)) / 0.36);
}

function u4(z1: number, z2: number): [number, number, number] {
  const sg = sigmoid((z1 - 1) / 0.3);
  return twoBranches(z1, z2, 0.4, 0.35, 3 * sg, (3 * sg * (1 - sg)) / 0.3);
}

const BANANA_S = 2, BANANA_B = 0.5;
function banana(x1: number, x2: number): [number, number, number] {
  const s2 = BANANA_S * BANANA_S;
  const e = x2 + BANANA_B * (x1 * x1 - s2);
  const v = -0.5 * (x1 * x1) / s2 - 0.5 * e * e - LOG_2PI - Math.log(BANANA_S);
  return [v, -x1 / s2 - e * 2 * BANANA_B * x1, -e];
}

function funnel(v: number, x: number): [number, number, number] {
  const iv = Math.exp(-v);
  const lp = -(v * v) / 18 - 0.5 * Math.log(18 * Math.PI) - 0.5 * x * x * iv - 0.5 * LOG_2PI - 0.5 * v;
  return [lp, -v / 9 + 0.5 * x * x * iv - 0.5, -x * iv];
}

const PAPER = "Rezende & Mohamed 2015, Table 1";

/** The built-in targets by name. */
export const targets: Record<string, Target> = {
  u1: target2("u1", `U1, a ring with two modes (${PAPER})`, [[-5, 5], [-5, 5]], u1),
  u2: target2("u2", `U2, a sine wave (${PAPER}; confined to |z1| ≤ 4)`, [[-6, 6], [-5, 5]], u2),
  u3: target2("u3", `U3, a split sine wave (${PAPER}; confined to |z1| ≤ 4)`, [[-6, 6], [-6, 6]], u3),
  u4: target2("u4", `U4, a sine wave with a step (${PAPER}; confined to |z1| ≤ 4)`, [[-6, 6], [-6, 6]], u4),
  banana: target2("banana", `twisted Gaussian, x1 ~ N(0, ${BANANA_S}²), x2 | x1 ~ N(−${BANANA_B}(x1² − ${BANANA_S * BANANA_S}), 1) (Haario, Saksman & Tamminen 1999)`, [[-12, 12], [-75, 8]], banana, 0),
  funnel: target2("funnel", "Neal's funnel, v ~ N(0, 3²), x | v ~ N(0, e^v) (Neal 2003)", [[-15, 15], [-1500, 1500]], funnel, 0),
};

/** A built-in target by name (case-insensitive). */
export function getTarget(name: string): Target {
  const t = targets[name.toLowerCase()];
  if (!t) throw inputError(FLOW6.badArgument, { what: "the target", expected: `one of ${Object.keys(targets).join(", ")} (or a module file)`, got: `'${name}'` });
  return t;
}

export interface GridResult {
  logZ: number;
  /** The window integrated over, per dimension. */
  box: [number, number][];
  /** Nodes per dimension (trapezoid rule, endpoints included). */
  points: number;
}

/**
 * log ∫ p̃ over a 2-D box by the trapezoid rule on `points` × `points` nodes,
 * summed in log space. For densities that are smooth and negligible at the
 * box's edges the rule converges faster than any power of the spacing.
 * Mass outside the box is missed, and features narrower than the spacing
 * (the funnel's neck) are not resolved.
 */
export function gridLogZ(target: Target, opts: { points?: number; box?: [number, number][] } = {}): GridResult {
  if (target.dim !== 2) throw inputError(FLOW6.badArgument, { what: "grid integration", expected: "a 2-D target", got: `a ${target.dim}-D one` });
  const box = opts.box ?? target.box;
  if (!box) throw inputError(FLOW6.badArgument, { what: "grid integration", expected: "a box [[lo, hi], [lo, hi]]", got: "none" });
  const N = opts.points ?? 2001;
  if (!Number.isInteger(N) || N < 3) throw inputError(FLOW6.badArgument, { what: "the grid size", expected: "an integer ≥ 3", got: N });
  const [[a0, a1], [b0, b1]] = box;
  const ha = (a1 - a0) / (N - 1), hb = (b1 - b0) / (N - 1);
  const row = new Float64Array(2 * N);
  const edge = (k: number) => (k === 0 || k === N - 1 ? Math.LN2 : 0); // log of the trapezoid's halved end weights
  let M = -Infinity, S = 0; // running Σ = e^M·S
  for (let i = 0; i < N; i++) {
    const z1 = a0 + i * ha;
    for (let j = 0; j < N; j++) { row[2 * j] = z1; row[2 * j + 1] = b0 + j * hb; }
    const lp = target.logDensity(row, N, null);
    for (let j = 0; j < N; j++) {
      const v = lp[j] - edge(i) - edge(j);
      if (!(v > -Infinity)) continue;
      if (v > M) { S = S * Math.exp(M - v) + 1; M = v; } else S += Math.exp(v - M);
    }
  }
  return { logZ: M + Math.log(S) + Math.log(ha * hb), box, points: N };
}
