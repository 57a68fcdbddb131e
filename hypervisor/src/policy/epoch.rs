//! `epoch` and `epoch-unsafe`: lazy invalidation in the manner of LATR
//! (M. K. Kumar, S. Maass, S. Kashyap, J. Veselý, Z. Yan, T. Kim,
//! A. Bhattacharjee, T. Krishna, "LATR: Lazy Translation Coherence",
//! ASPLOS 2018).
//!
//! The unmap flushes the serving CPU's own TLB, records the pages in a
//! per-CPU state and returns: no IPI. Every other CPU flushes the recorded
//! pages at its next scheduler tick (LATR also at a context switch, which
//! the model leaves out: it could only end an epoch sooner). Ticks fall on
//! multiples of `tick_cycles` on every CPU (Linux's default
//! `skew_tick = 0`); the default is 1 ms at 2.5 GHz (CONFIG_HZ = 1000; 250
//! gives 4 ms, `tick_cycles = 10000000`).
//!
//! Cost: the local flush at unmap; at each tick that has pending pages,
//! every other CPU's flush of them (INVLPG each, a full flush above
//! `host.flush_ceiling_pages`), stolen from what it runs; the request
//! completes at once. The price is memory and exposure: virtual pages are
//! reused only after the tick (the area grows as needed), and a frame the
//! guest reuses may still be cached by a CPU that has not ticked (the
//! release-exposure measure).
//!
//! Safe (for virtual addresses): a placement goes back to the allocator
//! only at a tick after its unmap, when every CPU has flushed it (LATR's
//! rule that a virtual address and its frame are not reused before the
//! epoch ends). `epoch-unsafe` releases the placement at the unmap: a CPU
//! that touched the old buffer (after a migration) and has not ticked yet
//! uses the old frame through the reused page (stale uses).

use super::area::DomainArea;
use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{Epoch, EpochRelease, LocalFlush, RemoteInvalidation, UnmapPlan};
use super::registry::PolicyInfo;
use super::MappingPolicy;
use crate::{HvError, PageTableManager, Placement};
use cpu_model::CpuId;

const PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "tick_cycles",
    kind: ParamKind::Int {
        min: 1,
        max: u64::MAX >> 2,
    },
    default: ParamValue::Int(2_500_000),
    doc: "scheduler tick period, cycles: remote CPUs flush at their next tick (default 1 ms \
          at 2.5 GHz, CONFIG_HZ = 1000; 10,000,000 for HZ = 250)",
}];

/// The registry entry of `epoch`.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "epoch",
    summary: "lazy: local flush at unmap, other CPUs flush at their next tick; an area is \
              reused only after every CPU ticked",
    stands_for: "LATR: Lazy Translation Coherence (Kumar et al., ASPLOS 2018)",
    unsafe_variant: false,
    params: PARAMS,
    build,
};

/// The registry entry of `epoch-unsafe`.
pub(super) const UNSAFE_INFO: PolicyInfo = PolicyInfo {
    name: "epoch-unsafe",
    summary: "`epoch` that reuses an unmapped area before the tick: stale uses under migration",
    stands_for: "a demonstration: LATR without its rule that addresses wait for the epoch",
    unsafe_variant: true,
    params: PARAMS,
    build: build_unsafe,
};

fn epoch(p: &Params, name: &'static str, release: EpochRelease) -> Box<dyn MappingPolicy> {
    Box::new(GrowingArea(DomainArea {
        name,
        unmap: UnmapPlan {
            local: LocalFlush::Pages,
            remote: RemoteInvalidation::Epoch(Epoch {
                tick_cycles: p.int("tick_cycles"),
                release,
            }),
        },
        extra_chunks_per_cpu: 0,
    }))
}

#[allow(clippy::unnecessary_wraps, reason = "the registry's BuildFn shape")]
fn build(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(epoch(p, INFO.name, EpochRelease::AfterEpoch))
}

#[allow(clippy::unnecessary_wraps, reason = "the registry's BuildFn shape")]
fn build_unsafe(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(epoch(p, UNSAFE_INFO.name, EpochRelease::AtUnmap))
}

/// The domain-wide area that grows when every chunk waits for its epoch
/// (LATR defers freeing virtual addresses; the address space is large).
#[derive(Clone, Debug)]
struct GrowingArea(DomainArea);

impl MappingPolicy for GrowingArea {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn setup(&mut self, mgr: &mut PageTableManager, io_cpus: &[CpuId]) -> Result<(), HvError> {
        self.0.setup(mgr, io_cpus)
    }
    fn place(
        &mut self,
        mgr: &mut PageTableManager,
        cpu: CpuId,
        pages: u32,
    ) -> Result<Placement, HvError> {
        match self.0.place(mgr, cpu, pages) {
            Err(HvError::AreaFull { .. }) => {
                mgr.add_chunks(1);
                self.0.place(mgr, cpu, pages)
            }
            other => other,
        }
    }
    fn on_map(&self, p: Placement) -> LocalFlush {
        self.0.on_map(p)
    }
    fn on_foreign_access(&self, p: Placement) -> LocalFlush {
        self.0.on_foreign_access(p)
    }
    fn on_unmap(&self, p: Placement) -> UnmapPlan {
        self.0.on_unmap(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_area_grows_instead_of_running_out() {
        let r = super::super::Registry::builtin();
        let spec = r.resolve("epoch", &[]).unwrap();
        let mut p = r
            .build(
                &spec,
                &BuildContext {
                    max_request_pages: 4,
                },
            )
            .unwrap();
        let mut mgr = PageTableManager::new(2, 2, 4);
        p.setup(&mut mgr, &[CpuId(0)]).unwrap();
        let bases: Vec<u64> = (0..5)
            .map(|_| p.place(&mut mgr, CpuId(0), 4).unwrap().base.0)
            .collect();
        let mut distinct = bases.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 5, "{bases:?}");
        assert!(matches!(
            p.on_unmap(Placement {
                base: mmu::VirtPage(0),
                pages: 1,
                chunk: None
            })
            .remote,
            RemoteInvalidation::Epoch(Epoch {
                release: EpochRelease::AfterEpoch,
                ..
            })
        ));
    }
}
