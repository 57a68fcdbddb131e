//! `batched` and `batched-unsafe`: unmaps gathered per backend CPU and
//! invalidated by one shootdown per batch.
//!
//! Stands for Xen's grant unmap as a Linux netback backend drives it:
//! netback's dealloc thread gathers the pending unmaps of its queue (up to
//! `MAX_PENDING_REQS` = 256, drivers/net/xen-netback/netback.c,
//! `xenvif_tx_dealloc_action`) and hands them to one `GNTTABOP_unmap_grant_ref`
//! call, which Xen serves in batches of `GNTTAB_UNMAP_BATCH_SIZE` = 32
//! (xen/common/grant_table.c, `gnttab_unmap_grant_ref`) with one full TLB
//! flush of the domain's dirty CPUs per batch (`gnttab_flush_tlb` ->
//! `flush_tlb_mask`, serialized by `flush_lock` in xen/arch/x86/smp.c).
//!
//! Cost: one shootdown (IPIs to every other CPU, handlers, acknowledgements,
//! a full flush everywhere) per batch instead of per request; the price is
//! latency: a request waits in its batch until the batch is flushed (when
//! full, when its oldest unmap is `timeout_cycles` old at a request
//! boundary, or when the backend runs out of requests, as netback's dealloc
//! thread runs whenever unmaps are pending).
//!
//! Safe: a placement goes back to the allocator only after the batch's
//! shootdown completed, so no CPU holds a translation of a virtual page when
//! it is mapped again; and a request completes to its guest only after that
//! shootdown (Xen completes the unmap operation only after the flush,
//! which is what makes it safe for the guest to reuse the frame).
//!
//! `batched-unsafe` releases each placement at its unmap, before the
//! batch's shootdown: the next request mapped there is served through TLB
//! entries still holding the old frame (stale uses).

use super::area::DomainArea;
use super::global::FLUSH_LOCK;
use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{
    Batch, BatchRelease, LocalFlush, RemoteInvalidation, Shootdown, ShootdownFlush, UnmapPlan,
};
use super::registry::PolicyInfo;
use super::MappingPolicy;

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "batch_size",
        kind: ParamKind::Int { min: 1, max: 4096 },
        default: ParamValue::Int(32),
        doc: "unmaps per shootdown; a full batch is flushed at once (Xen \
              GNTTAB_UNMAP_BATCH_SIZE = 32; netback gathers up to 256)",
    },
    ParamSpec {
        name: "timeout_cycles",
        kind: ParamKind::Int {
            min: 0,
            max: u64::MAX >> 1,
        },
        default: ParamValue::Int(0),
        doc: "a partial batch whose oldest unmap is this old is flushed at the backend's next \
              request boundary, cycles (0: only when full or when the backend runs out of \
              requests, as netback)",
    },
    FLUSH_LOCK,
];

/// The registry entry of `batched`.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "batched",
    summary: "domain-wide area; unmaps gathered per backend CPU, one full shootdown per batch; \
              requests complete after their batch's flush",
    stands_for: "Xen grant unmap as netback drives it (xen/common/grant_table.c \
                 GNTTAB_UNMAP_BATCH_SIZE = 32; drivers/net/xen-netback/netback.c \
                 xenvif_tx_dealloc_action, up to 256 pending)",
    unsafe_variant: false,
    params: PARAMS,
    build,
};

/// The registry entry of `batched-unsafe`.
pub(super) const UNSAFE_INFO: PolicyInfo = PolicyInfo {
    name: "batched-unsafe",
    summary: "`batched` that reuses an unmapped area before its batch's flush: shows stale uses",
    stands_for: "a demonstration: Xen's batched grant unmap without waiting for the flush \
                 before the area is reused",
    unsafe_variant: true,
    params: PARAMS,
    build: build_unsafe,
};

fn batch(p: &Params, name: &'static str, release: BatchRelease) -> Box<dyn MappingPolicy> {
    let size = u32::try_from(p.int("batch_size")).expect("declared within u32");
    Box::new(DomainArea {
        name,
        unmap: UnmapPlan {
            local: LocalFlush::None,
            remote: RemoteInvalidation::Batched(Batch {
                shootdown: Shootdown {
                    flush: ShootdownFlush::Full,
                    serialized: p.bool("flush_lock"),
                    ..Shootdown::default()
                },
                size,
                timeout_cycles: p.int("timeout_cycles"),
                release,
            }),
        },
        // Room for every backend's full batch besides the request it
        // serves; the unsafe variant reuses at once and needs none.
        extra_chunks_per_cpu: match release {
            BatchRelease::AfterFlush => size,
            BatchRelease::AtUnmap => 0,
        },
    })
}

fn build(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(batch(p, INFO.name, BatchRelease::AfterFlush))
}

fn build_unsafe(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(batch(p, UNSAFE_INFO.name, BatchRelease::AtUnmap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PageTableManager;
    use cpu_model::CpuId;

    #[test]
    fn the_safe_variant_reserves_room_for_full_batches() {
        let r = super::super::Registry::builtin();
        let ctx = BuildContext {
            max_request_pages: 4,
        };
        for (name, extra) in [("batched", 2 * 32), ("batched-unsafe", 0)] {
            let spec = r.resolve(name, &[]).unwrap();
            let mut p = r.build(&spec, &ctx).unwrap();
            let mut mgr = PageTableManager::new(4, 4, 4);
            p.setup(&mut mgr, &[CpuId(0), CpuId(1)]).unwrap();
            let mut taken = 0;
            while p.place(&mut mgr, CpuId(0), 4).is_ok() {
                taken += 1;
            }
            assert_eq!(taken, 4 + extra, "{name}");
        }
    }
}
