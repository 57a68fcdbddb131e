//! One CPU's timelines and accounting.

use crate::CpuId;

/// One CPU's execution state and accounting, in cycles.
///
/// A CPU has two levels:
/// - the *thread level* runs one segment of work at a time (a backend phase,
///   a slice of background work); a segment is scheduled to end at a fixed
///   time;
/// - the *interrupt level* (IPI handlers, and work that preempts the thread
///   such as a migrated backend thread) runs on top of it, serialized: one
///   handler at a time, in arrival order.
///
/// Interrupt-level work that lands while a segment runs delays that segment
/// by its length: it is added to the segment's *debt*, and the segment's end
/// event, when it fires, moves the end by the debt instead of completing.
/// That way no event is ever cancelled.
#[derive(Clone, Debug, Default)]
pub struct CpuClock {
    /// This CPU.
    pub id: CpuId,
    /// Whether a thread-level segment is in progress.
    pub segment_active: bool,
    /// Cycles of interrupt-level work that landed during the current segment
    /// and not yet added to its end.
    pub debt_cycles: u64,
    /// The first cycle at which the interrupt level is free.
    pub irq_free_at: u64,
    /// Cycles spent in thread-level segments (measured window).
    pub busy_cycles: u64,
    /// Cycles taken by IPI handlers (measured window): stolen from whatever
    /// the CPU was doing.
    pub stolen_cycles: u64,
    /// Cycles of preempting work other than IPIs (a migrated backend thread)
    /// run on this CPU (measured window).
    pub preempted_cycles: u64,
}

impl CpuClock {
    /// A CPU at time zero with nothing running.
    #[must_use]
    pub fn new(id: CpuId) -> Self {
        Self {
            id,
            ..Self::default()
        }
    }

    /// Runs `length` cycles of interrupt-level work arriving at `now`; returns
    /// `(start, end)`. The work waits for earlier interrupt-level work; the
    /// current segment, if any, is delayed by `length`.
    pub fn run_interrupt(&mut self, now: u64, length: u64) -> (u64, u64) {
        let start = now.max(self.irq_free_at);
        let end = start + length;
        self.irq_free_at = end;
        if self.segment_active {
            self.debt_cycles += length;
        }
        (start, end)
    }

    /// Starts a thread-level segment of `length` cycles at `now`; returns its
    /// scheduled end. A segment cannot start while an interrupt handler runs.
    pub fn start_segment(&mut self, now: u64, length: u64) -> u64 {
        debug_assert!(!self.segment_active, "{} already runs a segment", self.id);
        self.segment_active = true;
        self.debt_cycles = 0;
        now.max(self.irq_free_at) + length
    }

    /// Called when a segment's end event fires at `now`: if interrupt-level
    /// work delayed it, returns `Some(new_end)` (re-arm the event), else ends
    /// the segment and returns `None`.
    pub fn segment_end(&mut self, now: u64) -> Option<u64> {
        debug_assert!(self.segment_active);
        if self.debt_cycles > 0 {
            let end = now + self.debt_cycles;
            self.debt_cycles = 0;
            Some(end)
        } else {
            self.segment_active = false;
            None
        }
    }

    /// Forgets the accounting (end of warm-up); timelines are kept.
    pub fn reset_counters(&mut self) {
        self.busy_cycles = 0;
        self.stolen_cycles = 0;
        self.preempted_cycles = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupt_delays_segment_by_its_length() {
        let mut c = CpuClock::new(CpuId(0));
        let end = c.start_segment(100, 1_000);
        assert_eq!(end, 1_100);
        let (s, e) = c.run_interrupt(500, 300);
        assert_eq!((s, e), (500, 800));
        assert_eq!(c.segment_end(1_100), Some(1_400));
        assert_eq!(c.segment_end(1_400), None);
        assert!(!c.segment_active);
    }

    #[test]
    fn interrupts_serialize() {
        let mut c = CpuClock::new(CpuId(1));
        assert_eq!(c.run_interrupt(10, 100), (10, 110));
        assert_eq!(c.run_interrupt(50, 100), (110, 210));
        // an idle CPU accrues no debt
        assert_eq!(c.debt_cycles, 0);
        // a segment waits for the running handler
        assert_eq!(c.start_segment(150, 10), 220);
    }
}
