//! The backend's own translations (`io.backend_working_set_pages`): kernel
//! text and data, the ring, bio/skb pages that a backend thread touches for
//! every request, so that a full flush of the host domain costs their
//! refill (Documentation/arch/x86/tlb.rst: a full flush destroys the
//! entries of other areas, which "must be refilled later, at some cost",
//! the reason for `tlb_single_page_flush_ceiling`).

use super::*;

impl<O: Observer> Simulation<O> {
    /// CPU `c`'s backend thread touches its working set as it dequeues a
    /// request at `now` (one lookup per page, through `c`'s TLB); returns the
    /// translation cycles (the accesses themselves are part of
    /// `costs.dequeue_cycles`). 0 without a working set.
    pub(super) fn touch_working_set(&mut self, c: CpuId, now: u64) -> u64 {
        let pages = self.io.backend_working_set_pages;
        let mut cycles = 0;
        for p in 0..u64::from(pages) {
            let va = VirtAddr((self.resident.0 + p) << 12);
            cycles += self.host_access(c, va, now).latency_cycles;
        }
        cycles
    }
}
