//! `hypercall-flush`: the host domain asks the hypervisor to flush every
//! CPU on its behalf, with one hypercall.
//!
//! Stands for Xen's `HVMOP_flush_tlbs` (xen.git e9aca9470e: one hypercall
//! flushes all vCPUs; 32 vCPUs, `make -j32`: system time 36m24s -> 5m16s),
//! Hyper-V's `HvCallFlushVirtualAddressSpace` / `...List` hypercalls (Linux
//! arch/x86/hyperv/mmu.c `hyperv_flush_tlb_multi`) and KVM's paravirtual
//! TLB flush (arch/x86/kernel/kvm.c `kvm_flush_tlb_multi`).
//!
//! Cost: on the initiator, its own flush, one hypercall
//! (`costs.hypercall_cycles`) instead of one guest-side IPI send per target
//! (`costs.ipi_send_cycles`, a VM exit each inside a VM), then the
//! hypervisor's physical IPIs at `host_send_cycles` each; the targets are
//! still interrupted (delivery, handler, flush, acknowledgement, as for
//! `global`). `host_send_cycles` defaults to the bare-metal preset's
//! `ipi_send_cycles` (200, an assumption of that preset): the hypervisor
//! sends as a bare-metal kernel does.
//!
//! Safe: the hypercall returns only when every CPU has flushed, before the
//! area is reused (as `global`).

use super::area::{shootdown_param, DomainArea};
use super::global::FLUSH_LOCK;
use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{IpiSend, RemoteInvalidation, Shootdown};
use super::registry::PolicyInfo;
use super::MappingPolicy;

/// The registry entry.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "hypercall-flush",
    summary: "domain-wide area; every unmap asks the hypervisor, in one hypercall, to flush \
              every CPU (it sends the IPIs)",
    stands_for: "Xen HVMOP_flush_tlbs (xen.git e9aca9470e); Hyper-V flush hypercalls \
                 (arch/x86/hyperv/mmu.c); KVM PV TLB flush (arch/x86/kernel/kvm.c)",
    unsafe_variant: false,
    params: &[
        ParamSpec {
            name: "flush",
            kind: ParamKind::Choice(&["full", "range"]),
            default: ParamValue::Choice("full"),
            doc: "what each CPU flushes: \"full\" (HVMOP_flush_tlbs flushes everything) or \
                  \"range\" (a flush-list hypercall, full above host.flush_ceiling_pages)",
        },
        FLUSH_LOCK,
        ParamSpec {
            name: "host_send_cycles",
            kind: ParamKind::Int {
                min: 0,
                max: 1 << 32,
            },
            default: ParamValue::Int(200),
            doc: "the hypervisor's cost of sending one physical IPI, cycles (assumption: the \
                  bare-metal preset's ipi_send_cycles)",
        },
    ],
    build,
};

fn build(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    DomainArea::boxed(
        INFO.name,
        RemoteInvalidation::Ipi(Shootdown {
            send: IpiSend::Hypercall {
                per_target_cycles: p.int("host_send_cycles"),
            },
            ..shootdown_param(p)
        }),
    )
}
