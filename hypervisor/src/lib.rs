//! The hypervisor's page-table manager for the host domain, and the mapping
//! policies the backend driver can use.
//!
//! - [`PageTableManager`]: owns the host domain's page table and serves the
//!   hypercalls the backend driver makes: register a CPU for I/O,
//!   pre-allocate slots for it, map guest pages (with a flush scope), unmap.
//! - [`MappingPolicy`]: where a request's pages are mapped and which TLBs a
//!   mapping change must flush; [`GlobalFlush`], [`PerCpuSlots`] (the patent's
//!   method) and its deliberately broken variant.
//!
//! This crate decides *what* is mapped and *what* must be flushed; the
//! `machine` crate decides *when*, and charges the cycles.
//!
//! Architecture invariant: no timing here, no files, no serde.

mod manager;
mod policy;

pub use manager::{HvError, PageTableManager, Placement, HOST_ASID};
pub use policy::{
    policy_for, FlushDirective, GlobalFlush, MappingPolicy, PerCpuSlots, PolicyKind, UnknownPolicy,
};
