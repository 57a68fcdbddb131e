//! Address traces for `tlbsim tlb`: one virtual address per line, replayed
//! through the mmu crate's TLB hierarchy alone (no page table, no timing),
//! counting hits and misses per level, like Dinero does for caches.

use std::io::{BufRead, BufReader, Read};

use mmu::{Asid, PageSize, PhysFrame, TlbConfig, TlbHierarchy, TlbLookup, Translation, VirtAddr};

use crate::TraceError;

/// One address from one trace line (hexadecimal with `0x`, or decimal;
/// `#` starts a comment): `Ok(None)` for a blank or comment line.
///
/// # Errors
/// The line holds something else; the message says what.
pub fn parse_address_line(line: &str) -> Result<Option<u64>, String> {
    let body = line.split('#').next().unwrap_or("").trim();
    if body.is_empty() {
        return Ok(None);
    }
    let parsed = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)
    } else {
        body.parse::<u64>()
    };
    parsed
        .map(Some)
        .map_err(|e| format!("not an address ({e}): {body:?}"))
}

/// Hit and miss counts of one level.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelCounts {
    /// Lookups that hit this level.
    pub hits: u64,
    /// Lookups that missed it.
    pub misses: u64,
}

/// Replays every address of `input` (named `name` in errors) through a TLB
/// hierarchy of `config` with pages of `size` (one address space, identity
/// mapping, no flushes); returns the L1 and L2 counts (L2 lookups are the
/// L1 misses; all zero without an L2).
///
/// # Errors
/// A line that is not an address (naming the line), a read error, or a
/// geometry the TLB model refuses.
pub fn replay_addresses(
    input: impl Read,
    name: &str,
    config: TlbConfig,
    size: PageSize,
) -> Result<(LevelCounts, LevelCounts), TraceError> {
    const ASID: Asid = Asid(1);
    let mut tlb = TlbHierarchy::new(config).map_err(|error| TraceError::Tlb { error })?;
    let (mut l1, mut l2) = (LevelCounts::default(), LevelCounts::default());
    let reader = BufReader::with_capacity(1 << 16, input);
    for (i, line) in (1u64..).zip(reader.lines()) {
        let line = line.map_err(|source| TraceError::Io {
            file: name.to_string(),
            source,
        })?;
        let addr = match parse_address_line(&line) {
            Ok(Some(a)) => a,
            Ok(None) => continue,
            Err(message) => {
                return Err(TraceError::Malformed {
                    file: name.to_string(),
                    line: i,
                    message,
                })
            }
        };
        let va = VirtAddr(addr);
        match tlb.lookup(ASID, va) {
            TlbLookup::L1Hit(_) => l1.hits += 1,
            TlbLookup::L2Hit(_) => {
                l1.misses += 1;
                l2.hits += 1;
            }
            TlbLookup::Miss => {
                l1.misses += 1;
                l2.misses += 1;
                // Identity mapping: the frame does not matter for counting.
                let page = va.page().align_down(size);
                tlb.fill(Translation {
                    asid: ASID,
                    page,
                    frame: PhysFrame(page.0),
                    size,
                });
            }
        }
    }
    Ok((l1, l2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmu::TlbGeometry;

    fn run(
        trace: &str,
        l1: (usize, usize),
        l2: Option<(usize, usize)>,
    ) -> (LevelCounts, LevelCounts) {
        let g = |(entries, ways)| TlbGeometry { entries, ways };
        let config = TlbConfig {
            l1: g(l1),
            l2: l2.map(g),
        };
        replay_addresses(trace.as_bytes(), "t", config, PageSize::Size4K).unwrap()
    }

    #[test]
    fn parses_hex_decimal_comments_and_blanks() {
        assert_eq!(parse_address_line("0x1000"), Ok(Some(4096)));
        assert_eq!(parse_address_line("  4096  # a comment"), Ok(Some(4096)));
        assert_eq!(parse_address_line("# only a comment"), Ok(None));
        assert_eq!(parse_address_line("   "), Ok(None));
        assert!(parse_address_line("0xzz").is_err());
        assert!(parse_address_line("-5").is_err());
    }

    #[test]
    fn bad_line_names_its_number() {
        let config = TlbConfig {
            l1: TlbGeometry {
                entries: 4,
                ways: 1,
            },
            l2: None,
        };
        let e = replay_addresses("0x0\n\nbogus\n".as_bytes(), "t", config, PageSize::Size4K)
            .unwrap_err();
        assert!(e.to_string().starts_with("t:3: "), "{e}");
    }

    #[test]
    fn direct_mapped_conflict_and_l2_catch() {
        // Pages 0 and 2 conflict in a 2-set direct-mapped L1; L2 holds both.
        let (l1, l2) = run("0x0\n0x2000\n0x0\n0x2000\n", (2, 1), Some((4, 4)));
        assert_eq!(l1, LevelCounts { hits: 0, misses: 4 });
        assert_eq!(l2, LevelCounts { hits: 2, misses: 2 });
    }

    #[test]
    fn same_page_hits() {
        let (l1, _) = run("0x1000\n0x1fff\n4096\n", (64, 4), None);
        assert_eq!(l1, LevelCounts { hits: 2, misses: 1 });
    }

    #[test]
    fn huge_pages_cover_two_mib() {
        let config = TlbConfig {
            l1: TlbGeometry {
                entries: 4,
                ways: 4,
            },
            l2: None,
        };
        let (l1, _) = replay_addresses(
            "0x200000\n0x3fffff\n0x400000\n".as_bytes(),
            "t",
            config,
            PageSize::Size2M,
        )
        .unwrap();
        assert_eq!(l1, LevelCounts { hits: 1, misses: 2 });
    }
}
