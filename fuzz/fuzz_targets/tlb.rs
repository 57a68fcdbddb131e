//! `tlbsim tlb`'s input (one address per line) on arbitrary bytes, through
//! a small two-level TLB: it may refuse a line (a located error), never
//! panic or hang, whatever the addresses (high bits included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmu::{PageSize, TlbConfig, TlbGeometry};

fuzz_target!(|data: &[u8]| {
    let config = TlbConfig {
        l1: TlbGeometry { entries: 8, ways: 2 },
        l2: Some(TlbGeometry { entries: 24, ways: 3 }),
    };
    let size = if data.first().is_some_and(|b| b & 1 == 1) {
        PageSize::Size2M
    } else {
        PageSize::Size4K
    };
    let _ = traces::replay_addresses(std::io::Cursor::new(data.to_vec()), "fuzz", config, size);
});
