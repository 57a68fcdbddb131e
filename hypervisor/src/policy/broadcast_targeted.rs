//! `broadcast-targeted`: a cpumask-targeted hardware invalidation without
//! interrupts.
//!
//! Stands for Intel's Remote Action Request (RAR; Intel's "Remote Action
//! Request" white paper, 2023; the Linux RAR patch series, R. van Riel,
//! 2025): the initiator writes an action
//! descriptor and signals the CPUs of a cpumask; their hardware invalidates
//! the pages without running a handler, and the initiator waits until every
//! target reports completion. Linux builds the cpumask from the CPUs that
//! may hold the address space's entries; here the mask is either every
//! other CPU or, with `targets = "holders"`, only the CPUs whose TLB holds
//! one of the pages (the oracle of `targeted`).
//!
//! Cost: on the initiator its own flush, `signal_cycles` per target and,
//! when there is a target, `wait_cycles` for the completions; nothing on
//! the targets. Both are assumptions: no published per-operation figure
//! exists (the white paper gives none, the Linux series none either);
//! `signal_cycles` = 200 is the bare-metal preset's IPI send (an ICR
//! write), `wait_cycles` = 1,000 a round trip to the targets' microcode
//! without an interrupt entry (below `broadcast`'s assumed 2,000-cycle
//! `TLBSYNC`, which waits for every core).
//!
//! Safe: the initiator goes on, and the area is reused, only after every
//! target completed; a CPU left out of the mask holds none of the pages.

use super::area::{flush_param, DomainArea, RANGE_FLUSH};
use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{RemoteAction, RemoteInvalidation, ShootdownTargets};
use super::registry::PolicyInfo;
use super::MappingPolicy;

/// The registry entry.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "broadcast-targeted",
    summary: "domain-wide area; every unmap invalidates a cpumask's TLBs in hardware (Intel \
              RAR): no IPI handlers",
    stands_for: "Intel Remote Action Request (Intel's RAR white paper, 2023; Linux RAR patch \
                 series, R. van Riel, 2025)",
    unsafe_variant: false,
    params: &[
        RANGE_FLUSH,
        ParamSpec {
            name: "targets",
            kind: ParamKind::Choice(&["all", "holders"]),
            default: ParamValue::Choice("holders"),
            doc: "the cpumask: every other CPU, or only those whose TLB holds a page (oracle)",
        },
        ParamSpec {
            name: "signal_cycles",
            kind: ParamKind::Int {
                min: 0,
                max: 1 << 32,
            },
            default: ParamValue::Int(200),
            doc: "cycles to signal one target (assumption: one ICR write, the bare-metal IPI send)",
        },
        ParamSpec {
            name: "wait_cycles",
            kind: ParamKind::Int {
                min: 0,
                max: 1 << 32,
            },
            default: ParamValue::Int(1_000),
            doc: "cycles the initiator waits for the targets' completions (assumption)",
        },
    ],
    build,
};

fn build(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    DomainArea::boxed(
        INFO.name,
        RemoteInvalidation::RemoteAction(RemoteAction {
            targets: match p.choice("targets") {
                "all" => ShootdownTargets::All,
                _ => ShootdownTargets::Holders,
            },
            flush: flush_param(p),
            signal_cycles: p.int("signal_cycles"),
            wait_cycles: p.int("wait_cycles"),
        }),
    )
}
