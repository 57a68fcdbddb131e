//! Release exposure: after a request completes (its guest may reuse the
//! frames), how long some TLB still caches a translation to one of them.
//!
//! At a request's completion in the window, every CPU whose TLB caches a
//! translation of one of the request's pages to its frame opens an
//! exposure (the CPU's background is replayed up to that cycle first, so
//! the TLB is exactly as it is then). The exposure closes when the
//! translation leaves that TLB: at the flush that removes it (checked after
//! every flush of the CPU), or at the access that evicts it (checked after
//! every access that fills a TLB level, at its issue cycle); one still open
//! when the run stops is cut there (a lower bound). Each closed exposure
//! longer than zero cycles is one sample. Frames that are never released
//! while cached (persistent grants, whose purge completes a full
//! shootdown before the frame is released; grant copy, which maps none)
//! give none.

use super::*;

/// A translation to a released frame a CPU's TLB still caches.
#[derive(Clone, Copy, Debug)]
pub(super) struct Exposed {
    page: VirtPage,
    frame: PhysFrame,
    /// When the frame was released, cycles.
    since: u64,
}

/// Closes, at `now`, every exposure of `cpu` whose translation its TLB no
/// longer caches.
pub(super) fn close_evicted(cpu: &mut Cpu, samples: &mut LatencyHistogram, now: u64) {
    close_where(cpu, samples, now, |_, _| true);
}

/// [`close_evicted`] after an access to `va` filled a TLB entry: only an
/// exposure whose entry could share a set with that fill can have been
/// evicted by it (the others are skipped without a lookup).
pub(super) fn close_evicted_by_fill(
    cpu: &mut Cpu,
    samples: &mut LatencyHistogram,
    now: u64,
    va: VirtAddr,
) {
    let filled = va.page();
    close_where(cpu, samples, now, |tlb, e| {
        tlb.may_share_set(filled, e.page)
    });
}

/// Closes, at `now`, the exposures of `cpu` that `check` selects and whose
/// translation its TLB no longer caches.
fn close_where(
    cpu: &mut Cpu,
    samples: &mut LatencyHistogram,
    now: u64,
    check: impl Fn(&TlbHierarchy, &Exposed) -> bool,
) {
    let tlb = &cpu.tlb;
    cpu.exposed.retain(|e| {
        if !check(tlb, e) || tlb.caches_frame(HOST_ASID, e.page, e.frame) {
            return true;
        }
        if now > e.since {
            samples.record(now - e.since);
        }
        false
    });
}

impl<O: Observer> Simulation<O> {
    /// The `pages` frames from `first_frame`, mapped at the virtual pages
    /// from `va`, are released to their guest at `now`.
    pub(super) fn frames_released(&mut self, now: u64, va: u64, first_frame: u64, pages: u32) {
        if self.window.counted(1) == 0 {
            return;
        }
        let vpages = || (0..u64::from(pages)).map(|i| VirtPage(va + i));
        for x in self.cpus.ids() {
            if !self.cpus[x].host_filled || !self.cpus[x].tlb.holds_any(HOST_ASID, vpages()) {
                continue;
            }
            if self.cpus[x].bg_next != u64::MAX {
                self.bg_catch_up(x, now);
            }
            let cpu = &mut self.cpus[x];
            for (i, page) in vpages().enumerate() {
                let frame = PhysFrame(first_frame + i as u64);
                if cpu.tlb.caches_frame(HOST_ASID, page, frame) {
                    cpu.exposed.push(Exposed {
                        page,
                        frame,
                        since: now,
                    });
                }
            }
        }
    }

    /// CPU `c` flushed at the current event's cycle: its exposures whose
    /// translation is gone close.
    pub(super) fn close_flushed(&mut self, c: CpuId) {
        let now = self.now;
        let cpu = &mut self.cpus[c];
        if !cpu.exposed.is_empty() {
            close_evicted(cpu, &mut self.exposure, now);
        }
    }

    /// CPU `c` flushed `pages` host pages from `first` (page flushes, no
    /// full flush) at the current event's cycle: only exposures of those
    /// pages can have closed (with no 2 MiB entry cached, which a page
    /// flush inside it would remove whole); the others are skipped without
    /// a lookup.
    pub(super) fn close_flushed_pages(&mut self, c: CpuId, first: u64, pages: u32) {
        let now = self.now;
        let cpu = &mut self.cpus[c];
        if cpu.exposed.is_empty() {
            return;
        }
        let huge = cpu.tlb.l1.resident_2m() + cpu.tlb.l2.as_ref().map_or(0, |l2| l2.resident_2m());
        if huge > 0 {
            close_evicted(cpu, &mut self.exposure, now);
            return;
        }
        let end = first + u64::from(pages);
        close_where(cpu, &mut self.exposure, now, |_, e| {
            (first..end).contains(&e.page.0)
        });
    }

    /// The run stops at `end`: CPU `c`'s open exposures are cut there.
    pub(super) fn close_all_exposures(&mut self, c: CpuId, end: u64) {
        for e in std::mem::take(&mut self.cpus[c].exposed) {
            if end > e.since {
                self.exposure.record(end - e.since);
            }
        }
    }
}
