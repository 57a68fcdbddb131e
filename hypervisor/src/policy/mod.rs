//! Mapping policies: *plans* the machine carries out.
//!
//! A policy answers, at each point of a request's life, with actions from
//! one small vocabulary ([`plan`]) that the `machine` crate implements once:
//! where to map ([`MappingPolicy::place`]: per-CPU slots, the shared area),
//! which local flush a CPU does ([`LocalFlush`]), and how remote TLBs are
//! invalidated ([`RemoteInvalidation`]). The machine never asks which policy
//! it runs; it executes the plan.
//!
//! Policies are found by name in a [`Registry`], each entry with its
//! parameters ([`ParamSpec`]), a one-line summary and the real system it
//! stands for. Adding a policy is one file plus one line in
//! [`Registry::builtin`] (or [`Registry::register`] from outside this crate).

mod area;
mod batched;
mod broadcast;
mod broadcast_targeted;
mod copy;
mod epoch;
mod global;
mod hypercall_flush;
mod kmap;
mod params;
mod percpu;
mod persistent;
pub mod plan;
mod registry;
mod targeted;

pub use area::DomainArea;
pub use params::{BuildContext, ParamKind, ParamProblem, ParamSpec, ParamValue, Params, RawValue};
pub use percpu::PerCpuSlots;
pub use persistent::{Admission, PersistentPool};
pub use plan::{
    Batch, BatchRelease, Broadcast, DataPath, Epoch, EpochRelease, Exhaustion, GrantCopy, IpiSend,
    LocalFlush, Persistent, RemoteAction, RemoteInvalidation, Shootdown, ShootdownFlush,
    ShootdownGranularity, ShootdownTargets, UnmapPlan,
};
pub use registry::{BuildFn, PolicyInfo, PolicyName, PolicySpec, Registry, RegistryError};

use crate::{HvError, PageTableManager, Placement};
use cpu_model::CpuId;

/// Where the backend driver maps a request and what each step of a
/// request's life must flush, as a plan.
///
/// Invalidation contract: a TLB may cache a translation of a host-domain
/// page from the moment a CPU touches it until a flush removes it. A policy
/// is *safe* when its plans guarantee that no CPU touches a virtual page
/// through an entry older than the page's current mapping: either the CPU
/// flushed that page (or everything) since the mapping changed, or the CPU
/// never held an entry for it. The machine's stale-translation checker
/// counts every violation (`stale_uses`).
///
/// The machine releases a placement to the allocator (so its virtual pages
/// may be reused) only after every invalidation of its unmap plan has
/// completed.
pub trait MappingPolicy: Send {
    /// The policy's registry name (reports name runs by it).
    fn name(&self) -> &str;

    /// Sets the host domain up before the first request (registration and
    /// slot pre-allocation for `io_cpus`, for example).
    ///
    /// # Errors
    /// A hypercall failed.
    fn setup(&mut self, mgr: &mut PageTableManager, io_cpus: &[CpuId]) -> Result<(), HvError>;

    /// Chooses the virtual pages for a request of `pages` pages that `cpu`
    /// serves.
    ///
    /// # Errors
    /// No room.
    fn place(
        &mut self,
        mgr: &mut PageTableManager,
        cpu: CpuId,
        pages: u32,
    ) -> Result<Placement, HvError>;

    /// The flush the serving CPU does as part of the map hypercall.
    fn on_map(&self, placement: Placement) -> LocalFlush;

    /// The flush a CPU other than the serving one does before it first
    /// touches the buffer (claim step 7 of the per-CPU method).
    fn on_foreign_access(&self, placement: Placement) -> LocalFlush;

    /// What the unmap needs: a local flush on the serving CPU, then the
    /// invalidation of other CPUs' TLBs.
    fn on_unmap(&self, placement: Placement) -> UnmapPlan;

    /// A shootdown the map of the placement [`MappingPolicy::place`] just
    /// chose needs before the buffer is touched (a pool that wrapped, for
    /// example); `None` (the default) for none.
    fn map_shootdown(&self, _placement: Placement) -> Option<Shootdown> {
        None
    }

    /// Whether map and unmap are serialized by one domain-wide spinlock
    /// (the machine's map lock, `costs.map_lock_cycles`, its waiters
    /// spinning) even when `host.map_lock` is off (when it is on, its
    /// `host.map_lock_waiter` applies). Default: no.
    fn serializes_maps(&self) -> bool {
        false
    }

    /// How a request's data reaches the host domain: mapped per request
    /// (the default), through persistent grants, or copied by the
    /// hypervisor.
    fn data_path(&self) -> DataPath {
        DataPath::Mapped
    }

    /// What the backend does when [`MappingPolicy::place`] reports its pool
    /// exhausted for now ([`HvError::is_exhaustion`]). Default: wait.
    fn on_exhausted(&self) -> Exhaustion {
        Exhaustion::Wait
    }

    /// Whether `placement` is a fallback: a mapping the policy chose
    /// because its own pool was exhausted (counted by the machine). Default:
    /// never.
    fn is_fallback(&self, _placement: Placement) -> bool {
        false
    }
}
