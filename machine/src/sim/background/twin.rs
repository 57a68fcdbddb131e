//! The no-I/O twin of the exact background model: the same background, on the
//! same TLBs and from the same random stream, replayed with no I/O at all
//! (no interrupt, no flush, no stolen cycle), over the same window. The
//! run's background accesses against the twin's give the background work
//! lost to I/O. It is exact, not a closed form: the twin draws the same
//! pages in the same order (its own copy of the stream
//! `rng_stream(seed, STREAM_BACKGROUND_BASE + cpu)`), so the only
//! difference is what I/O did to those CPUs. Deterministic, and it needs no
//! event: each background CPU's accesses follow one another.

use super::super::*;

impl<O: Observer> Simulation<O> {
    /// Background accesses the no-I/O twin issues in the window ending at
    /// `end` (those the run counts: issued after the window opened, up to
    /// `end`; from the first cycle with no warm-up). 0 if the window never
    /// opened.
    pub(in crate::sim) fn exact_twin(&self, end: u64) -> u64 {
        let start = self.window.start;
        let from_first_cycle = self.warmup_ios == 0;
        let mut total = 0;
        for c in self.cpus.ids() {
            if self.cpus[c].bg_next == u64::MAX {
                continue;
            }
            let mut tlb = TlbHierarchy::new(self.tlb_config).expect("validated geometry");
            let mut pwc = PageWalkCache::new(self.pwc_entries);
            let mut rng = rng_stream(self.seed, STREAM_BACKGROUND_BASE + u64::from(c.0));
            let mut t = 0;
            while t <= end {
                let page = rng.random_range(0..self.bg_pages);
                let va = VirtAddr((BACKGROUND_BASE + u64::from(page)) << 12);
                let a = mmu::access(
                    &mut tlb,
                    &mut pwc,
                    &self.bg_table,
                    BACKGROUND_ASID,
                    va,
                    &self.access_costs,
                );
                if from_first_cycle || t > start {
                    total += 1;
                }
                t += self.bg_between + a.latency_cycles;
            }
        }
        total
    }
}
