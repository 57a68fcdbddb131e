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
//!
//! The slots are a finite pool: a slot is held from the map until the
//! machine releases the placement after the I/O completed
//! ([`PageTableManager::take_slots`]). With asynchronous I/O many requests
//! hold slots at once, and the pool can run out; what then happens is the
//! `exhaustion` parameter: `wait` for a completion, fall back to a
//! `shared` mapping in the domain-wide area (unmapped with `global`'s
//! shootdown of every other CPU, Xen's grant unmap), or `refuse` the
//! request. `percpu-early-reuse` is the broken pool that wraps without
//! checking (what `take_slots` did before slots were tracked): its map
//! overwrites a slot an I/O still holds, so that I/O's later use of its
//! buffer (a read's data, touched when the device is done) reaches another
//! request's frame, a stale use.

use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{Exhaustion, LocalFlush, RemoteInvalidation, Shootdown, UnmapPlan};
use super::registry::PolicyInfo;
use super::MappingPolicy;
use crate::{HvError, PageTableManager, Placement};
use cpu_model::CpuId;

const SLOTS: ParamSpec = ParamSpec {
    name: "slots_per_cpu",
    kind: ParamKind::Int {
        min: 1,
        max: 1 << 20,
    },
    default: ParamValue::Int(64),
    doc: "page-table slots pre-allocated per registered CPU (claim step 2), pages; must hold \
          the largest request",
};

const PARAMS: &[ParamSpec] = &[
    SLOTS,
    ParamSpec {
        name: "exhaustion",
        kind: ParamKind::Choice(&["wait", "shared", "refuse"]),
        default: ParamValue::Choice("wait"),
        doc: "when a CPU's slots are all held by I/Os in flight: \"wait\" for a completion, \
              map into the \"shared\" domain-wide area (unmapped with global's shootdown), \
              or \"refuse\" the request (an error response)",
    },
];

/// The registry entry of the correct policy.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "percpu",
    summary: "per-CPU pre-allocated slots, local flush at map, a foreign CPU flushes before it touches a buffer",
    stands_for: "the patent's method (docs/reference/mechanism.md, claim 1 steps 1-7)",
    unsafe_variant: false,
    params: PARAMS,
    build: build_safe,
};

/// The registry entry of the broken pool that reuses slots early.
pub(super) const EARLY_REUSE_INFO: PolicyInfo = PolicyInfo {
    name: "percpu-early-reuse",
    summary: "percpu whose slot ring wraps without checking that a slot's I/O completed: \
              stale uses with asynchronous I/O",
    stands_for: "a demonstration of why a slot is reused only after its I/O completed",
    unsafe_variant: true,
    params: &[SLOTS],
    build: build_early_reuse,
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

fn exhaustion(p: &Params) -> OnExhausted {
    match p.choice("exhaustion") {
        "shared" => OnExhausted::Shared,
        "refuse" => OnExhausted::Refuse,
        _ => OnExhausted::Wait,
    }
}

fn build_safe(p: &Params, ctx: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(Box::new(PerCpuSlots {
        exhausted: exhaustion(p),
        ..PerCpuSlots::new(slots(p, ctx)?)
    }))
}

fn build_unsafe(p: &Params, ctx: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(Box::new(PerCpuSlots {
        exhausted: exhaustion(p),
        ..PerCpuSlots::without_foreign_flush(slots(p, ctx)?)
    }))
}

fn build_early_reuse(
    p: &Params,
    ctx: &BuildContext,
) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(Box::new(PerCpuSlots {
        early_reuse: true,
        ..PerCpuSlots::new(slots(p, ctx)?)
    }))
}

/// What [`PerCpuSlots`] does when a CPU's slots are all held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnExhausted {
    /// The request waits for a completion ([`Exhaustion::Wait`]).
    Wait,
    /// It is mapped in the domain-wide area instead, and unmapped with a
    /// shootdown of every other CPU (`global`'s plan).
    Shared,
    /// It is refused ([`Exhaustion::Refuse`]).
    Refuse,
}

/// The shootdown of a fallback mapping's unmap: `global`'s default (Xen's
/// grant unmap: a full flush of every other CPU under `flush_lock`).
const SHARED_UNMAP: UnmapPlan = UnmapPlan {
    local: LocalFlush::None,
    remote: RemoteInvalidation::Ipi(Shootdown {
        flush: super::plan::ShootdownFlush::Full,
        granularity: super::plan::ShootdownGranularity::Request,
        serialized: true,
        skip_lazy: false,
        send: super::plan::IpiSend::PerTarget,
        targets: super::plan::ShootdownTargets::All,
    }),
};

/// The per-CPU slot policy; without step 7 it is the unsafe variant.
#[derive(Clone, Debug)]
pub struct PerCpuSlots {
    step7: bool,
    slots_per_cpu: u32,
    exhausted: OnExhausted,
    /// The broken pool that reuses a held slot.
    early_reuse: bool,
}

impl PerCpuSlots {
    /// The correct policy with `slots_per_cpu` slots per registered CPU.
    #[must_use]
    pub fn new(slots_per_cpu: u32) -> Self {
        Self {
            step7: true,
            slots_per_cpu,
            exhausted: OnExhausted::Wait,
            early_reuse: false,
        }
    }

    /// The variant without claim step 7.
    #[must_use]
    pub fn without_foreign_flush(slots_per_cpu: u32) -> Self {
        Self {
            step7: false,
            ..Self::new(slots_per_cpu)
        }
    }
}

impl MappingPolicy for PerCpuSlots {
    fn name(&self) -> &str {
        if self.early_reuse {
            EARLY_REUSE_INFO.name
        } else if self.step7 {
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
        if self.early_reuse {
            return mgr.take_slots_unchecked(cpu, pages);
        }
        match mgr.take_slots(cpu, pages) {
            Err(HvError::SlotsBusy { .. }) if self.exhausted == OnExhausted::Shared => {
                mgr.take_chunk(pages)
            }
            other => other,
        }
    }
    fn on_map(&self, p: Placement) -> LocalFlush {
        if self.is_fallback(p) {
            // A fresh PTE of the shared area, as `global` maps it.
            return LocalFlush::None;
        }
        LocalFlush::Pages
    }
    fn on_foreign_access(&self, p: Placement) -> LocalFlush {
        if self.step7 && !self.is_fallback(p) {
            LocalFlush::Pages
        } else {
            LocalFlush::None
        }
    }
    fn on_unmap(&self, p: Placement) -> UnmapPlan {
        if self.is_fallback(p) {
            return SHARED_UNMAP;
        }
        UnmapPlan::NOTHING
    }
    fn on_exhausted(&self) -> Exhaustion {
        match self.exhausted {
            OnExhausted::Refuse => Exhaustion::Refuse,
            // The shared area itself full: wait.
            OnExhausted::Wait | OnExhausted::Shared => Exhaustion::Wait,
        }
    }
    fn is_fallback(&self, p: Placement) -> bool {
        p.chunk.is_some()
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
    fn exhausted_slots_wait_fall_back_or_refuse() {
        let mut mgr = PageTableManager::new(1, 1, 4);
        let mut wait = PerCpuSlots::new(4);
        wait.setup(&mut mgr, &[CpuId(0)]).unwrap();
        let a = wait.place(&mut mgr, CpuId(0), 4).unwrap();
        let e = wait.place(&mut mgr, CpuId(0), 4).unwrap_err();
        assert!(e.is_exhaustion(), "{e}");
        assert_eq!(wait.on_exhausted(), Exhaustion::Wait);
        let shared = PerCpuSlots {
            exhausted: OnExhausted::Shared,
            ..PerCpuSlots::new(4)
        };
        let f = shared.clone().place(&mut mgr, CpuId(0), 4).unwrap();
        assert!(shared.is_fallback(f) && !shared.is_fallback(a));
        assert_eq!(shared.on_unmap(f), SHARED_UNMAP);
        assert_eq!(shared.on_map(f), LocalFlush::None);
        assert_eq!(shared.on_unmap(a), UnmapPlan::NOTHING);
        let refuse = PerCpuSlots {
            exhausted: OnExhausted::Refuse,
            ..PerCpuSlots::new(4)
        };
        assert_eq!(refuse.on_exhausted(), Exhaustion::Refuse);
        mgr.release(a);
        assert!(
            wait.place(&mut mgr, CpuId(0), 4).is_ok(),
            "free after release"
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
