//! Simulated time: an [`Instant`] is a point on the simulated clock, a
//! [`Span`] a length of time, both in CPU cycles of the simulated machine
//! (`machine.frequency_ghz` converts to seconds). They are different types:
//! an instant plus a span is an instant, the distance between two instants
//! is a span, and two instants cannot be added.
//!
//! Arithmetic saturates neither way: an overflow of `u64` cycles (about 234
//! years at 2.5 GHz) is a bug and panics in debug builds.

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
        Instant(self.0 + rhs.0)
    }
}

impl AddAssign<Span> for Instant {
    fn add_assign(&mut self, rhs: Span) {
        self.0 += rhs.0;
    }
}

impl Add for Span {
    type Output = Span;
    fn add(self, rhs: Span) -> Span {
        Span(self.0 + rhs.0)
    }
}

impl AddAssign for Span {
    fn add_assign(&mut self, rhs: Span) {
        self.0 += rhs.0;
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
    fn instants_and_spans() {
        let t = Instant(100) + Span(20);
        assert_eq!(t, Instant(120));
        assert_eq!(t.saturating_since(Instant(100)), Span(20));
        assert_eq!(Instant(5).saturating_since(t), Span::ZERO);
        assert_eq!(Span(3) + Span(4), Span(7));
        assert_eq!(format!("{t} / {}", Span(7)), "cycle 120 / 7 cyc");
    }
}
