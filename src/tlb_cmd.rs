//! `tlbsim tlb`: replay an address trace through the mmu crate's TLB
//! hierarchy alone (`traces::replay_addresses`) and print hits and misses
//! per level.

use anyhow::{Context, Result};
use mmu::{PageSize, TlbConfig, TlbGeometry};
use std::path::PathBuf;

/// The help text of `tlbsim tlb` after its options.
const AFTER_HELP: &str = "\
Replay a virtual-address trace through tlbsim's TLB model alone and print the
hits and misses of each level as JSON:

  {\"l1\": {\"hits\": H, \"misses\": M}, \"l2\": {\"hits\": H, \"misses\": M}}

(no \"l2\" without --l2). It is the exact TLB code the simulator uses
(mmu::TlbHierarchy), driven with one address space, so it can be checked
against any cache simulator configured as a TLB (line size = page size, LRU);
tlbsim's tests check it against pycachesim (see VALIDATION.md).

What it models:
  * a level of E entries and W ways has E/W sets; the set of an address is
    its page number (address / page size) modulo the number of sets (any
    number of sets, not only powers of two); W = E is fully associative,
    W = 1 direct-mapped;
  * exact LRU replacement within a set; an empty way is filled before
    anything is evicted;
  * two levels are non-inclusive: an L1 miss looks up L2; an L2 hit makes
    the entry most recent in L2 and fills L1; an L2 miss (a page walk) fills
    both levels; an eviction from one level leaves the other alone;
  * one page size for the whole trace, one address space, no flushes.
L2 lookups are therefore exactly the L1 misses.

Trace format: one address per line, hexadecimal with a 0x prefix or decimal
(any value of an unsigned 64-bit integer). Leading and trailing whitespace is
ignored, blank lines are skipped, and '#' starts a comment (a whole line or
after the address). Anything else is an error naming the line.
Or the binary addr64 format (little-endian u64 addresses behind a 24-byte
header; traces/README.md), recognized by its first 8 bytes, the magic
TLBSADDR, and written by `tlbsim trace convert --to addr64 TEXT -o BIN`;
a bad addr64 file is an error naming the byte offset.

Example:
  printf '0x1000\\n0x2000\\n0x1008\\n' | tlbsim tlb --l1 64:4 --l2 1536:12 -
  {\"l1\":{\"hits\":1,\"misses\":2},\"l2\":{\"hits\":0,\"misses\":2}}";

/// Arguments of `tlbsim tlb`.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct TlbArgs {
    /// First-level TLB: total entries and ways, e.g. 64:4 (Skylake L1 dTLB).
    #[arg(long, value_name = "ENTRIES:WAYS", value_parser = parse_geometry)]
    l1: TlbGeometry,
    /// Second-level TLB (STLB), e.g. 1536:12 (Skylake); none if absent.
    #[arg(long, value_name = "ENTRIES:WAYS", value_parser = parse_geometry)]
    l2: Option<TlbGeometry>,
    /// Page size in bytes: 4096 (default) or 2097152 (also 4k, 2m).
    #[arg(long, value_name = "BYTES", default_value = "4096", value_parser = parse_page_size)]
    page_size: PageSize,
    /// The trace file (text, or addr64 recognized by its magic), or - for
    /// standard input.
    #[arg(value_name = "TRACE")]
    trace: PathBuf,
}

fn parse_geometry(s: &str) -> Result<TlbGeometry, String> {
    let (e, w) = s
        .split_once(':')
        .ok_or_else(|| format!("expected ENTRIES:WAYS, got {s:?}"))?;
    let entries: usize = e
        .trim()
        .parse()
        .map_err(|_| format!("bad entry count {e:?}"))?;
    let ways: usize = w
        .trim()
        .parse()
        .map_err(|_| format!("bad way count {w:?}"))?;
    let g = TlbGeometry { entries, ways };
    g.validate().map_err(|e| e.to_string())?;
    Ok(g)
}

fn parse_page_size(s: &str) -> Result<PageSize, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "4096" | "4k" | "4kib" => Ok(PageSize::Size4K),
        "2097152" | "2m" | "2mib" => Ok(PageSize::Size2M),
        _ => Err(format!(
            "unsupported page size {s:?}: 4096 or 2097152 (the sizes the mmu models)"
        )),
    }
}

/// Runs `tlbsim tlb`.
pub fn cmd_tlb(args: &TlbArgs) -> Result<()> {
    let config = TlbConfig {
        l1: args.l1,
        l2: args.l2,
    };
    let (l1, l2) = if args.trace.as_os_str() == "-" {
        traces::replay_addresses(std::io::stdin().lock(), "<stdin>", config, args.page_size)?
    } else {
        let name = args.trace.display().to_string();
        let f = std::fs::File::open(&args.trace).with_context(|| format!("cannot open {name}"))?;
        traces::replay_addresses(f, &name, config, args.page_size)?
    };
    let level = |c: traces::LevelCounts| serde_json::json!({"hits": c.hits, "misses": c.misses});
    let mut out = serde_json::Map::new();
    out.insert("l1".into(), level(l1));
    if args.l2.is_some() {
        out.insert("l2".into(), level(l2));
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_and_geometry_parsing() {
        assert_eq!(parse_page_size("2M"), Ok(PageSize::Size2M));
        assert_eq!(parse_page_size("4096"), Ok(PageSize::Size4K));
        assert!(parse_page_size("8192").is_err());
        assert_eq!(
            parse_geometry("64:4"),
            Ok(TlbGeometry {
                entries: 64,
                ways: 4
            })
        );
        assert!(parse_geometry("64:5").is_err());
        assert!(parse_geometry("64").is_err());
    }
}
