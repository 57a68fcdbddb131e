//! The measurement window and its statistics: nothing before the end of
//! the warm-up counts, and the run stops when the window holds
//! `stop.ios` completed I/Os.
//!
//! Every count that belongs to the window goes through [`Window`], which
//! drops it while the warm-up lasts: no caller checks "are we measuring".

use super::*;
use crate::config::StopConfig;

/// Which part of a request's latency a span of cycles belongs to (the
/// fields of [`LatencyBreakdown`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    Queue,
    Map,
    Migration,
    Data,
    DeferredFlush,
    Interrupted,
    Process,
    Device,
    Unmap,
    FlushWait,
    Complete,
}

impl Part {
    /// The field of `b` this part adds to.
    pub(super) fn of(self, b: &mut LatencyBreakdown) -> &mut u64 {
        match self {
            Part::Queue => &mut b.queue,
            Part::Map => &mut b.map,
            Part::Migration => &mut b.migration,
            Part::Data => &mut b.data,
            Part::DeferredFlush => &mut b.deferred_flush,
            Part::Interrupted => &mut b.interrupted,
            Part::Process => &mut b.process,
            Part::Device => &mut b.device,
            Part::Unmap => &mut b.unmap,
            Part::FlushWait => &mut b.flush_wait,
            Part::Complete => &mut b.complete,
        }
    }
}

/// Adds `b`'s parts to `into`'s (an I/O's pieces into the I/O).
pub(super) fn add_parts(into: &mut LatencyBreakdown, b: &LatencyBreakdown) {
    let LatencyBreakdown {
        queue,
        map,
        migration,
        data,
        deferred_flush,
        process,
        device,
        interrupted,
        unmap,
        flush_wait,
        complete,
    } = *b;
    into.queue += queue;
    into.map += map;
    into.migration += migration;
    into.data += data;
    into.deferred_flush += deferred_flush;
    into.process += process;
    into.device += device;
    into.interrupted += interrupted;
    into.unmap += unmap;
    into.flush_wait += flush_wait;
    into.complete += complete;
}

/// What a completion did to the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Completion {
    /// Nothing changed.
    Counted,
    /// It was the last warm-up I/O: the window opens now.
    Opens,
    /// The window holds `stop.ios` I/Os: the run stops.
    Full,
}

/// The measurement window's counters.
#[derive(Debug)]
pub(super) struct Window {
    open: bool,
    /// When it opened, cycles.
    pub(super) start: u64,
    warmup_ios: u64,
    stop_ios: u64,
    /// Completions since the start of the run, warm-up included.
    completed: u64,
    pub(super) latency: LatencyHistogram,
    pub(super) breakdown: LatencyBreakdown,
    pub(super) io_completed: u64,
    pub(super) io_bytes: u64,
    pub(super) io_reads: u64,
    /// Backend requests completed (an unsplit I/O is one, a split I/O
    /// one per piece).
    pub(super) io_pieces: u64,
    pub(super) shootdowns: u64,
    pub(super) migrations: u64,
    /// Slot waits, fallbacks and refusals (add through [`Window::counted`]).
    pub(super) io_path: crate::stats::IoPathCounts,
}

impl Window {
    /// A window that opens after `stop.warmup_ios` completions (at once if
    /// there is no warm-up).
    pub(super) fn new(stop: &StopConfig) -> Self {
        Self {
            open: stop.warmup_ios == 0,
            start: 0,
            warmup_ios: stop.warmup_ios,
            stop_ios: stop.ios,
            completed: 0,
            latency: LatencyHistogram::new(),
            breakdown: LatencyBreakdown::default(),
            io_completed: 0,
            io_bytes: 0,
            io_reads: 0,
            io_pieces: 0,
            shootdowns: 0,
            migrations: 0,
            io_path: crate::stats::IoPathCounts::default(),
        }
    }

    /// `n` if the window is open, else 0 (for counters kept elsewhere).
    pub(super) fn counted(&self, n: u64) -> u64 {
        if self.open {
            n
        } else {
            0
        }
    }

    /// Adds `cycles` to one part of the latency breakdown.
    pub(super) fn add(&mut self, part: Part, cycles: u64) {
        if !self.open {
            return;
        }
        *part.of(&mut self.breakdown) += cycles;
    }

    /// Whether the window is open (counting).
    pub(super) fn is_open(&self) -> bool {
        self.open
    }

    /// A shootdown started.
    pub(super) fn shootdown(&mut self) {
        self.shootdowns += self.counted(1);
    }

    /// A piece of a split I/O completed, not its last.
    pub(super) fn piece(&mut self) {
        self.io_pieces += self.counted(1);
    }

    /// A backend thread migrated for a data phase.
    pub(super) fn migration(&mut self) {
        self.migrations += self.counted(1);
    }

    /// An I/O of `size_bytes` completed after `latency_cycles`.
    pub(super) fn complete(
        &mut self,
        latency_cycles: u64,
        size_bytes: u64,
        read: bool,
    ) -> Completion {
        if self.open {
            self.latency.record(latency_cycles);
            self.io_completed += 1;
            self.io_bytes += size_bytes;
            self.io_reads += u64::from(read);
            self.io_pieces += 1;
        }
        self.completed += 1;
        if !self.open && self.completed == self.warmup_ios {
            return Completion::Opens;
        }
        if self.open && self.stop_ios > 0 && self.io_completed >= self.stop_ios {
            return Completion::Full;
        }
        Completion::Counted
    }

    /// Opens the window at `now`.
    pub(super) fn open(&mut self, now: u64) {
        self.open = true;
        self.start = now;
    }
}

impl<O: Observer> Simulation<O> {
    /// Adds `cycles` to one part of the latency breakdown, and, when the
    /// observer records I/Os, to request `r`'s own parts (the same cycles,
    /// so the records' parts sum to the window's). `r` is `None` only
    /// where no request is being served (then only the window counts).
    pub(super) fn add_part(&mut self, r: Option<RequestId>, part: Part, cycles: u64) {
        self.window.add(part, cycles);
        if O::RECORDS_IOS && self.window.is_open() {
            if let Some(r) = r {
                *part.of(&mut self.requests[r].parts) += cycles;
            }
        }
    }

    /// The request whose latency CPU `c`'s thread-level segment serves: the
    /// backend's current request, or the first of a batch being completed
    /// (a batch completion segment's shared parts are the first member's,
    /// as the window counts them once).
    pub(super) fn serving(&self, c: CpuId) -> Option<RequestId> {
        let be = &self.backends[self.cpus[c].backend?];
        match be.phase {
            Phase::CompleteBatch => be.pending.completing.first().copied(),
            _ => be.current,
        }
    }

    /// Ends the warm-up: every counter restarts at `now`.
    pub(super) fn start_window(&mut self, now: u64) {
        for c in self.cpus.ids() {
            if self.cpus[c].bg_next != u64::MAX {
                self.bg_catch_up(c, now);
            }
            let cpu = &mut self.cpus[c];
            cpu.clock.reset_counters();
            cpu.bg_curve.reset_counters();
            cpu.stats = CpuStats {
                cpu: cpu.stats.cpu,
                registered: cpu.stats.registered,
                ..CpuStats::default()
            };
        }
        self.mgr.reset_counters();
        // The window's peak starts from what is in flight as it opens.
        self.peak_in_flight = self.requests.live() as u64;
        self.overload.window_opens();
        self.window.open(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(ios: u64, warmup_ios: u64) -> StopConfig {
        StopConfig {
            ios,
            warmup_ios,
            max_cycles: 0,
        }
    }

    #[test]
    fn nothing_counts_before_the_window_opens() {
        let mut w = Window::new(&stop(2, 2));
        w.add(Part::Data, 100);
        w.shootdown();
        w.migration();
        assert_eq!(w.complete(5, 4096, true), Completion::Counted);
        assert_eq!(w.complete(5, 4096, true), Completion::Opens);
        assert_eq!(
            (w.io_completed, w.shootdowns, w.migrations, w.breakdown.data),
            (0, 0, 0, 0)
        );
        w.open(1_000);
        w.add(Part::Data, 100);
        w.add(Part::FlushWait, 7);
        w.shootdown();
        assert_eq!(w.complete(9, 8192, false), Completion::Counted);
        assert_eq!(w.complete(9, 8192, true), Completion::Full);
        assert_eq!(
            (w.io_completed, w.io_bytes, w.io_reads, w.shootdowns),
            (2, 16_384, 1, 1)
        );
        assert_eq!((w.breakdown.data, w.breakdown.flush_wait), (100, 7));
        assert_eq!(w.start, 1_000);
    }

    #[test]
    fn no_warmup_opens_at_once_and_no_stop_never_fills() {
        let mut w = Window::new(&stop(0, 0));
        assert_eq!(w.counted(3), 3, "open at once");
        for _ in 0..100 {
            assert_eq!(w.complete(1, 1, false), Completion::Counted);
        }
        assert_eq!(w.io_completed, 100);
    }
}
