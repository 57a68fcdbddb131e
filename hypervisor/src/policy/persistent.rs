//! `persistent`: Xen blkback's persistent grants. Each ring keeps a pool of
//! guest frames mapped once and kept; requests whose frames are in the pool
//! need no map, no unmap and no flush; the data is copied through the
//! persistent pages (the price).
//!
//! Stands for drivers/block/xen-blkback/blkback.c: `xen_blkbk_map` looks
//! each grant up in the ring's `persistent_gnts` tree and maps only the
//! missing ones, keeping them while the ring holds fewer than
//! `max_persistent_grants` (1,056 = 32 requests x (32 indirect segments + 1),
//! xen-blkback's module parameter); `purge_persistent_gnt` unmaps the least
//! recently used grants when the pool is full (an unmap through Xen's grant
//! table, with its TLB flush). With persistent grants blkfront copies each
//! bio's data into and out of the granted pages (drivers/block/xen-blkfront.c
//! `blkif_setup_rw_req_grant`, `blkif_completion`).
//!
//! Cost: a map hypercall only for frames not yet in the pool; when the pool
//! is full, one unmap hypercall for the purged frames and one full
//! shootdown (Xen's grant unmap flush, `gnttab_flush_tlb`) before the
//! request's data is touched; per request `copy_cycles_per_kib` per KiB of
//! copy (an assumption: 256 cycles per KiB, 4 bytes per cycle, a memcpy of
//! data not in cache at about 10 GB/s at 2.5 GHz; charged to the serving
//! CPU's data phase, since tlbsim models no guest CPU: blkfront pays it in
//! the guest). Which frames a ring sees is the guest's buffer pool: a pool of
//! `buffer_pages` no larger than `grants` is all hits in steady state.
//!
//! Model: a frame is mapped at a virtual page fixed by the frame (so a
//! request's pages stay contiguous); blkback maps each grant on a page of
//! its own, which changes which TLB sets the pages use, not how often they
//! are mapped. A purge is done before the map that needs room (blkback
//! purges from its thread after the request; the frames mapped beyond the
//! limit meanwhile are mapped non-persistently).
//!
//! Safe: a persistent page's mapping never changes while it is in the pool
//! (the guest keeps the grant); a purged frame is released only after the
//! full shootdown, and its virtual page maps only that frame again.

use super::global::FLUSH_LOCK;
use super::params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params};
use super::plan::{DataPath, LocalFlush, Persistent, ShootdownFlush, UnmapPlan};
use super::registry::PolicyInfo;
use super::MappingPolicy;
use crate::{HvError, PageTableManager, Placement};
use cpu_model::CpuId;
use mmu::{PhysFrame, VirtPage};
use std::collections::BTreeMap;

/// First virtual page of the persistent-grant areas (32 TiB).
const PERSISTENT_BASE: u64 = 1 << 33;
/// Virtual pages per ring: a frame's page is `base + frame`, so frames
/// must be below this.
const RING_STRIDE: u64 = 1 << 28;

/// The registry entry.
pub(super) const INFO: PolicyInfo = PolicyInfo {
    name: "persistent",
    summary: "per-ring pool of guest frames mapped once and kept (LRU purge with a shootdown when \
              full); data copied through them",
    stands_for: "Xen blkback persistent grants (drivers/block/xen-blkback/blkback.c \
                 max_persistent_grants = 1056, purge_persistent_gnt)",
    unsafe_variant: false,
    params: &[
        ParamSpec {
            name: "grants",
            kind: ParamKind::Int {
                min: 1,
                max: 1 << 24,
            },
            default: ParamValue::Int(1056),
            doc: "grants (pages) one ring keeps mapped (xen-blkback max_persistent_grants = \
                  1,056); must hold the largest request",
        },
        ParamSpec {
            name: "copy_cycles_per_kib",
            kind: ParamKind::Int {
                min: 0,
                max: 1 << 32,
            },
            default: ParamValue::Int(256),
            doc: "cycles per KiB copied through the persistent pages (assumption: 4 bytes per \
                  cycle, about 10 GB/s at 2.5 GHz)",
        },
        FLUSH_LOCK,
    ],
    build,
};

fn build(p: &Params, ctx: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    let grants = ctx.pages_param(p, "grants")?;
    Ok(Box::new(PersistentGrants {
        plan: Persistent {
            grants_per_ring: u32::try_from(grants).expect("declared within u32"),
            copy_cycles_per_kib: p.int("copy_cycles_per_kib"),
            purge: super::plan::Shootdown {
                flush: ShootdownFlush::Full,
                ..shootdown_param_full(p)
            },
        },
    }))
}

/// The purge's shootdown: Xen's grant unmap flush (full), serialized as
/// `flush_lock` says.
fn shootdown_param_full(p: &Params) -> super::plan::Shootdown {
    super::plan::Shootdown {
        serialized: p.bool("flush_lock"),
        ..super::plan::Shootdown::default()
    }
}

/// The policy: its plan is the data path; the machine keeps one
/// [`PersistentPool`] per ring.
#[derive(Clone, Debug)]
struct PersistentGrants {
    plan: Persistent,
}

impl MappingPolicy for PersistentGrants {
    fn name(&self) -> &str {
        INFO.name
    }
    fn setup(&mut self, _: &mut PageTableManager, _: &[CpuId]) -> Result<(), HvError> {
        Ok(())
    }
    fn place(
        &mut self,
        _: &mut PageTableManager,
        _: CpuId,
        pages: u32,
    ) -> Result<Placement, HvError> {
        // The machine places persistent requests through its pools.
        Err(HvError::AreaFull { pages })
    }
    fn on_map(&self, _: Placement) -> LocalFlush {
        // A frame is mapped at a page that only ever maps it.
        LocalFlush::None
    }
    fn on_foreign_access(&self, _: Placement) -> LocalFlush {
        LocalFlush::None
    }
    fn on_unmap(&self, _: Placement) -> UnmapPlan {
        UnmapPlan::NOTHING
    }
    fn data_path(&self) -> DataPath {
        DataPath::Persistent(self.plan)
    }
}

/// What a request needs from its ring's pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admission {
    /// Where the request's frames are mapped (contiguous).
    pub placement: Placement,
    /// Pages to map now (frames not yet in the pool).
    pub missing: Vec<(VirtPage, PhysFrame)>,
    /// Pages to unmap first, least recently used first (the pool was full).
    pub purged: Vec<(VirtPage, PhysFrame)>,
}

/// One ring's persistent grants: frames mapped and kept, least recently
/// used purged first. No timing, no page-table change: the machine maps and
/// unmaps what an [`Admission`] says.
#[derive(Clone, Debug)]
pub struct PersistentPool {
    base: u64,
    capacity: usize,
    /// Frame -> its last use.
    last_use: BTreeMap<u64, u64>,
    /// Last use -> frame (uses are distinct).
    by_age: BTreeMap<u64, u64>,
    uses: u64,
}

impl PersistentPool {
    /// Ring `ring`'s pool of `capacity` grants.
    #[must_use]
    pub fn new(ring: u32, capacity: u32) -> Self {
        Self {
            base: PERSISTENT_BASE + u64::from(ring) * RING_STRIDE,
            capacity: capacity as usize,
            last_use: BTreeMap::new(),
            by_age: BTreeMap::new(),
            uses: 0,
        }
    }

    /// Grants held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.last_use.len()
    }

    /// Whether no grant is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.last_use.is_empty()
    }

    /// A request of `pages` frames from `first`: which are missing, which
    /// grants to purge for room, and where the request is mapped.
    ///
    /// # Errors
    /// A frame beyond the ring's area, or a request larger than the pool.
    pub fn admit(&mut self, first: PhysFrame, pages: u32) -> Result<Admission, HvError> {
        if pages as usize > self.capacity || first.0 + u64::from(pages) > RING_STRIDE {
            return Err(HvError::AreaFull { pages });
        }
        let mut missing = Vec::new();
        for f in (0..u64::from(pages)).map(|i| first.0 + i) {
            self.uses += 1;
            match self.last_use.insert(f, self.uses) {
                Some(old) => {
                    self.by_age.remove(&old);
                }
                None => missing.push((VirtPage(self.base + f), PhysFrame(f))),
            }
            self.by_age.insert(self.uses, f);
        }
        let mut purged = Vec::new();
        while self.last_use.len() > self.capacity {
            // The request's own frames are the most recent: never purged.
            let (_, f) = self.by_age.pop_first().expect("over capacity: not empty");
            self.last_use.remove(&f);
            purged.push((VirtPage(self.base + f), PhysFrame(f)));
        }
        Ok(Admission {
            placement: Placement {
                base: VirtPage(self.base + first.0),
                pages,
                chunk: None,
            },
            missing,
            purged,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_mapped_once_and_the_least_recently_used_are_purged() {
        let mut pool = PersistentPool::new(1, 4);
        let a = pool.admit(PhysFrame(10), 2).unwrap();
        assert_eq!(a.missing.len(), 2);
        assert!(a.purged.is_empty());
        assert_eq!(a.placement.base.0, PERSISTENT_BASE + RING_STRIDE + 10);
        // Again: all hits.
        let b = pool.admit(PhysFrame(10), 2).unwrap();
        assert!(b.missing.is_empty() && b.purged.is_empty());
        let c = pool.admit(PhysFrame(20), 2).unwrap();
        assert_eq!((c.missing.len(), pool.len()), (2, 4));
        // Frame 10 is used again, so 11 is now the oldest; 3 new frames
        // purge 11, 20, 21 (oldest first), never the request's own.
        pool.admit(PhysFrame(10), 1).unwrap();
        let d = pool.admit(PhysFrame(30), 3).unwrap();
        let purged: Vec<u64> = d.purged.iter().map(|(_, f)| f.0).collect();
        assert_eq!(purged, [11, 20, 21]);
        assert_eq!(pool.len(), 4);
        assert!(pool.admit(PhysFrame(0), 5).is_err(), "larger than the pool");
    }
}
