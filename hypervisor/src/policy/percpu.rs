//! `percpu` and `percpu-unsafe`: the patent's per-CPU slot method
//! (`docs/reference/mechanism.md`, claim 1 steps 1-7).
//!
//! The backend registers its I/O CPUs (step 1) and pre-allocates page-table
//! slots per CPU (step 2); a request is mapped into its CPU's slots (steps
//! 3-4) with a flush of those slots in the local TLB only (step 5); the
//! buffer is used on that CPU (step 6); a CPU that touches another CPU's
//! buffer (after a migration) flushes those pages in its own TLB first
//! (step 7). Unmap needs no flush: a slot's stale entry can only be on its
//! own CPU and is flushed when the slot is mapped again.
//!
//! `percpu-unsafe` leaves out step 7, to show why it is needed: under
//! migration it makes stale-translation uses.

use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{LocalFlush, UnmapPlan};
use super::registry::PolicyInfo;
use super::MappingPolicy;
use crate::{HvError, PageTableManager, Placement};
use cpu_model::CpuId;

const PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "slots_per_cpu",
    kind: ParamKind::Int {
        min: 1,
        max: 1 << 20,
    },
    default: ParamValue::Int(64),
    doc: "page-table slots pre-allocated per registered CPU (claim step 2), pages; must hold \
          the largest request",
}];

/// The registry entry of the correct policy.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "percpu",
    summary: "per-CPU pre-allocated slots, local flush at map, a foreign CPU flushes before it touches a buffer",
    stands_for: "the patent's method (docs/reference/mechanism.md, claim 1 steps 1-7)",
    unsafe_variant: false,
    params: PARAMS,
    build: build_safe,
};

/// The registry entry of the variant without claim step 7.
pub(super) const UNSAFE_INFO: PolicyInfo = PolicyInfo {
    name: "percpu-unsafe",
    summary:
        "percpu without claim step 7 (no flush before a foreign access): stale uses under migration",
    stands_for: "a demonstration of why claim step 7 is needed (mechanism.md)",
    unsafe_variant: true,
    params: PARAMS,
    build: build_unsafe,
};

fn slots(p: &Params, ctx: &BuildContext) -> Result<u32, ParamProblem> {
    let slots = ctx.pages_param(p, "slots_per_cpu")?;
    Ok(u32::try_from(slots).expect("declared range fits u32"))
}

fn build_safe(p: &Params, ctx: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(Box::new(PerCpuSlots::new(slots(p, ctx)?)))
}

fn build_unsafe(p: &Params, ctx: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(Box::new(PerCpuSlots::without_foreign_flush(slots(p, ctx)?)))
}

/// The per-CPU slot policy; without step 7 it is the unsafe variant.
#[derive(Clone, Debug)]
pub struct PerCpuSlots {
    step7: bool,
    slots_per_cpu: u32,
}

impl PerCpuSlots {
    /// The correct policy with `slots_per_cpu` slots per registered CPU.
    #[must_use]
    pub fn new(slots_per_cpu: u32) -> Self {
        Self {
            step7: true,
            slots_per_cpu,
        }
    }

    /// The variant without claim step 7.
    #[must_use]
    pub fn without_foreign_flush(slots_per_cpu: u32) -> Self {
        Self {
            step7: false,
            slots_per_cpu,
        }
    }
}

impl MappingPolicy for PerCpuSlots {
    fn name(&self) -> &str {
        if self.step7 {
            INFO.name
        } else {
            UNSAFE_INFO.name
        }
    }
    fn setup(&mut self, mgr: &mut PageTableManager, io_cpus: &[CpuId]) -> Result<(), HvError> {
        for &cpu in io_cpus {
            mgr.register_cpu(cpu)?;
            mgr.preallocate_slots(cpu, self.slots_per_cpu)?;
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
    fn on_map(&self, _: Placement) -> LocalFlush {
        LocalFlush::Pages
    }
    fn on_foreign_access(&self, _: Placement) -> LocalFlush {
        if self.step7 {
            LocalFlush::Pages
        } else {
            LocalFlush::None
        }
    }
    fn on_unmap(&self, _: Placement) -> UnmapPlan {
        UnmapPlan::NOTHING
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percpu_registers_and_places_in_own_slots() {
        let mut mgr = PageTableManager::new(4, 0, 0);
        let mut p = PerCpuSlots::new(16);
        p.setup(&mut mgr, &[CpuId(0), CpuId(1)]).unwrap();
        assert!(mgr.is_registered(CpuId(1)) && !mgr.is_registered(CpuId(2)));
        let a = p.place(&mut mgr, CpuId(0), 4).unwrap();
        let b = p.place(&mut mgr, CpuId(1), 4).unwrap();
        assert_ne!(a.base, b.base);
        assert!(
            p.place(&mut mgr, CpuId(2), 1).is_err(),
            "unregistered CPU has no slots"
        );
        assert_eq!(p.on_map(a), LocalFlush::Pages);
        assert_eq!(p.on_unmap(a), UnmapPlan::NOTHING);
        assert_eq!(p.on_foreign_access(a), LocalFlush::Pages);
        assert_eq!(
            PerCpuSlots::without_foreign_flush(16).on_foreign_access(a),
            LocalFlush::None
        );
    }

    #[test]
    fn too_few_slots_for_the_largest_request_is_refused() {
        let r = super::super::Registry::builtin();
        let spec = r
            .resolve(
                "percpu",
                &[("slots_per_cpu".into(), super::super::RawValue::Int(8))],
            )
            .unwrap();
        let e = r
            .build(
                &spec,
                &BuildContext {
                    max_request_pages: 16,
                },
            )
            .err()
            .expect("refused")
            .to_string();
        assert!(
            e.contains("slots_per_cpu: must hold the largest request (16 pages)"),
            "{e}"
        );
    }
}
