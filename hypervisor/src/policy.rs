//! Mapping policies: where the backend maps a request and what it flushes.

use crate::{HvError, PageTableManager, Placement};
use cpu_model::CpuId;
use std::fmt;
use std::str::FromStr;

/// The policies tlbsim offers, by their CLI/scenario names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyKind {
    /// `global`: the baseline. Mappings in a domain-wide area; each unmap
    /// flushes locally and shoots down every other CPU of the host domain.
    Global,
    /// `percpu`: the patent's method. Per-CPU slots, local flush at map time,
    /// buffers used only on their CPU, and a CPU that touches another CPU's
    /// buffer (after a migration) flushes its own TLB first.
    PerCpu,
    /// `percpu-unsafe`: `percpu` without claim step 7 (no flush before a
    /// foreign CPU touches a buffer). A demonstration of why step 7 is needed:
    /// it shows stale-translation uses when threads migrate.
    PerCpuUnsafe,
}

impl PolicyKind {
    /// Every policy, in the order reports list them.
    pub const ALL: [PolicyKind; 3] = [
        PolicyKind::Global,
        PolicyKind::PerCpu,
        PolicyKind::PerCpuUnsafe,
    ];

    /// The policy's name in scenarios, the CLI and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Global => "global",
            PolicyKind::PerCpu => "percpu",
            PolicyKind::PerCpuUnsafe => "percpu-unsafe",
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A policy name that is not one of [`PolicyKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy `{name}` (allowed: global, percpu, percpu-unsafe)")]
pub struct UnknownPolicy {
    /// The name given.
    pub name: String,
}

impl FromStr for PolicyKind {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PolicyKind::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPolicy {
                name: s.to_string(),
            })
    }
}

/// Which TLBs a mapping change must flush, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushDirective {
    /// No flush.
    None,
    /// Flush the request's pages on the CPU that made the change only
    /// (INVLPG each, or a full local flush above the ceiling).
    Local,
    /// Flush locally and shoot down every other CPU of the host domain
    /// (IPIs, handlers, acknowledgements).
    Shootdown,
}

/// Where the backend driver maps a request and which flushes each step of a
/// request's life needs. One implementation per [`PolicyKind`].
pub trait MappingPolicy {
    /// Which policy this is.
    fn kind(&self) -> PolicyKind;

    /// Sets the host domain up before the first request (registration and
    /// slot pre-allocation for `io_cpus`).
    ///
    /// # Errors
    /// A hypercall failed.
    fn setup(
        &mut self,
        mgr: &mut PageTableManager,
        io_cpus: &[CpuId],
        slots_per_cpu: u32,
    ) -> Result<(), HvError>;

    /// Chooses the virtual pages for a request of `pages` pages that `cpu`
    /// serves.
    ///
    /// # Errors
    /// No room.
    fn place(
        &mut self,
        mgr: &mut PageTableManager,
        cpu: CpuId,
        pages: u32,
    ) -> Result<Placement, HvError>;

    /// The flush that the map hypercall asks for.
    fn map_flush(&self) -> FlushDirective;

    /// The flush that the unmap needs.
    fn unmap_flush(&self) -> FlushDirective;

    /// Whether a CPU other than the one a buffer was mapped for must flush its
    /// own TLB before touching it (claim step 7).
    fn flush_before_foreign_access(&self) -> bool;
}

/// The baseline: a domain-wide mapping area and a global flush on unmap, as
/// Xen's grant unmap does for a PV backend (mapping needs no flush).
#[derive(Clone, Debug, Default)]
pub struct GlobalFlush;

impl MappingPolicy for GlobalFlush {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Global
    }
    fn setup(&mut self, _: &mut PageTableManager, _: &[CpuId], _: u32) -> Result<(), HvError> {
        Ok(())
    }
    fn place(
        &mut self,
        mgr: &mut PageTableManager,
        _cpu: CpuId,
        pages: u32,
    ) -> Result<Placement, HvError> {
        mgr.take_chunk(pages)
    }
    fn map_flush(&self) -> FlushDirective {
        FlushDirective::None
    }
    fn unmap_flush(&self) -> FlushDirective {
        FlushDirective::Shootdown
    }
    fn flush_before_foreign_access(&self) -> bool {
        false
    }
}

/// The patent's per-CPU slot policy (claim 1, steps 1-7); with
/// `step7 = false` it is the unsafe demonstration variant.
#[derive(Clone, Debug)]
pub struct PerCpuSlots {
    step7: bool,
}

impl PerCpuSlots {
    /// The correct policy.
    #[must_use]
    pub fn new() -> Self {
        Self { step7: true }
    }

    /// The variant without claim step 7.
    #[must_use]
    pub fn without_foreign_flush() -> Self {
        Self { step7: false }
    }
}

impl Default for PerCpuSlots {
    fn default() -> Self {
        Self::new()
    }
}

impl MappingPolicy for PerCpuSlots {
    fn kind(&self) -> PolicyKind {
        if self.step7 {
            PolicyKind::PerCpu
        } else {
            PolicyKind::PerCpuUnsafe
        }
    }
    fn setup(
        &mut self,
        mgr: &mut PageTableManager,
        io_cpus: &[CpuId],
        slots_per_cpu: u32,
    ) -> Result<(), HvError> {
        for &cpu in io_cpus {
            mgr.register_cpu(cpu)?;
            mgr.preallocate_slots(cpu, slots_per_cpu)?;
        }
        Ok(())
    }
    fn place(
        &mut self,
        mgr: &mut PageTableManager,
        cpu: CpuId,
        pages: u32,
    ) -> Result<Placement, HvError> {
        mgr.take_slots(cpu, pages)
    }
    fn map_flush(&self) -> FlushDirective {
        FlushDirective::Local
    }
    fn unmap_flush(&self) -> FlushDirective {
        // The slot's stale entry can only be on this CPU (exclusive use) and
        // is flushed when the slot is mapped again.
        FlushDirective::None
    }
    fn flush_before_foreign_access(&self) -> bool {
        self.step7
    }
}

/// A fresh policy object of the given kind.
#[must_use]
pub fn policy_for(kind: PolicyKind) -> Box<dyn MappingPolicy + Send> {
    match kind {
        PolicyKind::Global => Box::new(GlobalFlush),
        PolicyKind::PerCpu => Box::new(PerCpuSlots::new()),
        PolicyKind::PerCpuUnsafe => Box::new(PerCpuSlots::without_foreign_flush()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in PolicyKind::ALL {
            assert_eq!(p.name().parse::<PolicyKind>(), Ok(p));
            assert_eq!(policy_for(p).kind(), p);
        }
        assert!("percpu_unsafe"
            .parse::<PolicyKind>()
            .unwrap_err()
            .to_string()
            .contains("allowed"));
    }

    #[test]
    fn percpu_registers_and_places_in_own_slots() {
        let mut mgr = PageTableManager::new(4, 0, 0);
        let mut p = PerCpuSlots::new();
        p.setup(&mut mgr, &[CpuId(0), CpuId(1)], 16).unwrap();
        assert!(mgr.is_registered(CpuId(1)) && !mgr.is_registered(CpuId(2)));
        let a = p.place(&mut mgr, CpuId(0), 4).unwrap();
        let b = p.place(&mut mgr, CpuId(1), 4).unwrap();
        assert_ne!(a.base, b.base);
        assert!(
            p.place(&mut mgr, CpuId(2), 1).is_err(),
            "unregistered CPU has no slots"
        );
        assert_eq!(p.map_flush(), FlushDirective::Local);
        assert_eq!(p.unmap_flush(), FlushDirective::None);
        assert!(p.flush_before_foreign_access());
        assert!(!PerCpuSlots::without_foreign_flush().flush_before_foreign_access());
    }
}
