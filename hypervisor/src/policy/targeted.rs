//! `targeted`: a shootdown sent only to the CPUs whose TLB holds one of the
//! unmapped pages.
//!
//! Stands for the upper bound of access tracking: ABIS (N. Amit, "Optimizing
//! the TLB Shootdown Algorithm with Page Access Tracking", USENIX ATC 2017)
//! tracks which CPUs may cache a page's translation and sends IPIs only to
//! them; this policy asks an oracle (each TLB, read only) instead, so it is
//! the best any tracking scheme can do, not a system that exists. Real
//! tracking costs page-table bookkeeping on every access (not charged here)
//! and over-approximates the holders.
//!
//! Cost: as `global` (flush lock, initiator flush, IPIs, handlers,
//! acknowledgements), but only the holders are interrupted; an unmap whose
//! pages no other TLB holds costs only the local flush.
//!
//! Safe: a CPU that holds none of the pages cannot use a stale translation
//! of them (x86 caches no non-present entry), and every holder is flushed
//! before the area is reused.

use super::area::DomainArea;
use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{
    LocalFlush, RemoteInvalidation, Shootdown, ShootdownFlush, ShootdownTargets, UnmapPlan,
};
use super::registry::PolicyInfo;
use super::MappingPolicy;

/// The registry entry.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "targeted",
    summary: "domain-wide area; every unmap shoots down only the CPUs whose TLB holds one of \
              its pages (an oracle)",
    stands_for: "the upper bound of access tracking, ABIS (N. Amit, USENIX ATC 2017)",
    unsafe_variant: false,
    params: &[
        ParamSpec {
            name: "flush",
            kind: ParamKind::Choice(&["range", "full"]),
            default: ParamValue::Choice("range"),
            doc: "what each holder flushes: \"range\" (the unmapped pages, full above \
                  host.flush_ceiling_pages) or \"full\"",
        },
        ParamSpec {
            name: "flush_lock",
            kind: ParamKind::Bool,
            default: ParamValue::Bool(true),
            doc: "serialize shootdowns with one lock (costs.flush_lock_cycles)",
        },
    ],
    build,
};

fn build(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(Box::new(DomainArea {
        name: INFO.name,
        unmap: UnmapPlan {
            local: LocalFlush::None,
            remote: RemoteInvalidation::Ipi(Shootdown {
                flush: match p.choice("flush") {
                    "full" => ShootdownFlush::Full,
                    _ => ShootdownFlush::Range,
                },
                serialized: p.bool("flush_lock"),
                targets: ShootdownTargets::Holders,
                ..Shootdown::default()
            }),
        },
    }))
}
