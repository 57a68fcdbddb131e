//! [`ln`](super::ln), [`cos`](super::cos) and [`exp`](super::exp) of many
//! values at once, bit for bit the values one call each gives.
//!
//! The `libm` crate's functions (FreeBSD msun's `e_log.c`, `s_cos.c` with
//! `e_rem_pio2.c`, `k_cos.c`, `k_sin.c`, and `e_exp.c`, as the crate ports
//! them) branch on the argument's range: for a batch of random arguments
//! the branches of `cos` (which quadrant, which reduction) are taken at
//! random, and each misprediction costs more than the arithmetic. Here each
//! function's common path is written without branches on the value: every
//! lane runs the same operations as the scalar function does on that path,
//! in the same order (IEEE 754 arithmetic is exactly rounded and Rust
//! never contracts `a * b + c` into a fused multiply-add, so the same
//! operations give the same bits), and a lane whose argument lies off that
//! path (zero, tiny, huge, negative, infinite, NaN, or one of the
//! arguments `rem_pio2` sends to its careful reduction) is recomputed by the
//! scalar function afterwards. The tests compare every function with the
//! scalar one at each range boundary and on millions of random arguments.
//!
//! Architecture invariant: for every argument, `ln_each`, `cos_each` and
//! `exp_each` give exactly the bits of [`super::ln`], [`super::cos`] and
//! [`super::exp`] (tested; a change of the `libm` crate's algorithms fails
//! those tests rather than changing a result).

/// ln 2 in two parts, `LN2_HI` with its low 32 bits zero (so `k LN2_HI` is
/// exact for the `k` these functions use): `log`'s and `exp`'s split.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);

/// The high word of `x`'s bits.
#[inline(always)]
#[allow(clippy::cast_possible_truncation, reason = "the high 32 bits")]
fn high_word(x: f64) -> u32 {
    (x.to_bits() >> 32) as u32
}

/// `out[i] = fast(xs[i])` for every lane, without a branch on the
/// values, then `exact(xs[i])` for each lane where `off_path(xs[i])`: the
/// batch functions of this module and `workloads::round_cycles_each` (all
/// inlined, so the first loop vectorizes).
#[inline(always)]
pub fn each_with_fallback<T, const N: usize>(
    xs: &[f64; N],
    out: &mut [T; N],
    off_path: impl Fn(f64) -> bool,
    fast: impl Fn(f64) -> T,
    exact: impl Fn(f64) -> T,
) {
    let mut any_off = false;
    for (x, o) in xs.iter().zip(out.iter_mut()) {
        any_off |= off_path(*x);
        *o = fast(*x);
    }
    if any_off {
        for (x, o) in xs.iter().zip(out.iter_mut()) {
            if off_path(*x) {
                *o = exact(*x);
            }
        }
    }
}

/// `ln` of each of `xs`, into `out`: bit for bit [`super::ln`] of each.
#[inline(never)]
pub fn ln_each<const N: usize>(xs: &[f64; N], out: &mut [f64; N]) {
    each_with_fallback(xs, out, ln_off_path, ln_fast, super::ln);
}

/// Whether `ln(x)` leaves the path [`ln_fast`] computes: `x` not positive,
/// subnormal, infinite or NaN, or 1 (the scalar function's own cases).
#[inline(always)]
fn ln_off_path(x: f64) -> bool {
    // `hx - 0x0010_0000 >= 0x7fe0_0000` (wrapping): hx outside
    // 0x0010_0000..0x7ff0_0000, without a branch.
    (high_word(x).wrapping_sub(0x0010_0000) >= 0x7fe0_0000) | (x == 1.0)
}

/// `ln(x)` on its common path (e_log.c's main case).
#[inline(always)]
fn ln_fast(x: f64) -> f64 {
    const LG1: f64 = f64::from_bits(0x3fe55555_55555593);
    const LG2: f64 = f64::from_bits(0x3fd99999_9997fa04);
    const LG3: f64 = f64::from_bits(0x3fd24924_94229359);
    const LG4: f64 = f64::from_bits(0x3fcc71c5_1d8e78af);
    const LG5: f64 = f64::from_bits(0x3fc74664_96cb03de);
    const LG6: f64 = f64::from_bits(0x3fc39a09_d078c69f);
    const LG7: f64 = f64::from_bits(0x3fc2f112_df3e5244);
    let ui = x.to_bits();
    let hx0 = high_word(x);
    // Reduce x into [sqrt(2)/2, sqrt(2)]: x = 2^k (1 + f).
    let hx = hx0.wrapping_add(0x3ff0_0000 - 0x3fe6_a09e);
    #[allow(clippy::cast_possible_wrap, reason = "an exponent, below 2^11")]
    let k = (hx >> 20) as i32 - 0x3ff;
    let hx = (hx & 0x000f_ffff) + 0x3fe6_a09e;
    let xr = f64::from_bits((u64::from(hx) << 32) | (ui & 0xffff_ffff));
    let f = xr - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let dk = f64::from(k);
    s * (hfsq + r) + dk * LN2_LO - hfsq + f + dk * LN2_HI
}

/// `cos` of each of `xs`, into `out`: bit for bit [`super::cos`] of each.
#[inline(never)]
pub fn cos_each<const N: usize>(xs: &[f64; N], out: &mut [f64; N]) {
    each_with_fallback(
        xs,
        out,
        |x| cos_off_path(high_word(x)),
        cos_fast,
        super::cos,
    );
}

/// `cos(x)` on its common path: `0 < x <= 9 pi / 4`, reduced by
/// `rem_pio2`'s one-round fast paths (k_cos.c and k_sin.c on the result).
#[inline(always)]
fn cos_fast(x: f64) -> f64 {
    const PIO2_1: f64 = f64::from_bits(0x3ff921fb_54400000);
    const PIO2_1T: f64 = f64::from_bits(0x3dd0b461_1a626331);
    const C1: f64 = f64::from_bits(0x3fa55555_5555554c);
    const C2: f64 = f64::from_bits(0xbf56c16c_16c15177);
    const C3: f64 = f64::from_bits(0x3efa01a0_19cb1590);
    const C4: f64 = f64::from_bits(0xbe927e4f_809c52ad);
    const C5: f64 = f64::from_bits(0x3e21ee9e_bdb4b1c4);
    const C6: f64 = f64::from_bits(0xbda8fae9_be8838d4);
    const S1: f64 = f64::from_bits(0xbfc55555_55555549);
    const S2: f64 = f64::from_bits(0x3f811111_1110f8a6);
    const S3: f64 = f64::from_bits(0xbf2a01a0_19c161d5);
    const S4: f64 = f64::from_bits(0x3ec71de3_57b1fe7d);
    const S5: f64 = f64::from_bits(0xbe5ae5e6_8a2b9ceb);
    const S6: f64 = f64::from_bits(0x3de5d93a_5acfd57c);
    let ix = high_word(x);
    // The quadrant count `rem_pio2` returns on its fast paths
    // (0: |x| ~<= pi/4, no reduction).
    let n: u32 = u32::from(ix > 0x3fe9_21fb)
        + u32::from(ix > 0x4002_d97c)
        + u32::from(ix > 0x400f_6a7a)
        + u32::from(ix > 0x4015_fdbc);
    let nf = f64::from(n);
    // x - n pi/2 in two parts (rem_pio2's "one round good to 85
    // bits"); n = 0 leaves (x, 0), the arguments k_cos gets unreduced.
    let z = x - nf * PIO2_1;
    let t = nf * PIO2_1T;
    let y0 = z - t;
    let y1 = (z - y0) - t;
    // k_cos(y0, y1).
    let zz = y0 * y0;
    let w = zz * zz;
    let r = zz * (C1 + zz * (C2 + zz * C3)) + w * w * (C4 + zz * (C5 + zz * C6));
    let hz = 0.5 * zz;
    let w1 = 1.0 - hz;
    let kc = w1 + (((1.0 - w1) - hz) + (zz * r - y0 * y1));
    // k_sin(y0, y1, 1).
    let rs = S2 + zz * (S3 + zz * S4) + zz * w * (S5 + zz * S6);
    let v = zz * y0;
    let ks = y0 - ((zz * (0.5 * y1 - v * rs) - y1) - v * S1);
    // By quadrant (n mod 4): cos, -sin, -cos, sin, chosen and negated
    // on the bits (a random quadrant would mispredict a branch).
    let sin = 0u64.wrapping_sub(u64::from(n & 1));
    let negate = u64::from((n + 1) & 2 != 0) << 63;
    f64::from_bits(((ks.to_bits() & sin) | (kc.to_bits() & !sin)) ^ negate)
}

/// Whether `cos` of an argument with high word `ix` (sign included) leaves
/// the path [`cos_each`] computes: negative, tiny (< 2^-27 sqrt 2),
/// beyond 9 pi / 4, or one of the arguments near a multiple of pi / 2
/// that `rem_pio2` reduces with its medium-size method.
#[inline(always)]
#[allow(clippy::manual_range_contains, reason = "`|`: no branch per lane")]
fn cos_off_path(ix: u32) -> bool {
    // `|` and `&`, not `||` and `&&`: no branch per lane.
    (ix < 0x3e46_a09e)
        | (ix > 0x401c_463b)
        | ((ix > 0x3fe9_21fb) & (ix <= 0x400f_6a7a) & ((ix & 0xfffff) == 0x921fb))
        | (ix == 0x4012_d97c)
        | (ix == 0x4019_21fb)
}

/// `exp` of each of `xs`, into `out`: bit for bit [`super::exp`] of each.
#[inline(never)]
pub fn exp_each<const N: usize>(xs: &[f64; N], out: &mut [f64; N]) {
    each_with_fallback(
        xs,
        out,
        |x| exp_off_path(high_word(x) & 0x7fff_ffff),
        exp_fast,
        super::exp,
    );
}

/// `exp(x)` on its common path: `2^-28 < |x| < 708.39` (e_exp.c).
#[inline(always)]
fn exp_fast(x: f64) -> f64 {
    const INVLN2: f64 = f64::from_bits(0x3ff71547_652b82fe);
    const P1: f64 = f64::from_bits(0x3fc55555_5555553e);
    const P2: f64 = f64::from_bits(0xbf66c16c_16bebd93);
    const P3: f64 = f64::from_bits(0x3f11566a_af25de2c);
    const P4: f64 = f64::from_bits(0xbebbbd41_c5d26bf1);
    const P5: f64 = f64::from_bits(0x3e663769_72bea4d0);
    let sign = x.to_bits() >> 63;
    let hx = high_word(x) & 0x7fff_ffff;
    // Argument reduction: x = k ln2 + r, |r| <= 0.5 ln2.
    let half = if sign == 0 { 0.5 } else { -0.5 };
    #[allow(clippy::cast_possible_truncation, reason = "as the scalar exp")]
    let k_far = (INVLN2 * x + half) as i32;
    let k = if hx >= 0x3ff0_a2b2 {
        k_far
    } else if hx > 0x3fd6_2e42 {
        if sign == 0 {
            1
        } else {
            -1
        }
    } else {
        0
    };
    // k = 0 gives hi = x, lo = 0 and r = x exactly, as the scalar
    // function's separate branch for |x| <= 0.5 ln2 does.
    let kf = f64::from(k);
    let hi = x - kf * LN2_HI;
    let lo = kf * LN2_LO;
    let r = hi - lo;
    let xx = r * r;
    let c = r - xx * (P1 + xx * (P2 + xx * (P3 + xx * (P4 + xx * P5))));
    let y = 1.0 + (r * c / (2.0 - c) - lo + hi);
    // scalbn(y, k) for |k| <= 1022: one multiplication by 2^k (by 1
    // for k = 0, the scalar function's `y`).
    #[allow(clippy::cast_sign_loss, reason = "0x3ff + k > 0 on the path")]
    let scale = f64::from_bits(((0x3ff + k) as u64 & 0x7ff) << 52);
    y * scale
}

/// Whether `exp` of an argument whose magnitude has high word `hx` leaves
/// the path [`exp_each`] computes: |x| >= 708.39 (overflow, underflow,
/// subnormal results, infinities, NaN) or |x| <= 2^-28.
#[inline(always)]
fn exp_off_path(hx: u32) -> bool {
    (hx >= 0x4086_232b) | (hx <= 0x3e30_0000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng_stream;
    use rand::RngExt;

    const N: usize = 32;

    /// Checks `each` against `one` on `xs` (any length), bit for bit.
    fn agree(name: &str, xs: &[f64], each: fn(&[f64; N], &mut [f64; N]), one: fn(f64) -> f64) {
        for chunk in xs.chunks(N) {
            let mut a = [0.0; N];
            a[..chunk.len()].copy_from_slice(chunk);
            let mut out = [0.0; N];
            each(&a, &mut out);
            for (x, y) in a.iter().zip(out) {
                let want = one(*x);
                assert!(
                    y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()),
                    "{name}({x:e} = {:#018x}): {y:e} against {want:e}",
                    x.to_bits()
                );
            }
        }
    }

    /// Arguments around each high word in `words`: the word with low words
    /// 0, 1, random and all ones, and the words next to it.
    fn around(words: &[u32]) -> Vec<f64> {
        let mut rng = rng_stream(1, 0);
        let mut xs = Vec::new();
        for &w in words {
            for hw in [w.wrapping_sub(1), w, w.wrapping_add(1)] {
                for lo in [0u32, 1, rng.random(), u32::MAX] {
                    let x = f64::from_bits((u64::from(hw) << 32) | u64::from(lo));
                    xs.extend([x, -x]);
                }
            }
        }
        xs
    }

    fn specials() -> Vec<f64> {
        vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE / 3.0,
            f64::from_bits(1),
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::EPSILON,
            std::f64::consts::FRAC_PI_4,
            std::f64::consts::FRAC_PI_2,
            std::f64::consts::PI,
            3.0 * std::f64::consts::FRAC_PI_2,
            std::f64::consts::TAU,
            709.78,
            -708.4,
            -745.2,
        ]
    }

    /// Every double of the form the draws give: `1 - u` and `u`, `TAU u`,
    /// for `u = k 2^-53` at random `k`, and random doubles of every
    /// exponent.
    fn random_args(seed: u64, n: usize) -> Vec<f64> {
        let mut rng = rng_stream(seed, 1);
        let mut xs = Vec::with_capacity(4 * n);
        for _ in 0..n {
            let u: f64 = rng.random();
            xs.push(1.0 - u);
            xs.push(u);
            xs.push(std::f64::consts::TAU * u);
            xs.push(f64::from_bits(rng.random()));
        }
        xs
    }

    /// `each` against `one` on the special values, around each high word
    /// in `words`, on random doubles and on `n` uniform arguments in each
    /// of `ranges` (`a + (b - a) u`, `u` the draws' uniform in [0, 1)).
    fn check(
        name: &str,
        each: fn(&[f64; N], &mut [f64; N]),
        one: fn(f64) -> f64,
        words: &[u32],
        ranges: &[(f64, f64)],
        seed: u64,
    ) {
        agree(name, &specials(), each, one);
        agree(name, &around(words), each, one);
        agree(name, &random_args(seed, 500_000), each, one);
        let mut rng = rng_stream(seed, 2);
        for &(a, b) in ranges {
            let xs: Vec<f64> = (0..500_000)
                .map(|_| a + (b - a) * rng.random::<f64>())
                .collect();
            agree(name, &xs, each, one);
        }
    }

    #[test]
    fn ln_each_is_ln() {
        let words = [
            0x0010_0000,
            0x3fe6_a09e,
            0x3ff0_0000,
            0x7ff0_0000,
            0x8000_0000,
        ];
        // Where the log-normal draws take it: 1 - u, in (0, 1].
        check("ln", ln_each, crate::math::ln, &words, &[(1.0, 0.0)], 2);
    }

    #[test]
    fn cos_each_is_cos() {
        let words = [
            0x3e46_a09e,
            0x3fe9_21fb,
            0x3fe9_21fc,
            0x3ff9_21fb,
            0x4002_d97c,
            0x4009_21fb,
            0x400f_6a7a,
            0x4012_d97c,
            0x4015_fdbc,
            0x4019_21fb,
            0x401c_463b,
            0x7ff0_0000,
        ];
        // The draws' 2 pi u, and the whole fast range [0, 9 pi / 4].
        let ranges = [
            (0.0, std::f64::consts::TAU),
            (0.0, 2.25 * std::f64::consts::PI),
        ];
        check("cos", cos_each, crate::math::cos, &words, &ranges, 4);
    }

    #[test]
    fn exp_each_is_exp() {
        let words = [
            0x3e30_0000,
            0x3fd6_2e42,
            0x3ff0_a2b2,
            0x4086_232b,
            0x7ff0_0000,
        ];
        // The log-normal draws' exponents, and the whole finite range.
        check(
            "exp",
            exp_each,
            crate::math::exp,
            &words,
            &[(-20.0, 40.0), (-750.0, 750.0)],
            6,
        );
    }
}
