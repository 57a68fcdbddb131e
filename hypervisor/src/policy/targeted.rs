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

use super::area::{shootdown_param, DomainArea, RANGE_FLUSH};
use super::global::FLUSH_LOCK;
use super::params::{BuildContext, ParamProblem, Params};
use super::plan::{RemoteInvalidation, Shootdown, ShootdownTargets};
use super::registry::PolicyInfo;
use super::MappingPolicy;

/// The registry entry.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "targeted",
    summary: "domain-wide area; every unmap shoots down only the CPUs whose TLB holds one of \
              its pages (an oracle)",
    stands_for: "the upper bound of access tracking, ABIS (N. Amit, USENIX ATC 2017)",
    unsafe_variant: false,
    params: &[RANGE_FLUSH, FLUSH_LOCK],
    build,
};

fn build(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    DomainArea::boxed(
        INFO.name,
        RemoteInvalidation::Ipi(Shootdown {
            targets: ShootdownTargets::Holders,
            ..shootdown_param(p)
        }),
    )
}
