//! `tlbsim tlb`'s input on arbitrary bytes, through a small two-level TLB:
//! text (one address per line) or, when the bytes start with the magic
//! `TLBSADDR`, the binary addr64 format (seeds `small.addr64`, `cut.addr64`).
//! It may refuse a line or a malformed addr64 file (a located error), never
//! panic or hang, whatever the addresses (high bits included). The bytes
//! also go through `convert_to_addr64`, whose output must replay the same.
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
    let direct = traces::replay_addresses(data, "fuzz", config, size);
    let mut bin = std::io::Cursor::new(Vec::new());
    if traces::convert_to_addr64(data, "fuzz", &mut bin, "out").is_ok() {
        let again = traces::replay_addresses(&bin.get_ref()[..], "bin", config, size);
        assert_eq!(direct.ok(), again.ok(), "addr64 replays like its source");
    }
});
