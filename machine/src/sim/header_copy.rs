//! The backend's header copy (`io.header_copy_bytes`): the first bytes of
//! each request grant-copied into the backend's own buffer, the rest (if
//! any) mapped by the policy.
//!
//! As xen-netback's transmit path does (drivers/net/xen-netback/netback.c):
//! `xenvif_tx_build_gops` sets up, per packet, one `GNTTABOP_copy`
//! operation of `data_len = min(txreq.size, XEN_NETBACK_TX_COPY_LEN)` =
//! 128 bytes from the first slot's grant into the skb's linear area, and a
//! map operation only when the packet is larger (`data_len < txreq.size`:
//! the first slot's rest becomes frag 0) and for its further slots
//! (`xenvif_get_requests`). `xenvif_tx_action` then issues every copy of
//! the round in one `gnttab_batch_copy` and every map in one
//! `gnttab_map_refs`. A packet that fits the copy is answered at once
//! (`xenvif_tx_submit` -> `xenvif_idx_release`): it is never mapped, so it
//! has no unmap, no dealloc and no TLB flush.
//!
//! In Xen (xen/common/grant_table.c `gnttab_copy` -> `gnttab_copy_one`),
//! each operation with a new source grant releases the previous one
//! (`release_grant_for_copy`) and acquires its own
//! (`acquire_grant_for_copy`); each of the two takes the granting guest's
//! grant-table lock for reading (`grant_read_lock(rgt)`, an exclusive
//! `spin_lock(&rgt->lock)` before Xen 4.6) and the grant's active-entry
//! lock, and the `memcpy` runs with neither held. The destination, the
//! backend's own frame (`DOMID_SELF` by frame), takes no grant lock.
//!
//! The model, in the map segment of the request: `costs.hypercall_cycles`
//! once per drain of the ring (`io.drain_requests`: the drain's first
//! copying request pays the batch's hypercall and counts it), plus
//! `io.header_copy_op_cycles` per operation (one per source page the
//! copied bytes span, as an operation stays within one page; netback's 128
//! bytes take one, a packet's first slot never crossing a page) and
//! `io.header_copy_cycles_per_kib` for its bytes, plus the lock's cost for
//! two grant-table lock acquisitions per operation (`io.map_lock_kind`). Assumptions:
//! with the exclusive lock the copy, like a map, holds `host.map_lock` for
//! its whole segment (Xen < 4.6 held it only around the acquire and the
//! release); the map hypercall of the rest is paid by the drain's first
//! request that maps. No translation is made for copied bytes (Xen copies
//! through its own direct map), so a request of at most
//! `header_copy_bytes` touches no host TLB at all.

use super::*;
use crate::config::IoPathConfig;
use hypervisor::GrantCopy;

/// Grant-table lock acquisitions of one copy operation: the release of the
/// previous source grant and the acquire of its own
/// (`release_grant_for_copy`, `acquire_grant_for_copy`, each under
/// `grant_read_lock` with the active entry's lock).
const LOCK_OPS_PER_COPY: u32 = 2;

/// The header copy of the run's requests, when `io.header_copy_bytes` is
/// set and the policy maps per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct HeaderCopy {
    /// Bytes copied at the start of each request.
    pub(super) bytes: u64,
    /// The cost of a copy operation and of its bytes (as policy `copy`).
    pub(super) plan: GrantCopy,
}

impl HeaderCopy {
    /// The header copy a configuration asks for under a policy with data
    /// path `path`: `None` when off, or when the policy's own data path
    /// already reaches every byte without a per-request mapping: `copy`
    /// (the header is part of its one `GNTTABOP_copy`) and persistent
    /// grants (the header is read through the pool's persistent mapping,
    /// as the persistent-grant netback does when the header's grant is in
    /// its tree: J. Martins, "xen-netback: implement TX persistent
    /// grants", RFC 03/13, 2015; it grant-copies only a grant not yet
    /// there, which the pool's first map of it stands for).
    pub(super) fn new(io: &IoPathConfig, path: DataPath) -> Option<Self> {
        if io.header_copy_bytes == 0 {
            return None;
        }
        match path {
            DataPath::Mapped => Some(Self {
                bytes: io.header_copy_bytes,
                plan: GrantCopy {
                    op_cycles: io.header_copy_op_cycles,
                    copy_cycles_per_kib: io.header_copy_cycles_per_kib,
                },
            }),
            DataPath::Copy(_) | DataPath::Persistent(_) => None,
        }
    }

    /// Copy operations for `copied` bytes from the start of a request: one
    /// per page they span, as a `GNTTABOP_copy` operation stays within one
    /// page of its source grant (`gnttab_copy_buf`: "copy beyond page
    /// area"); netback's 128 bytes take one.
    pub(super) fn ops(copied: u64) -> u32 {
        u32::try_from(copied.div_ceil(workloads::PAGE_BYTES).max(1))
            .expect("a header copy spans at most 256 pages (io.header_copy_bytes <= 1 MiB)")
    }

    /// The part of a request of `size_bytes` over `pages` pages from
    /// `first_frame` that is mapped: `(bytes copied, first mapped frame,
    /// pages mapped)`. Only the pages holding bytes beyond the copy are
    /// mapped; none when the copy takes it all.
    pub(super) fn split(&self, size_bytes: u64, first_frame: u64, pages: u32) -> (u64, u64, u32) {
        let copied = self.bytes.min(size_bytes);
        if size_bytes <= self.bytes {
            return (copied, first_frame, 0);
        }
        let skip = u32::try_from(self.bytes / workloads::PAGE_BYTES)
            .expect("a header copy below a request's size spans fewer pages than it");
        (copied, first_frame + u64::from(skip), pages - skip)
    }
}

impl<O: Observer> Simulation<O> {
    /// The header copy of request `r` in CPU `c`'s map segment: its cycles
    /// and the grant-table lock acquisitions it makes (both 0 without a
    /// header copy).
    pub(super) fn header_copy_cost(&mut self, c: CpuId, r: RequestId) -> (u64, u32) {
        let Some(hc) = self.header_copy else {
            return (0, 0);
        };
        let copied = self.requests[r].copied_bytes;
        let ops = HeaderCopy::ops(copied);
        let b = self.backend_of(c);
        let mut cost = u64::from(ops) * hc.plan.op_cycles + hc.plan.copy_cycles(copied);
        if !std::mem::replace(&mut self.backends[b].io.drain_copied, true) {
            // The drain's batched GNTTABOP_copy.
            self.mgr.count_hypercall();
            cost += self.vary.draw(Cost::Hypercall);
        }
        self.window.io_path.header_copies += self.window.counted(1);
        (cost, ops * LOCK_OPS_PER_COPY)
    }

    /// Whether CPU `c`'s map of its current request pays the map
    /// hypercall: once per drain of the ring, by its first request that
    /// maps (with a header copy, a drain's first requests may map nothing).
    pub(super) fn pays_map_hypercall(&mut self, c: CpuId, in_drain: bool) -> bool {
        if self.header_copy.is_none() {
            return !in_drain;
        }
        let b = self.backend_of(c);
        !std::mem::replace(&mut self.backends[b].io.drain_mapped, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn netback() -> HeaderCopy {
        HeaderCopy {
            bytes: 128,
            plan: GrantCopy::DEFAULT,
        }
    }

    #[test]
    fn a_request_within_the_copy_maps_nothing_and_a_larger_one_the_pages_beyond_it() {
        let hc = netback();
        assert_eq!(hc.split(64, 100, 1), (64, 100, 0));
        assert_eq!(hc.split(128, 100, 1), (128, 100, 0));
        // 129 bytes: the first slot's rest is mapped (frag 0).
        assert_eq!(hc.split(129, 100, 1), (128, 100, 1));
        assert_eq!(hc.split(3 * 4096, 100, 3), (128, 100, 3));
        let page = HeaderCopy { bytes: 4096, ..hc };
        assert_eq!(page.split(4096, 7, 1), (4096, 7, 0));
        assert_eq!(page.split(4097, 7, 2), (4096, 8, 1));
        assert_eq!(page.split(3 * 4096, 7, 3), (4096, 8, 2));
    }

    /// Against a naive reference: a page is mapped iff it holds a byte at
    /// or beyond the copy, over every size up to 5 pages and copies around
    /// the page boundaries.
    #[test]
    fn split_maps_exactly_the_pages_holding_bytes_beyond_the_copy() {
        const PAGE: u64 = workloads::PAGE_BYTES;
        for bytes in [1, 64, 128, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 3 * PAGE + 7] {
            let hc = HeaderCopy {
                bytes,
                plan: GrantCopy::DEFAULT,
            };
            for size in 1..=5 * PAGE {
                let pages = u32::try_from(size.div_ceil(PAGE)).unwrap();
                let mapped: Vec<u64> = (0..u64::from(pages))
                    .filter(|p| (p * PAGE).max(bytes) < ((p + 1) * PAGE).min(size))
                    .collect();
                let (copied, first, n) = hc.split(size, 1000, pages);
                assert_eq!(copied, bytes.min(size), "{bytes} of {size}");
                assert_eq!(u64::from(n), mapped.len() as u64, "{bytes} of {size}");
                if let Some(&p) = mapped.first() {
                    assert_eq!(first, 1000 + p, "{bytes} of {size}");
                }
            }
        }
    }

    #[test]
    fn a_copy_takes_one_operation_per_source_page() {
        assert_eq!(HeaderCopy::ops(64), 1);
        assert_eq!(HeaderCopy::ops(4096), 1);
        assert_eq!(HeaderCopy::ops(4097), 2);
        assert_eq!(HeaderCopy::ops(1 << 20), 256);
    }

    #[test]
    fn off_or_under_copy_there_is_no_header_copy() {
        let mut io = IoPathConfig::default();
        assert_eq!(HeaderCopy::new(&io, DataPath::Mapped), None);
        io.header_copy_bytes = 128;
        assert_eq!(HeaderCopy::new(&io, DataPath::Mapped), Some(netback()));
        assert_eq!(
            HeaderCopy::new(&io, DataPath::Copy(GrantCopy::DEFAULT)),
            None
        );
    }
}
