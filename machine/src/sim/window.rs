//! The measurement window: the warm-up ends, every counter restarts.

use super::*;

impl<O: Observer> Simulation<O> {
    /// Ends the warm-up: every counter restarts at `now`.
    pub(super) fn start_window(&mut self, now: u64) {
        for c in 0..self.cpus.len() {
            if self.cpus[c].bg_next != u64::MAX {
                self.bg_catch_up(c, now);
            }
            let cpu = &mut self.cpus[c];
            cpu.clock.reset_counters();
            cpu.stats = CpuStats {
                cpu: cpu.stats.cpu,
                registered: cpu.stats.registered,
                ..CpuStats::default()
            };
        }
        self.mgr.reset_counters();
        self.measuring = true;
        self.window_start = now;
    }
}
