//! `copy`: grant copy. The hypervisor copies between the guest's frames and
//! the host domain's own buffer; the host domain never maps a guest frame,
//! so there is nothing to unmap and nothing to invalidate.
//!
//! Stands for Xen's `GNTTABOP_copy` (xen/common/grant_table.c,
//! `gnttab_copy`: Xen reaches both frames through its direct map) as Linux
//! netback uses it on its transmit path (drivers/net/xen-netback/netback.c,
//! `xenvif_tx_build_gops` batches one copy operation per fragment into one
//! `gnttab_batch_copy` per round).
//!
//! Cost: per request one hypercall (`costs.hypercall_cycles`, the batch),
//! `op_cycles` per page (an assumption: 300 cycles for the grant lookup,
//! the reference and permission checks and the grant-table lock; no
//! published per-operation figure) and `copy_cycles_per_kib` per KiB (an
//! assumption, as `persistent`: 4 bytes per cycle); all on the serving CPU.
//! The host domain's buffer is mapped once at set-up to host frames.
//!
//! Safe: the host domain's page table never translates a guest frame, so no
//! TLB can hold one; its own buffer's mapping never changes.

use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{DataPath, GrantCopy, LocalFlush, UnmapPlan};
use super::registry::PolicyInfo;
use super::MappingPolicy;
use crate::{HvError, PageTableManager, Placement};
use cpu_model::CpuId;
use mmu::{PhysFrame, VirtPage};

/// First virtual page of the host buffers (16 TiB), one per registered CPU
/// every 2 MiB-aligned stride.
const BUFFER_BASE: u64 = 1 << 32;
/// First host frame of the host buffers (clear of guests' and the
/// background's frames).
const BUFFER_FRAME_BASE: u64 = 1 << 34;

/// The registry entry.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "copy",
    summary: "the hypervisor copies between guest frames and the host's own buffer \
              (GNTTABOP_copy): no guest frame mapped, nothing to invalidate",
    stands_for: "Xen grant copy (xen/common/grant_table.c gnttab_copy; netback's tx path, \
                 drivers/net/xen-netback/netback.c xenvif_tx_build_gops)",
    unsafe_variant: false,
    params: &[
        ParamSpec {
            name: "op_cycles",
            kind: ParamKind::Int {
                min: 0,
                max: 1 << 32,
            },
            default: ParamValue::Int(GrantCopy::DEFAULT.op_cycles),
            doc: "cycles of one copy operation per page: grant lookup and checks (assumption)",
        },
        ParamSpec {
            name: "copy_cycles_per_kib",
            kind: ParamKind::Int {
                min: 0,
                max: 1 << 32,
            },
            default: ParamValue::Int(GrantCopy::DEFAULT.copy_cycles_per_kib),
            doc: "cycles per KiB copied (assumption: 4 bytes per cycle, about 10 GB/s at 2.5 GHz)",
        },
    ],
    build,
};

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(Box::new(HostBufferCopy {
        plan: GrantCopy {
            op_cycles: p.int("op_cycles"),
            copy_cycles_per_kib: p.int("copy_cycles_per_kib"),
        },
        stride: ctx.max_request_pages.max(1).div_ceil(512) * 512,
        pages: u32::try_from(ctx.max_request_pages.max(1)).unwrap_or(u32::MAX),
    }))
}

/// The policy: each registered CPU's own buffer, mapped at set-up.
#[derive(Clone, Debug)]
struct HostBufferCopy {
    plan: GrantCopy,
    /// Pages between two CPUs' buffers.
    stride: u64,
    /// Pages of one buffer (the largest request).
    pages: u32,
}

impl HostBufferCopy {
    fn buffer(&self, cpu: CpuId, pages: u32) -> Placement {
        Placement {
            base: VirtPage(BUFFER_BASE + u64::from(cpu.0) * self.stride),
            pages,
            chunk: None,
        }
    }
}

impl MappingPolicy for HostBufferCopy {
    fn name(&self) -> &str {
        INFO.name
    }
    fn setup(&mut self, mgr: &mut PageTableManager, io_cpus: &[CpuId]) -> Result<(), HvError> {
        for &cpu in io_cpus {
            let b = self.buffer(cpu, self.pages);
            let first = BUFFER_FRAME_BASE + u64::from(cpu.0) * self.stride;
            mgr.map(b, (0..u64::from(self.pages)).map(|i| PhysFrame(first + i)))?;
        }
        Ok(())
    }
    fn place(
        &mut self,
        _: &mut PageTableManager,
        cpu: CpuId,
        pages: u32,
    ) -> Result<Placement, HvError> {
        if pages > self.pages {
            return Err(HvError::AreaFull { pages });
        }
        Ok(self.buffer(cpu, pages))
    }
    fn on_map(&self, _: Placement) -> LocalFlush {
        LocalFlush::None
    }
    fn on_foreign_access(&self, _: Placement) -> LocalFlush {
        LocalFlush::None
    }
    fn on_unmap(&self, _: Placement) -> UnmapPlan {
        UnmapPlan::NOTHING
    }
    fn data_path(&self) -> DataPath {
        DataPath::Copy(self.plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cpu_copies_into_its_own_buffer_mapped_at_setup() {
        let mut mgr = PageTableManager::new(4, 0, 0);
        let mut p = HostBufferCopy {
            plan: GrantCopy {
                op_cycles: 1,
                copy_cycles_per_kib: 1,
            },
            stride: 512,
            pages: 4,
        };
        p.setup(&mut mgr, &[CpuId(0), CpuId(1)]).unwrap();
        assert_eq!(mgr.table().mapped_pages(), 8);
        let a = p.place(&mut mgr, CpuId(1), 3).unwrap();
        let frame = mgr.table().translate(a.base.addr()).unwrap().0;
        assert!(frame.0 >= BUFFER_FRAME_BASE, "a host frame, not a guest's");
        assert!(p.place(&mut mgr, CpuId(0), 5).is_err());
        assert_eq!(p.data_path().copy_cycles(2048), 2);
    }
}
