//! The transcendental functions of every simulated quantity.
//!
//! `f64::ln`, `exp` and `cos` call the platform's C library, whose results
//! differ in the last bit between implementations (glibc against the `libm`
//! crate: 7% of `ln`, 10% of `exp` and 3% of `cos` results on uniform
//! inputs, measured on the development machine), and can differ between
//! versions or CPU-specific variants of one library. A drawn cost is
//! rounded to whole cycles, so a last-bit change reaches a result only
//! rarely, but "same scenario and seed, byte-identical results on any
//! machine" should not rest on that. These are the `libm` crate's
//! functions: pure Rust, the same bits on every platform. `sqrt` and the
//! four basic operations are exact under IEEE 754 and need no wrapper.
//!
//! [`ln_each`], [`cos_each`] and [`exp_each`] compute many values at once,
//! bit for bit these functions' values (`batch.rs`).
//!
//! Architecture invariant: simulation code (sim-core, workloads, machine)
//! takes `ln`, `exp` and `cos` from here, never from `f64`
//! (`tests/architecture.rs` checks it).

/// The natural logarithm of `x`.
#[inline]
#[must_use]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// `e` to the power `x`.
#[inline]
#[must_use]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// The cosine of `x` (radians).
#[inline]
#[must_use]
pub fn cos(x: f64) -> f64 {
    libm::cos(x)
}

mod batch;
pub use batch::{cos_each, each_with_fallback, exp_each, ln_each};
