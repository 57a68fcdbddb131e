//! The background workload: a host-domain process on every CPU not
//! registered for I/O, accounted lazily whenever something touches its CPU,
//! so it needs no events of its own. Two models (`background.model`):
//! - `exact.rs`: every access replayed on the CPU's real TLB;
//! - `curve.rs`: the accesses accounted from the mean refill curve after a
//!   full flush (the default; what it assumes is written there).
//!
//! Architecture invariant: the rest of the simulation sees the background
//! only through [`Simulation::bg_catch_up`], `Cpu::flush_all` (which
//! restarts the refill curve) and the CPU's `bg_next` (the issue cycle of its next access, `u64::MAX`
//! with no background), whichever model runs.

mod curve;
mod exact;
mod twin;

#[cfg(test)]
pub(super) use curve::STREAM_CURVE_BASE;
pub(super) use curve::{CurveCpu, CurveKey, RefillCurve};

use super::*;
use crate::config::BackgroundModel;

impl<O: Observer> Simulation<O> {
    /// Accounts CPU `c`'s background accesses that issue at or before
    /// `until`.
    pub(super) fn bg_catch_up(&mut self, c: CpuId, until: u64) {
        match &self.bg_curve {
            None => self.exact_catch_up(c, until),
            Some(curve) => {
                let cpu = &mut self.cpus[c];
                cpu.bg_curve.catch_up(curve, &mut cpu.bg_next, until);
            }
        }
    }

    /// Background accesses the no-I/O twin issues in the window ending at
    /// `end` (those the run counts: issued after the window opened, up to
    /// `end`; from the first cycle with no warm-up). 0 if the window never
    /// opened.
    pub(super) fn background_twin(&self, end: u64) -> u64 {
        if self.window.counted(1) == 0 {
            return 0;
        }
        let Some(curve) = &self.bg_curve else {
            return self.exact_twin(end);
        };
        let cpus = self.cpus.iter().filter(|c| c.bg_next != u64::MAX).count() as u64;
        let before = if self.warmup_ios == 0 {
            0
        } else {
            curve.issued_by(self.window.start)
        };
        cpus * (curve.issued_by(end) - before)
    }
}

/// The curve for a configuration's background, or `None` for the exact
/// model (or no background).
pub(super) fn curve_for(
    cfg: &SimConfig,
    table: &PageTable,
    access: AccessCosts,
    pwc_entries: usize,
) -> Option<std::sync::Arc<RefillCurve>> {
    if !cfg.background.enabled || cfg.background.model == BackgroundModel::Exact {
        return None;
    }
    let key = CurveKey {
        seed: cfg.seed,
        tlb: cfg.machine.tlb,
        pwc_entries,
        pages: cfg.background.working_set_pages,
        between_cycles: cfg.background.cycles_between_accesses,
        access,
    };
    Some(RefillCurve::shared(key, table, BACKGROUND_BASE))
}
