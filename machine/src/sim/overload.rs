//! Overload of open-loop and trace guests: arrivals that outpace
//! completions over the measured window.
//!
//! Definition: over the window, count the I/Os that open-loop and trace
//! guests issue (`arrivals`) and their I/Os in flight (arrived, not yet
//! complete; a split request is one) when the window opens
//! (`backlog_start`) and just after the window's last such arrival
//! (`backlog_end`, the backlog when arrivals stop: for a trace run that
//! drains, the moment the trace is exhausted). The run is *overloaded* when
//! the backlog grew by more than a tenth of the arrivals: more than one in
//! ten I/Os that arrived were still waiting when arrivals stopped, beyond
//! what waited at the start. A stable queue's backlog fluctuates around its
//! mean and grows by far less than that over thousands of arrivals; an
//! overloaded one grows in proportion to them. Closed-loop guests cannot
//! overload (each issues only after a completion) and are left out.

use crate::stats::Overload;

/// The window's counts behind [`Overload`].
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct OverloadTracker {
    in_flight: u64,
    arrivals: u64,
    backlog_start: u64,
    backlog_end: u64,
}

impl OverloadTracker {
    /// An open-loop or trace I/O arrived; `counted` says whether the window
    /// is open.
    pub(super) fn arrive(&mut self, counted: bool) {
        self.in_flight += 1;
        if counted {
            self.arrivals += 1;
            self.backlog_end = self.in_flight;
        }
    }

    /// An open-loop or trace I/O completed.
    pub(super) fn depart(&mut self) {
        self.in_flight -= 1;
    }

    /// The window opens now.
    pub(super) fn window_opens(&mut self) {
        self.arrivals = 0;
        self.backlog_start = self.in_flight;
        self.backlog_end = self.in_flight;
    }

    /// What the window saw.
    pub(super) fn result(&self) -> Overload {
        let growth = self.backlog_end.saturating_sub(self.backlog_start);
        Overload {
            arrivals: self.arrivals,
            backlog_start: self.backlog_start,
            backlog_end: self.backlog_end,
            overloaded: growth * 10 > self.arrivals && growth > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_beyond_a_tenth_of_arrivals_is_overload() {
        let mut t = OverloadTracker::default();
        t.arrive(false);
        t.window_opens();
        // 100 arrivals, 90 completions: the backlog grows by 10, not more
        // than a tenth.
        for i in 0..100 {
            t.arrive(true);
            if i < 90 {
                t.depart();
            }
        }
        let r = t.result();
        assert_eq!((r.arrivals, r.backlog_start, r.backlog_end), (100, 1, 11));
        assert!(!r.overloaded);
        t.arrive(true);
        assert!(t.result().overloaded, "11 of 101 still waiting");
    }

    #[test]
    fn a_backlog_drained_after_the_last_arrival_still_counts() {
        let mut t = OverloadTracker::default();
        t.window_opens();
        for _ in 0..50 {
            t.arrive(true);
        }
        for _ in 0..50 {
            t.depart();
        }
        assert!(t.result().overloaded);
        assert_eq!(t.result().backlog_end, 50);
    }
}
