//! Simulated time.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in, or a span of, simulated time, in CPU cycles of the simulated
/// machine's clock (`machine.frequency_ghz` converts to seconds).
///
/// Arithmetic saturates neither way: an overflow of `u64` cycles (about 234
/// years at 2.5 GHz) is a bug and panics in debug builds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cycles(pub u64);

impl Cycles {
    /// Time zero: the start of a simulation.
    pub const ZERO: Cycles = Cycles(0);

    /// The raw cycle count.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// `self - earlier`, or zero when `earlier` is later.
    #[must_use]
    pub const fn saturating_since(self, earlier: Cycles) -> Cycles {
        Cycles(self.0.saturating_sub(earlier.0))
    }
}

impl Add for Cycles {
    type Output = Cycles;
    fn add(self, rhs: Cycles) -> Cycles {
        Cycles(self.0 + rhs.0)
    }
}

impl Add<u64> for Cycles {
    type Output = Cycles;
    fn add(self, rhs: u64) -> Cycles {
        Cycles(self.0 + rhs)
    }
}

impl AddAssign<u64> for Cycles {
    fn add_assign(&mut self, rhs: u64) {
        self.0 += rhs;
    }
}

impl AddAssign for Cycles {
    fn add_assign(&mut self, rhs: Cycles) {
        self.0 += rhs.0;
    }
}

impl Sub for Cycles {
    type Output = Cycles;
    fn sub(self, rhs: Cycles) -> Cycles {
        Cycles(self.0 - rhs.0)
    }
}

impl fmt::Display for Cycles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cyc", self.0)
    }
}
