//! The data phase's touches of a request's buffer through a CPU's TLB.

use super::*;

impl<O: Observer> Simulation<O> {
    /// Touches request `r`'s data on CPU `c` through its TLB; returns the
    /// cycles it takes.
    pub(super) fn touch_data(&mut self, c: CpuId, r: RequestId) -> Result<u64, SimError> {
        let req = self.requests[r];
        let placement = req.placement.expect("mapped before touched");
        let lines_total = req.size_bytes.div_ceil(64).max(1);
        let mut cost = lines_total * self.costs.data_line_cycles;
        let cpu = &mut self.cpus[c];
        let table = self.mgr.table();
        let mut lines_left = lines_total;
        for p in 0..u64::from(req.pages) {
            let lines = lines_left.min(64);
            lines_left -= lines;
            let lookups = match self.touch {
                Touch::Line => lines,
                Touch::Page => 1,
            };
            let va = VirtAddr((placement.base.0 + p) << 12);
            let a = mmu::access(
                &mut cpu.tlb,
                &mut cpu.pwc,
                table,
                HOST_ASID,
                va,
                &self.access_costs,
            );
            count_access(&mut cpu.stats, &a);
            self.total_lookups += lookups;
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
            cpu.stats.stale_uses += more * u64::from(a.stale);
        }
        Ok(cost)
    }
}
