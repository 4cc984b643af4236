// @fileoverview Scalar math for the runtime library, generic over the
// precision alias F. f32 modules use Mathf and f64 modules use Math; both are
// AssemblyScript's own wasm implementations, never the host's, so a flow
// computes bit-identical results in every runtime. `sizeof<F>()` is a
// compile-time constant, so only one branch of each wrapper survives.
import { F } from "./prec";

export const LOG_2PI: f64 = 1.8378770664093453;
export const HALF_LOG_2PI: f64 = 0.9189385332046727;
export const SQRT1_2: f64 = 0.7071067811865476;
/** 1/√(2π), the standard normal density at 0. */
export const INV_SQRT_2PI: f64 = 0.3989422804014327;

@inline export function exp_(x: F): F {
  if (sizeof<F>() == 4) return <F>Mathf.exp(<f32>x);
  return <F>Math.exp(<f64>x);
}

@inline export function log_(x: F): F {
  if (sizeof<F>() == 4) return <F>Mathf.log(<f32>x);
  return <F>Math.log(<f64>x);
}

@inline export function log1p_(x: F): F {
  if (sizeof<F>() == 4) return <F>Mathf.log1p(<f32>x);
  return <F>Math.log1p(<f64>x);
}

@inline export function expm1_(x: F): F {
  if (sizeof<F>() == 4) return <F>Mathf.expm1(<f32>x);
  return <F>Math.expm1(<f64>x);
}

@inline export function tanh_(x: F): F {
  if (sizeof<F>() == 4) return <F>Mathf.tanh(<f32>x);
  return <F>Math.tanh(<f64>x);
}

@inline export function sqrt_(x: F): F {
  return sqrt<F>(x);
}

@inline export function abs_(x: F): F {
  return abs<F>(x);
}

@inline export function floor_(x: F): F {
  return floor<F>(x);
}

@inline export function max_(a: F, b: F): F {
  return max<F>(a, b);
}

@inline export function min_(a: F, b: F): F {
  return min<F>(a, b);
}

@inline export function pow_(x: F, y: F): F {
  if (sizeof<F>() == 4) return <F>Mathf.pow(<f32>x, <f32>y);
  return <F>Math.pow(<f64>x, <f64>y);
}

/** 1/(1+e^−x); the exponential only ever sees −|x|, so it cannot overflow. */
@inline export function sigmoid_(x: F): F {
  const e = exp_(-abs<F>(x));
  const one: F = 1;
  return x >= 0 ? one / (one + e) : e / (one + e);
}

/** log(1+e^x) = max(x,0) + log1p(e^−|x|), exact for large |x|. */
@inline export function softplus_(x: F): F {
  const zero: F = 0;
  return max<F>(x, zero) + log1p_(exp_(-abs<F>(x)));
}

/** log σ(x) = −softplus(−x). */
@inline export function logsigmoid_(x: F): F {
  const zero: F = 0;
  return min<F>(x, zero) - log1p_(exp_(-abs<F>(x)));
}

/** The error function, accurate to a few ulp in either precision. */
@inline export function erf_(x: F): F {
  if (sizeof<F>() == 4) return <F>erf32(<f32>x);
  return <F>erf64(<f64>x);
}

/** The complementary error function 1 − erf(x), without cancellation for large x. */
@inline export function erfc_(x: F): F {
  if (sizeof<F>() == 4) return <F>erfc32(<f32>x);
  return <F>erfc64(<f64>x);
}

/** Standard normal CDF Φ(x) = erfc(−x/√2)/2, accurate in the lower tail too. */
@inline export function ncdf_(x: F): F {
  const h: F = 0.5;
  return h * erfc_(-x * <F>SQRT1_2);
}

/** Standard normal density φ(x). */
@inline export function npdf_(x: F): F {
  const h: F = 0.5;
  return <F>INV_SQRT_2PI * exp_(-h * x * x);
}

function erf64(x: f64): f64 {
  const a = abs<f64>(x);
  if (a < 1) return x * erfSmall64(x * x);
  const r = 1 - erfcBig64(a);
  return x < 0 ? -r : r;
}

function erfc64(x: f64): f64 {
  const a = abs<f64>(x);
  if (a < 1) return 1 - x * erfSmall64(x * x);
  const c = erfcBig64(a);
  return x < 0 ? 2 - c : c;
}

function erf32(x: f32): f32 {
  const a = abs<f32>(x);
  if (a < 1) return x * erfSmall32(x * x);
  if (a >= 4) return x < 0 ? <f32>-1 : <f32>1;
  const r = <f32>1 - erfcBig32(a);
  return x < 0 ? -r : r;
}

function erfc32(x: f32): f32 {
  const a = abs<f32>(x);
  if (a < 1) return <f32>1 - x * erfSmall32(x * x);
  const c = erfcBig32(a);
  return x < 0 ? <f32>2 - c : c;
}

// The polynomial coefficients below are Chebyshev fits (error ≤ 1.2e-17 in
// f64, ≤ 4e-9 in f32) of erf(√t)/√t and of erfcx(a) = exp(a²)·erfc(a),
// computed for this library at 50 digits; erfcx is smooth, so a product with
// exp(−a²) keeps the relative accuracy of erfc in the far tail.

/** erf(x)/x as a polynomial in t = x², for |x| < 1. */
function erfSmall64(t: f64): f64 {
  let p: f64 = -7.795898827002142e-10;
  p = p * t + 1.3720064546777686e-08;
  p = p * t - 1.6208483801871705e-07;
  p = p * t + 1.6447424703317362e-06;
  p = p * t - 1.492473690741966e-05;
  p = p * t + 0.00012055294904839707;
  p = p * t - 0.0008548325975389692;
  p = p * t + 0.0052239776071164225;
  p = p * t - 0.02686617064323777;
  p = p * t + 0.11283791670945006;
  p = p * t - 0.37612638903183543;
  p = p * t + 1.1283791670955126;
  return p;
}

/** erfc(a) for a ≥ 1: exp(−a²)·erfcx(a), erfcx fitted per unit interval and in u = 1/a² beyond 6. */
function erfcBig64(a: f64): f64 {
  let q: f64;
  if (a < 2) {
    const s = a - 1.5;
    let p: f64 = -4.932844202000261e-08;
    p = p * s + 1.8038197652346406e-07;
    p = p * s - 5.946998373950516e-07;
    p = p * s + 2.061689065129881e-06;
    p = p * s - 6.975285854904505e-06;
    p = p * s + 2.286543658874603e-05;
    p = p * s - 7.265888759557882e-05;
    p = p * s + 0.00022330981211640024;
    p = p * s - 0.0006619300686179933;
    p = p * s + 0.0018861348854630824;
    p = p * s - 0.005145957547915988;
    p = p * s + 0.013377340952802835;
    p = p * s - 0.03293090529956347;
    p = p * s + 0.07615103985548055;
    p = p * s - 0.16362291773256007;
    p = p * s + 0.3215854164543175;
    q = p;
  } else if (a < 3) {
    const s = a - 2.5;
    let p: f64 = 4.010268793982498e-09;
    p = p * s - 1.7022233265672403e-08;
    p = p * s + 6.706690790495327e-08;
    p = p * s - 2.7262986241901926e-07;
    p = p * s + 1.0852366992052668e-06;
    p = p * s - 4.214357879841587e-06;
    p = p * s + 1.5961851696601105e-05;
    p = p * s - 5.8868958345706055e-05;
    p = p * s + 0.00021101982436023977;
    p = p * s - 0.0007335909374729658;
    p = p * s + 0.002467036815699688;
    p = p * s - 0.008001569382093874;
    p = p * s + 0.024937997086656914;
    p = p * s - 0.07434734678979472;
    p = p * s + 0.2108063640611436;
    q = p;
  } else if (a < 4) {
    const s = a - 3.5;
    let p: f64 = -7.952076959606247e-10;
    p = p * s + 3.904660027946148e-09;
    p = p * s - 1.816709921028992e-08;
    p = p * s + 8.617207083202206e-08;
    p = p * s - 4.017414059460916e-07;
    p = p * s + 1.8371959965058951e-06;
    p = p * s - 8.237986419511217e-06;
    p = p * s + 3.6181703647369664e-05;
    p = p * s - 0.0001554689182328899;
    p = p * s + 0.0006526863269086787;
    p = p * s - 0.002673074439643561;
    p = p * s + 0.01066113319251011;
    p = p * s - 0.041323577833252495;
    p = p * s + 0.1552936556088943;
    q = p;
  } else if (a < 5) {
    const s = a - 4.5;
    let p: f64 = 3.3127473036725145e-10;
    p = p * s - 1.868971818059566e-09;
    p = p * s + 1.0137047691581327e-08;
    p = p * s - 5.5636110226059585e-08;
    p = p * s + 3.011267313458443e-07;
    p = p * s - 1.6054992245551086e-06;
    p = p * s + 8.429241969785461e-06;
    p = p * s - 4.3550828402764823e-05;
    p = p * s + 0.00022126645452992733;
    p = p * s - 0.0011045761167948367;
    p = p * s + 0.005413125434612238;
    p = p * s - 0.02601592863093977;
    p = p * s + 0.12248480427384142;
    q = p;
  } else if (a < 6) {
    const s = a - 5.5;
    let p: f64 = -2.553526676642895e-10;
    p = p * s + 1.6410655065020005e-09;
    p = p * s - 1.0243300949052213e-08;
    p = p * s + 6.439563426739086e-08;
    p = p * s - 4.003221666297408e-07;
    p = p * s + 2.4593877077140133e-06;
    p = p * s - 1.4927753487038965e-05;
    p = p * s + 8.94808040702357e-05;
    p = p * s - 0.0005294638064744518;
    p = p * s + 0.0030910125438761197;
    p = p * s - 0.017794764701022602;
    p = p * s + 0.10096221839949908;
    q = p;
  } else {
    const u = <f64>1 / (a * a);
    let p: f64 = 92075.12002292661;
    p = p * u - 25006.23066866484;
    p = p * u + 4054.3906595796225;
    p = p * u - 586.9115191209945;
    p = p * u + 91.51417736327535;
    p = p * u - 16.660096988181703;
    p = p * u + 3.7024876063761933;
    p = p * u - 1.0578554468499726;
    p = p * u + 0.4231421876215437;
    p = p * u - 0.28209479177385105;
    p = p * u + 0.5641895835477563;
    q = p / a;
  }
  return Math.exp(-a * a) * q;
}

/** erf(x)/x as a polynomial in t = x², for |x| < 1. */
function erfSmall32(t: f32): f32 {
  let p: f32 = <f32>7.875875062685488e-05;
  p = p * t - <f32>0.000801686428716587;
  p = p * t + <f32>0.005189087423433974;
  p = p * t - <f32>0.026854212010626412;
  p = p * t + <f32>0.11283594715160218;
  p = p * t - <f32>0.37612626666720334;
  p = p * t + <f32>1.1283791658483509;
  return p;
}

/** erfc(a) for a ≥ 1: exp(−a²)·erfcx(a), erfcx fitted per unit interval and in u = 1/a² beyond 4. */
function erfcBig32(a: f32): f32 {
  let q: f32;
  if (a < 2) {
    const s = a - <f32>1.5;
    let p: f32 = <f32>0.0002366185302639427;
    p = p * s - <f32>0.0007043126276192796;
    p = p * s + <f32>0.0018836127899543348;
    p = p * s - <f32>0.005137920440964439;
    p = p * s + <f32>0.013377516899777012;
    p = p * s - <f32>0.03293146614402791;
    p = p * s + <f32>0.07615103655090479;
    p = p * s - <f32>0.1636229071978774;
    p = p * s + <f32>0.3215854164543175;
    q = p;
  } else if (a < 3) {
    const s = a - <f32>2.5;
    let p: f32 = <f32>-6.102385995351314e-05;
    p = p * s + <f32>0.0002191907366922128;
    p = p * s - <f32>0.0007332519102770477;
    p = p * s + <f32>0.002465750858291264;
    p = p * s - <f32>0.008001586379758303;
    p = p * s + <f32>0.02493806156890317;
    p = p * s - <f32>0.07434734665693343;
    p = p * s + <f32>0.21080636355710913;
    q = p;
  } else if (a < 4) {
    const s = a - <f32>3.5;
    let p: f32 = <f32>3.699740503971556e-05;
    p = p * s - <f32>0.00015912865364391986;
    p = p * s + <f32>0.0006525839145102765;
    p = p * s - <f32>0.002672614875656089;
    p = p * s + <f32>0.010661136397590877;
    p = p * s - <f32>0.04132359221651269;
    p = p * s + <f32>0.1552936556088943;
    q = p;
  } else {
    const u = <f32>1 / (a * a);
    let p: f32 = <f32>-7.121305056558342;
    p = p * u + <f32>3.162579920823819;
    p = p * u - <f32>1.0420501252399028;
    p = p * u + <f32>0.42292249552367533;
    p = p * u - <f32>0.282093644143365;
    p = p * u + <f32>0.5641895825564328;
    q = p / a;
  }
  return Mathf.exp(-a * a) * q;
}

