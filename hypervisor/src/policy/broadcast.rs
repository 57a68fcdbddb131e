//! `broadcast`: remote TLBs invalidated by a broadcast instruction, no IPIs.
//!
//! Stands for AMD `INVLPGB` + `TLBSYNC` as Linux uses them (x86/mm INVLPGB
//! series, R. van Riel, 2025: arch/x86/include/asm/tlb.h
//! `invlpgb_flush_user_nr_nosync`, `__tlbsync`; arch/x86/mm/tlb.c
//! `flush_tlb_kernel_range` and broadcast ASIDs): the initiator issues one
//! `INVLPGB` per run of up to `invlpgb_count_max` pages (CPUID
//! 0x80000008 EDX), the hardware invalidates every core's TLB, and
//! `TLBSYNC` waits until all have done so.
//!
//! Cost: on the initiator its own flush, `issue_cycles` per `INVLPGB` and
//! `sync_cycles` of `TLBSYNC`; nothing on the targets (no interrupt, no
//! handler, no stolen cycles; their TLBs lose the pages). The cycle costs
//! are assumptions (no published per-instruction figure in
//! shared/reference/costs.md): an issue like one `INVLPG` (250 cycles) and
//! a `TLBSYNC` of 2,000 cycles (0.8 us at 2.5 GHz, a round trip through the
//! data fabric to every core); a calibration would need a measurement on a
//! Zen 3+ machine.
//!
//! Safe: the initiator goes on (and the area is reused) only after
//! `TLBSYNC`, when every TLB has lost the pages.

use super::area::{flush_param, DomainArea, RANGE_FLUSH};
use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{Broadcast, RemoteInvalidation};
use super::registry::PolicyInfo;
use super::MappingPolicy;

/// The registry entry.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "broadcast",
    summary: "domain-wide area; every unmap invalidates all TLBs by broadcast (INVLPGB + \
              TLBSYNC): no IPIs, no handlers",
    stands_for: "AMD INVLPGB/TLBSYNC as Linux uses them (x86/mm INVLPGB series, R. van Riel, \
                 2025; arch/x86/include/asm/tlb.h)",
    unsafe_variant: false,
    params: &[
        RANGE_FLUSH,
        ParamSpec {
            name: "issue_cycles",
            kind: ParamKind::Int {
                min: 0,
                max: 1 << 32,
            },
            default: ParamValue::Int(250),
            doc: "cycles to issue one INVLPGB (assumption: like one INVLPG, costs.invlpg_cycles)",
        },
        ParamSpec {
            name: "pages_per_instruction",
            kind: ParamKind::Int { min: 1, max: 65536 },
            default: ParamValue::Int(8),
            doc: "pages one INVLPGB covers (invlpgb_count_max, CPUID 0x80000008 EDX; \
                  assumption: 8)",
        },
        ParamSpec {
            name: "sync_cycles",
            kind: ParamKind::Int {
                min: 0,
                max: 1 << 32,
            },
            default: ParamValue::Int(2_000),
            doc: "cycles the initiator waits in TLBSYNC (assumption: 0.8 us at 2.5 GHz)",
        },
    ],
    build,
};

fn build(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    DomainArea::boxed(
        INFO.name,
        RemoteInvalidation::Broadcast(Broadcast {
            flush: flush_param(p),
            issue_cycles: p.int("issue_cycles"),
            pages_per_instruction: u32::try_from(p.int("pages_per_instruction"))
                .expect("declared within u32"),
            sync_cycles: p.int("sync_cycles"),
        }),
    )
}
