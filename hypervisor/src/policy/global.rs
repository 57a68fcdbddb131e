//! `global`: the baseline. A domain-wide mapping area and, on every unmap,
//! a shootdown of every other CPU of the host domain.
//!
//! Stands for Xen's grant unmap for a PV backend
//! (xen/common/grant_table.c, `gnttab_unmap_grant_ref` ->
//! `gnttab_flush_tlb` / `flush_tlb_mask` over the domain's dirty CPUs: a
//! full flush, serialized by the hypervisor's `flush_lock` in
//! xen/arch/x86/smp.c), and, with `flush = "range"` and `lazy_tlb = true`,
//! for Linux's munmap (`flush_tlb_mm_range` in arch/x86/mm/tlb.c: INVLPG up
//! to `tlb_single_page_flush_ceiling` pages, and no IPI to CPUs in lazy TLB
//! mode, `should_flush_tlb`).
//!
//! Safe: after the unmap every CPU's TLB has lost the pages (or will, before
//! its next host-domain access when it was lazy) before the area is reused.

use super::area::{shootdown_param, DomainArea};
use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{RemoteInvalidation, Shootdown, ShootdownGranularity};
use super::registry::PolicyInfo;
use super::MappingPolicy;

/// The `flush_lock` parameter of the policies that shoot down.
pub(super) const FLUSH_LOCK: ParamSpec = ParamSpec {
    name: "flush_lock",
    kind: ParamKind::Bool,
    default: ParamValue::Bool(true),
    doc: "serialize shootdowns with one lock (Xen's flush_lock, costs.flush_lock_cycles)",
};

/// The registry entry.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "global",
    summary: "domain-wide mapping area; every unmap shoots down every other CPU (IPIs, acks)",
    stands_for: "Xen PV grant unmap (xen/common/grant_table.c, flush_tlb_mask under flush_lock); \
                 with flush=range, lazy_tlb=true: Linux munmap (arch/x86/mm/tlb.c flush_tlb_mm_range)",
    unsafe_variant: false,
    params: &[
        ParamSpec {
            name: "flush",
            kind: ParamKind::Choice(&["full", "range"]),
            default: ParamValue::Choice("full"),
            doc: "what each CPU flushes: \"full\" (every address space, Xen) or \"range\" \
                  (the unmapped pages, a full flush above host.flush_ceiling_pages, Linux)",
        },
        ParamSpec {
            name: "per",
            kind: ParamKind::Choice(&["request", "page"]),
            default: ParamValue::Choice("request"),
            doc: "one shootdown per request, or one per page (a backend unmapping page by page)",
        },
        FLUSH_LOCK,
        ParamSpec {
            name: "lazy_tlb",
            kind: ParamKind::Bool,
            default: ParamValue::Bool(false),
            doc: "skip registered CPUs whose backend is not running; they flush before their \
                  next access (Linux should_flush_tlb); Xen does not",
        },
    ],
    build,
};

fn build(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    DomainArea::boxed(
        INFO.name,
        RemoteInvalidation::Ipi(Shootdown {
            granularity: match p.choice("per") {
                "page" => ShootdownGranularity::Page,
                _ => ShootdownGranularity::Request,
            },
            skip_lazy: p.bool("lazy_tlb"),
            ..shootdown_param(p)
        }),
    )
}
