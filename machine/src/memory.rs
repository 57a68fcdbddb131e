//! An estimate of one simulation's memory, before it is built, so that a
//! run too large for the machine is refused with a clear error instead of
//! being killed by the kernel (or swapping) minutes in.
//!
//! Each part is a count from the configuration times a size per item. The
//! sizes are calibrations, not derivations: the peak resident set of
//! `tlbsim run` measured on this kind of machine (2026-12, `VmHWM`) while
//! one part was scaled up alone, rounded up. `tests/memory.rs` checks that
//! the estimate stays within a factor of 2 of the measured peak on cases
//! dominated by each large part. What it does not count: an open-loop
//! guest's backlog when arrivals outpace completions (it grows with the
//! run, see `overload`), and the page-walk caches' unfilled capacity is
//! counted as if full (an upper bound: they fill only as walks need them).

use crate::SimConfig;

/// Resident bytes of the process before any simulation (code, runtime,
/// scenario). Calibration: 6 MB measured for `default` with one policy.
pub const PROCESS_BYTES: u64 = 6 << 20;
/// Per TLB entry, every level: the set blocks' key, record and recency
/// words. Calibration: 28-32 B measured (ways 4, 12, 16, 64).
pub const TLB_ENTRY_BYTES: u64 = 32;
/// Per page-walk-cache entry (key and LRU stamp), 3 levels per CPU.
pub const PWC_ENTRY_BYTES: u64 = 16;
/// Per CPU beyond its TLBs: clock, counters, queues. Calibration: 4.4 KB
/// measured at 4,096 CPUs.
pub const CPU_BYTES: u64 = 8 << 10;
/// Per request outstanding (closed-loop queue depth): the request, its
/// ring slot and its events. Calibration: 115 B measured at 65,536.
pub const REQUEST_BYTES: u64 = 128;
/// Per page mapped in a page table (background working set, mapping area): the radix leaf entry and its share of the inner nodes.
/// Calibration: 15.6 B measured at 2^22 and 2^24 background pages.
pub const PAGE_BYTES: u64 = 16;
/// One simulation's fixed part: histograms, policy state, the event queue's
/// first allocation.
pub const SIMULATION_BYTES: u64 = 1 << 20;

/// One simulation's estimated memory, by part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// (part, bytes), in a fixed order.
    pub parts: Vec<(&'static str, u64)>,
}

impl MemoryEstimate {
    /// The sum of the parts, bytes.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        self.parts
            .iter()
            .fold(0, |sum, (_, b)| sum.saturating_add(*b))
    }
}

impl SimConfig {
    /// The estimated peak memory of one simulation of this configuration,
    /// bytes by part (see the module doc; saturating, so an absurd
    /// configuration gives a huge estimate, never a wrapped small one).
    #[must_use]
    pub fn memory_estimate(&self) -> MemoryEstimate {
        let cpus = u64::from(self.machine.cpus);
        let tlb = self.machine.tlb;
        let entries = u64::try_from(
            tlb.l1
                .entries
                .saturating_add(tlb.l2.map_or(0, |g| g.entries)),
        )
        .unwrap_or(u64::MAX);
        let requests = self
            .guests
            .iter()
            .fold(0u64, |sum, g| sum.saturating_add(u64::from(g.queue_depth)));
        let background = if self.background.enabled {
            u64::from(self.background.working_set_pages)
        } else {
            0
        };
        // A guest's buffer pool is only numbers (its pages are mapped only
        // while a request is in flight, counted with the requests), so
        // `buffer_pages` costs nothing here (measured: 2^32-1 pages, no
        // growth).
        let pages = background.saturating_add(self.max_request_pages().saturating_mul(cpus));
        MemoryEstimate {
            parts: vec![
                ("simulation", SIMULATION_BYTES),
                (
                    "TLBs",
                    cpus.saturating_mul(entries).saturating_mul(TLB_ENTRY_BYTES),
                ),
                (
                    "page-walk caches",
                    cpus.saturating_mul(u64::from(self.machine.pwc_entries))
                        .saturating_mul(3 * PWC_ENTRY_BYTES),
                ),
                ("CPUs", cpus.saturating_mul(CPU_BYTES)),
                ("requests", requests.saturating_mul(REQUEST_BYTES)),
                ("page tables", pages.saturating_mul(PAGE_BYTES)),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_with_what_they_count_and_saturate() {
        let base = SimConfig::default();
        let b = base.memory_estimate().total_bytes();
        let mut c = base.clone();
        c.machine.cpus *= 2;
        assert!(c.memory_estimate().total_bytes() > b);
        let mut c = base.clone();
        c.guests[0].queue_depth = 65_536;
        assert!(c.memory_estimate().total_bytes() >= b + 65_000 * REQUEST_BYTES);
        let mut c = base.clone();
        c.machine.tlb.l1.entries = usize::MAX;
        c.machine.cpus = u32::MAX;
        assert_eq!(c.memory_estimate().total_bytes(), u64::MAX);
    }
}
