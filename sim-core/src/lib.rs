//! The discrete-event engine of tlbsim.
//!
//! This crate knows nothing of TLBs, CPUs or I/O: it provides simulated time
//! ([`Instant`]), a totally ordered event queue ([`EventQueue`]; [`SmallQueue`], the default, and [`HeapQueue`]),
//! the main loop ([`Engine`] driving a [`Model`]), seeded random streams
//! ([`rng_stream`]), latency statistics ([`LatencyHistogram`]) and the typed
//! key paths configuration problems are reported at ([`KeyPath`], [`Problem`]).
//!
//! Architecture invariant: simulated time is `u64` cycles; nothing here reads
//! the wall clock.

mod engine;
mod keypath;
pub mod math;
mod queue;
mod rng;
mod stats;
mod time;

pub use engine::{Control, EndReason, Engine, Model, Reserved, RunOutcome, Schedule, Scheduler};
pub use queue::{EventQueue, HeapQueue, SmallQueue};
pub use rng::{rng_stream, SimRng};
pub use stats::{LatencyHistogram, LatencySummary};
pub use time::{Instant, Span};

pub use keypath::{KeyPath, KeySegment, Problem};
