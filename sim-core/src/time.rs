//! Simulated time: an [`Instant`] is a point on the simulated clock, a
//! [`Span`] a length of time, both in CPU cycles of the simulated machine
//! (`machine.frequency_ghz` converts to seconds). They are different types:
//! an instant plus a span is an instant, the distance between two instants
//! is a span, and two instants cannot be added.
//!
//! Overflow rule: adding saturates at `u64::MAX` cycles ([`Instant::END`],
//! about 234 years at 2.5 GHz) in every build, never wraps. A time that
//! saturated is not a real time: the engine stops before handling an event
//! at [`Instant::END`] ([`crate::EndReason::ClockEnd`]) and the model reports
//! that as an error, so no result is computed from a clamped clock. Scenario
//! ranges keep real runs far from it (every cost and delay at most 10^10
//! cycles).

use std::fmt;
use std::ops::{Add, AddAssign};

/// A point in simulated time, cycles since the start of the simulation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub u64);

/// A length of simulated time, cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub u64);

impl Instant {
    /// Time zero: the start of a simulation.
    pub const ZERO: Instant = Instant(0);

    /// The end of the clock: where adding saturates (see the module doc).
    pub const END: Instant = Instant(u64::MAX);

    /// The raw cycle count since the start.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    #[must_use]
    pub const fn saturating_since(self, earlier: Instant) -> Span {
        Span(self.0.saturating_sub(earlier.0))
    }
}

impl Span {
    /// No time at all.
    pub const ZERO: Span = Span(0);

    /// The raw cycle count.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl Add<Span> for Instant {
    type Output = Instant;
    fn add(self, rhs: Span) -> Instant {
        Instant(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<Span> for Instant {
    fn add_assign(&mut self, rhs: Span) {
        *self = *self + rhs;
    }
}

impl Add for Span {
    type Output = Span;
    fn add(self, rhs: Span) -> Span {
        Span(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Span {
    fn add_assign(&mut self, rhs: Span) {
        *self = *self + rhs;
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cycle {}", self.0)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cyc", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_saturates_at_the_end_of_the_clock_instead_of_wrapping() {
        assert_eq!(Instant(u64::MAX - 1) + Span(5), Instant::END);
        let mut t = Instant(u64::MAX - 3);
        t += Span(u64::MAX);
        assert_eq!(t, Instant::END);
        assert_eq!(Span(u64::MAX) + Span(1), Span(u64::MAX));
        let mut s = Span(u64::MAX);
        s += Span(7);
        assert_eq!(s, Span(u64::MAX));
        assert_eq!(Instant(10) + Span(5), Instant(15));
    }

    #[test]
    fn instants_and_spans() {
        let t = Instant(100) + Span(20);
        assert_eq!(t, Instant(120));
        assert_eq!(t.saturating_since(Instant(100)), Span(20));
        assert_eq!(Instant(5).saturating_since(t), Span::ZERO);
        assert_eq!(Span(3) + Span(4), Span(7));
        assert_eq!(format!("{t} / {}", Span(7)), "cycle 120 / 7 cyc");
    }
}
