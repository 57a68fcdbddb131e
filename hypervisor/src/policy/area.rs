//! A policy that maps every request into the domain-wide area, needs no
//! flush on map or on a foreign access, and invalidates as one fixed unmap
//! plan says: the shape of `global`, `batched`, `broadcast`,
//! `hypercall-flush` and `targeted`
//! (each file documents its real system; this one is only their shared
//! implementation).

use super::params::{ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{LocalFlush, RemoteInvalidation, Shootdown, ShootdownFlush, UnmapPlan};
use super::MappingPolicy;
use crate::{HvError, PageTableManager, Placement};
use cpu_model::CpuId;

/// The domain-wide area with one unmap plan.
#[derive(Clone, Debug)]
pub struct DomainArea {
    /// The registry name it runs as.
    pub name: &'static str,
    /// What every unmap needs.
    pub unmap: UnmapPlan,
    /// Extra chunks of the area per registered CPU, for placements kept
    /// past their unmap (until a later flush).
    pub extra_chunks_per_cpu: u32,
}

impl DomainArea {
    /// The policy `name` whose unmaps flush nothing locally and invalidate
    /// other CPUs as `remote` says, boxed for the registry.
    #[allow(clippy::unnecessary_wraps, reason = "the registry's BuildFn shape")]
    pub(super) fn boxed(
        name: &'static str,
        remote: RemoteInvalidation,
    ) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
        Ok(Box::new(DomainArea {
            name,
            unmap: UnmapPlan {
                local: LocalFlush::None,
                remote,
            },
            extra_chunks_per_cpu: 0,
        }))
    }
}

/// The `flush` parameter of a policy that flushes the unmapped pages by
/// default.
pub(super) const RANGE_FLUSH: ParamSpec = ParamSpec {
    name: "flush",
    kind: ParamKind::Choice(&["range", "full"]),
    default: ParamValue::Choice("range"),
    doc: "what each CPU flushes: \"range\" (the unmapped pages, the whole address space above \
          host.flush_ceiling_pages) or \"full\"",
};

/// A shootdown of every other CPU with the `flush` and `flush_lock`
/// parameters' values.
pub(super) fn shootdown_param(p: &Params) -> Shootdown {
    Shootdown {
        flush: flush_param(p),
        serialized: p.bool("flush_lock"),
        ..Shootdown::default()
    }
}

/// A `flush` choice parameter: `"range"` or `"full"`.
pub(super) fn flush_param(p: &Params) -> ShootdownFlush {
    match p.choice("flush") {
        "range" => ShootdownFlush::Range,
        _ => ShootdownFlush::Full,
    }
}

impl MappingPolicy for DomainArea {
    fn name(&self) -> &str {
        self.name
    }
    fn setup(&mut self, mgr: &mut PageTableManager, io_cpus: &[CpuId]) -> Result<(), HvError> {
        let cpus = u32::try_from(io_cpus.len()).expect("CPU count fits u32");
        mgr.add_chunks(cpus * self.extra_chunks_per_cpu);
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
    fn on_map(&self, _: Placement) -> LocalFlush {
        // Mapping a fresh PTE needs no flush (x86 does not cache non-present
        // entries).
        LocalFlush::None
    }
    fn on_foreign_access(&self, _: Placement) -> LocalFlush {
        // The unmap's invalidation reaches every CPU that may hold the pages
        // before the area is reused.
        LocalFlush::None
    }
    fn on_unmap(&self, _: Placement) -> UnmapPlan {
        self.unmap
    }
}
