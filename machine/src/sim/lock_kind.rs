//! What a map or unmap hypercall pays for the map lock / grant-table lock,
//! by its kind (`io.map_lock_kind`, [`LockKind`]). The exclusive lock also
//! serializes (`locks.rs`); the shared kinds only cost.

use super::*;
use crate::config::LockKind;

impl<O: Observer> Simulation<O> {
    /// The lock cycles of a map or unmap hypercall of `pages` pages that
    /// CPU `c` starts now (0 without a map lock).
    pub(super) fn map_lock_cost(&mut self, c: CpuId, pages: u32) -> u64 {
        let Some(kind) = self.shared_lock else {
            return if self.map_lock.enabled {
                self.vary.draw(Cost::MapLock)
            } else {
                0
            };
        };
        let me = self.cpus[c].backend;
        // Other backend CPUs inside a map or unmap segment: they hold the
        // read lock or bounce its line now.
        let k = self
            .backends
            .iter()
            .enumerate()
            .filter(|(b, be)| Some(*b) != me && matches!(be.phase, Phase::Map | Phase::Unmap))
            .count() as u64;
        let per_grant = match kind {
            LockKind::Exclusive => unreachable!("the exclusive lock is a FifoLock"),
            LockKind::ReaderWriter => 1 + k,
            LockKind::PerEntry => 2 + k,
            LockKind::PerCpuReaderWriter => 2,
        };
        u64::from(pages) * self.vary.draw(Cost::MapLock) * per_grant
    }
}
