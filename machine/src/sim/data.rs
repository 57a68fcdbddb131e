//! The data phase's touches of a request's buffer through a CPU's TLB.
//!
//! What is touched depends on `host.touch` ([`Touch`]): every line (a
//! copy), one line per page, the first bytes (a header peek), or nothing
//! (DMA: the device moves the data, the CPU never translates it).

use super::*;

/// The lines of a request's buffer that a touch mode reads: `lines(p)` of
/// page `p` (each looked up when `per_line`, else one lookup for the
/// page), over pages `0..pages`; `charged` lines cost `data_line_cycles`.
struct TouchPlan {
    pages: u64,
    /// Lines touched in total (they are spread in order over the pages, 64 per
    /// page).
    lines: u64,
    per_line: bool,
    charged: u64,
}

impl TouchPlan {
    fn of(touch: Touch, header_bytes: u64, size_bytes: u64, pages: u32) -> Option<Self> {
        let pages = u64::from(pages);
        let all_lines = size_bytes.div_ceil(64).max(1);
        Some(match touch {
            Touch::Line => Self {
                pages,
                lines: all_lines,
                per_line: true,
                charged: all_lines,
            },
            Touch::PageLookup => Self {
                pages,
                lines: all_lines,
                per_line: false,
                charged: all_lines,
            },
            Touch::Page => Self {
                pages,
                lines: pages,
                per_line: false,
                charged: pages,
            },
            Touch::Header => {
                let bytes = header_bytes.min(size_bytes).max(1);
                let lines = bytes.div_ceil(64);
                Self {
                    pages: bytes.div_ceil(workloads::PAGE_BYTES),
                    lines,
                    per_line: true,
                    charged: lines,
                }
            }
            Touch::Dma => return None,
        })
    }
}

impl<O: Observer> Simulation<O> {
    /// One access of CPU `c` to host-domain address `va` through its TLB at
    /// `now`, counted (one lookup). An access that filled a TLB entry may
    /// have evicted a released frame's translation: its exposure closes.
    pub(super) fn host_access(&mut self, c: CpuId, va: VirtAddr, now: u64) -> mmu::Access {
        let cpu = &mut self.cpus[c];
        let a = mmu::access(
            &mut cpu.tlb,
            &mut cpu.pwc,
            self.mgr.table(),
            HOST_ASID,
            va,
            &self.access_costs,
        );
        count_access(&mut cpu.stats, &a);
        self.total_lookups += 1;
        cpu.host_filled = true;
        if a.outcome != AccessOutcome::L1Hit && !cpu.exposed.is_empty() {
            exposure::close_evicted_by_fill(cpu, &mut self.exposure, now, va);
        }
        a
    }

    /// Touches request `r`'s data on CPU `c` through its TLB as `host.touch`
    /// says at `now`; returns the cycles it takes (0 for DMA, which makes no
    /// access, but for a copying data path's copy).
    pub(super) fn touch_data(&mut self, c: CpuId, r: RequestId, now: u64) -> Result<u64, SimError> {
        let req = self.requests[r];
        // A request a header copy took whole (`io.header_copy_bytes`) has
        // nothing mapped to touch: its bytes are in the backend's own
        // buffer, its copy charged with the map segment.
        let Some(placement) = req.placement else {
            return Ok(0);
        };
        // A copying data path copies the whole request, whatever is touched.
        let path = self.policy.data_path();
        let copy = path.copy_cycles(req.size_bytes);
        // Only a per-request mapping maps the request's own frames; a copy
        // path touches the host's bounce pages, so a frame that is not the
        // request's is no sign of early reuse there.
        let own_frames = matches!(path, DataPath::Mapped);
        // With a header copy, the mapped bytes are those beyond it.
        let mapped_bytes = req.size_bytes - req.copied_bytes;
        let Some(plan) = TouchPlan::of(self.touch, self.header_bytes, mapped_bytes, req.pages)
        else {
            return Ok(copy);
        };
        let mut cost = copy + plan.charged * self.vary.draw(Cost::DataLine);
        let mut lines_left = plan.lines;
        for p in 0..plan.pages {
            let lines = if plan.lines == plan.pages && !plan.per_line {
                1
            } else {
                lines_left.min(64)
            };
            lines_left = lines_left.saturating_sub(lines);
            let lookups = if plan.per_line { lines.max(1) } else { 1 };
            let va = VirtAddr((placement.base.0 + p) << 12);
            let a = self.host_access(c, va, now);
            let cpu = &mut self.cpus[c];
            // A translation to a frame that is not this request's buffer
            // (its slot was mapped over by another request while it was in
            // flight: a pool that reuses slots early) is a stale use too,
            // though the TLB agrees with the page table.
            let foreign =
                own_frames && !a.stale && a.frame.is_some_and(|f| f.0 != req.first_frame + p);
            cpu.stats.stale_uses += u64::from(foreign);
            let stale = a.stale || foreign;
            self.total_lookups += lookups - 1;
            if a.outcome == AccessOutcome::Fault {
                return Err(SimError::Fault {
                    cpu: CpuId(cpu.stats.cpu),
                    va: va.0,
                    policy: PolicyName::new(self.policy.name()),
                });
            }
            cost += a.latency_cycles;
            // The page's other lines: the first access left this page's
            // entry in L1 as most recently used, so each further lookup is an
            // L1 hit on the same entry (0 extra cycles, LRU order unchanged,
            // the same stale verdict). Accounting them arithmetically is
            // exactly what looking each up would give.
            let more = lookups - 1;
            cpu.stats.tlb.lookups += more;
            cpu.stats.tlb.l1_hits += more;
            cpu.stats.stale_uses += more * u64::from(stale);
        }
        Ok(cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_touches_and_charges_what_it_says() {
        // 3 pages, 10,000 bytes = 157 lines.
        let line = TouchPlan::of(Touch::Line, 128, 10_000, 3).expect("touches");
        assert_eq!((line.pages, line.lines, line.charged), (3, 157, 157));
        assert!(line.per_line);
        let pl = TouchPlan::of(Touch::PageLookup, 128, 10_000, 3).expect("touches");
        assert_eq!((pl.pages, pl.charged), (3, 157));
        assert!(!pl.per_line);
        let page = TouchPlan::of(Touch::Page, 128, 10_000, 3).expect("touches");
        assert_eq!((page.pages, page.lines, page.charged), (3, 3, 3));
        let header = TouchPlan::of(Touch::Header, 128, 10_000, 3).expect("touches");
        assert_eq!((header.pages, header.lines, header.charged), (1, 2, 2));
        let small = TouchPlan::of(Touch::Header, 128, 60, 1).expect("touches");
        assert_eq!(
            (small.pages, small.charged),
            (1, 1),
            "a header no larger than the request"
        );
        assert!(TouchPlan::of(Touch::Dma, 128, 10_000, 3).is_none());
    }
}
