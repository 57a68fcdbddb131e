//! tlbsim's binary address trace, "addr64": the addresses of a `tlbsim tlb`
//! trace as little-endian 64-bit integers behind a small header, so a replay
//! reads 8 bytes per address instead of parsing a line (`tlbsim trace
//! convert --to addr64` writes it; `tlbsim tlb` recognizes it by its magic).
//!
//! Layout (every integer little-endian; documented in `traces/README.md`):
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `TLBSADDR` (ASCII) |
//! | 8..12 | version, u32 = 1 |
//! | 12..16 | flags, u32 = 0 (reserved; nonzero is refused) |
//! | 16..24 | count: the number of addresses that follow, u64 |
//! | 24.. | `count` addresses, u64 each |
//!
//! The count makes a cut-short or over-long file a located error (the byte
//! offset where it ends or where the extra data starts) instead of a silently
//! shorter replay. A text trace cannot start with the magic (it is not an
//! address), so detection by magic is unambiguous.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::{for_each_address, TraceError};

/// The first 8 bytes of an addr64 file.
pub const ADDR64_MAGIC: [u8; 8] = *b"TLBSADDR";
/// The format version this build reads and writes.
pub const ADDR64_VERSION: u32 = 1;
/// Bytes of the header before the first address.
pub const ADDR64_HEADER_BYTES: usize = 24;
/// Byte offset of the count field in the header.
const COUNT_AT: u64 = 16;

/// The header of an addr64 file announcing `count` addresses.
#[must_use]
pub fn addr64_header(count: u64) -> [u8; ADDR64_HEADER_BYTES] {
    let mut h = [0u8; ADDR64_HEADER_BYTES];
    h[..8].copy_from_slice(&ADDR64_MAGIC);
    h[8..12].copy_from_slice(&ADDR64_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&count.to_le_bytes());
    h
}

/// The address count of the header `h` (the first bytes of file `file`,
/// whose magic has been checked).
///
/// # Errors
/// [`TraceError::Binary`] at the offset of a field that is wrong: a header
/// cut short, another version, nonzero flags.
pub(crate) fn parse_header(h: &[u8], file: &str) -> Result<u64, TraceError> {
    let bad = |offset: usize, message: String| TraceError::Binary {
        file: file.to_string(),
        offset: offset as u64,
        message,
    };
    if h.len() < ADDR64_HEADER_BYTES {
        return Err(bad(
            h.len(),
            format!(
                "the addr64 header is cut short: {} of its {ADDR64_HEADER_BYTES} bytes",
                h.len()
            ),
        ));
    }
    let word = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let version = word(8);
    if version != ADDR64_VERSION {
        return Err(bad(
            8,
            format!("addr64 version {version}: this tlbsim reads version {ADDR64_VERSION}"),
        ));
    }
    let flags = word(12);
    if flags != 0 {
        return Err(bad(
            12,
            format!("addr64 flags {flags:#x}: no flags are defined (must be 0)"),
        ));
    }
    let mut count = [0u8; 8];
    count.copy_from_slice(&h[16..24]);
    Ok(u64::from_le_bytes(count))
}

/// Converts the address trace `input` (named `in_name` in errors; text or
/// addr64, as [`for_each_address`] reads it) to an addr64 file written to
/// `out` (named `out_name`), seeking back at the end to fill in the count;
/// returns the count.
///
/// # Errors
/// A bad input (located as [`for_each_address`] says) or
/// [`TraceError::Write`] if `out` fails.
pub fn convert_to_addr64<R: Read, W: Write + Seek>(
    input: R,
    in_name: &str,
    out: &mut W,
    out_name: &str,
) -> Result<u64, TraceError> {
    let werr = |source| TraceError::Write {
        file: out_name.to_string(),
        source,
    };
    out.write_all(&addr64_header(0)).map_err(werr)?;
    let mut n = 0u64;
    let mut failed: Option<std::io::Error> = None;
    for_each_address(input, in_name, |a| {
        if failed.is_none() {
            if let Err(e) = out.write_all(&a.to_le_bytes()) {
                failed = Some(e);
            }
        }
        n += 1;
    })?;
    if let Some(e) = failed {
        return Err(werr(e));
    }
    out.seek(SeekFrom::Start(COUNT_AT)).map_err(werr)?;
    out.write_all(&n.to_le_bytes()).map_err(werr)?;
    out.seek(SeekFrom::End(0)).map_err(werr)?;
    out.flush().map_err(werr)?;
    Ok(n)
}
