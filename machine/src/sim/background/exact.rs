//! The exact background model (`background.model = "exact"`): every access
//! replayed, one real TLB lookup (and walk) each, on the CPU's own TLB, in
//! order with every flush and interrupt. Its cost grows with CPUs x
//! simulated time; it is the reference the refill curve is tested against.

use super::super::*;

impl<O: Observer> Simulation<O> {
    /// Replays CPU `c`'s background accesses that issue at or before `until`.
    pub(in crate::sim) fn exact_catch_up(&mut self, c: CpuId, until: u64) {
        let cpu = &mut self.cpus[c];
        while cpu.bg_next <= until {
            let page = cpu.bg_rng.random_range(0..self.bg_pages);
            let va = VirtAddr((BACKGROUND_BASE + u64::from(page)) << 12);
            let a = mmu::access(
                &mut cpu.tlb,
                &mut cpu.pwc,
                &self.bg_table,
                BACKGROUND_ASID,
                va,
                &self.access_costs,
            );
            count_access(&mut cpu.stats, &a);
            if a.outcome != AccessOutcome::L1Hit && !cpu.exposed.is_empty() {
                let at = cpu.bg_next;
                exposure::close_evicted_by_fill(cpu, &mut self.exposure, at, va);
            }
            let cost = self.bg_between + a.latency_cycles;
            cpu.stats.background_accesses += 1;
            cpu.stats.background_cycles += cost;
            cpu.bg_next += cost;
            self.total_bg_accesses += 1;
            self.total_lookups += 1;
        }
    }
}
