//! The hypervisor's page-table manager for the host domain, and the mapping
//! policies the backend driver can use.
//!
//! - [`PageTableManager`]: owns the host domain's page table and serves the
//!   hypercalls the backend driver makes: register a CPU for I/O,
//!   pre-allocate slots for it, map guest pages (with a flush scope), unmap.
//! - [`MappingPolicy`]: a policy as plans ([`plan`]): where a request's
//!   pages are mapped and which TLBs each step must invalidate, how; the
//!   [`Registry`] of policies by name with their parameters.
//!
//! This crate decides *what* is mapped and *what* must be flushed; the
//! `machine` crate decides *when*, and charges the cycles.
//!
//! Architecture invariant: no timing here, no files, no serde.

mod manager;
mod policy;

pub use manager::{HvError, PageTableManager, Placement, HOST_ASID};
pub use policy::*;
