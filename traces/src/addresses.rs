//! Address traces for `tlbsim tlb`: one virtual address per line, replayed
//! through the mmu crate's TLB hierarchy alone (no page table, no timing),
//! counting hits and misses per level, like Dinero does for caches.

use std::io::Read;

use mmu::{Asid, HitLevel, PageSize, PhysFrame, TlbConfig, TlbHierarchy, Translation, VirtAddr};

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

/// Bytes read from the input at a time (a text line longer than this grows
/// the buffer).
const CHUNK_BYTES: usize = 1 << 20;

/// The value of each byte as a hexadecimal digit, 16 for a non-digit.
const HEX: [u8; 256] = {
    let mut t = [16u8; 256];
    let mut d = 0u8;
    while d < 16 {
        let c = if d < 10 { b'0' + d } else { b'a' + d - 10 };
        t[c as usize] = d;
        t[c.to_ascii_uppercase() as usize] = d;
        d += 1;
    }
    t
};

/// Reads into `buf[len..]` until it is full or `input` ends; returns the new
/// length.
fn fill(
    input: &mut impl Read,
    buf: &mut [u8],
    mut len: usize,
    name: &str,
) -> Result<usize, TraceError> {
    while len < buf.len() {
        match input.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(TraceError::Io {
                    file: name.to_string(),
                    source,
                })
            }
        }
    }
    Ok(len)
}

/// The address of the common line shapes, `0x` + 1 to 16 hex digits or 1
/// to 19 decimal digits, directly followed by `\n`, and that line's length
/// with its newline; `None` for anything else (other shapes, or no newline
/// in `data`), which [`parse_address_line`] then reads.
#[inline(always)]
fn fast_line(data: &[u8]) -> Option<(u64, usize)> {
    if let [b'0', x, digits @ ..] = data {
        if x | 0x20 == b'x' {
            if let Some(first16) = digits.get(..16) {
                let (v, n) = hex16(le(&first16[..8]), le(&first16[8..]));
                return (n > 0 && digits.get(n) == Some(&b'\n')).then_some((v, n + 3));
            }
            let mut v = 0u64;
            let mut q = 0;
            // 17 bytes: up to 16 digits and the byte after them.
            for &b in digits.iter().take(17) {
                let d = HEX[usize::from(b)];
                if d >= 16 {
                    break;
                }
                // A 17th digit drops high bits, but such a line is refused
                // below.
                v = (v << 4) | u64::from(d);
                q += 1;
            }
            return (q > 0 && q <= 16 && digits.get(q) == Some(&b'\n')).then_some((v, q + 3));
        }
    }
    let mut v = 0u64;
    let mut q = 0;
    // 20 bytes: up to 19 digits (no overflow) and the byte after them.
    for &b in data.iter().take(20) {
        let d = b.wrapping_sub(b'0');
        if d >= 10 {
            break;
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        q += 1;
    }
    (q > 0 && q <= 19 && data.get(q) == Some(&b'\n')).then_some((v, q + 1))
}

/// Every byte 0x01.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is an ASCII hex digit, and the
/// value of every byte as a digit (garbage, but at most 15, elsewhere).
#[inline(always)]
fn hex_lanes(w: u64) -> (u64, u64) {
    let low7 = w & !HIGHS;
    // High bit of each byte of `x` (each at most 0x7f) that is >= `k`.
    let ge = |x: u64, k: u64| (x + (0x80 - k) * ONES) & HIGHS;
    let decimal = ge(low7, 0x30) & !ge(low7, 0x3a);
    let lower = low7 | (0x20 * ONES);
    let letter = ge(lower, 0x61) & !ge(lower, 0x67);
    let ascii = !w & HIGHS;
    let digit = (decimal | letter) & ascii;
    // '0'..'9' -> 0..9; 'a'..'f' and 'A'..'F' -> 1..6, plus 9.
    let value = (w & (0x0f * ONES)) + (letter & ascii) / 0x80 * 9;
    (digit, value)
}

/// Eight digit values (one per byte, first digit in the low byte) as the
/// 32-bit number they spell.
#[inline(always)]
fn pack_nibbles(values: u64) -> u64 {
    let s = values.swap_bytes();
    let t = (s | (s >> 4)) & 0x00ff_00ff_00ff_00ff;
    let u = (t | (t >> 8)) & 0x0000_ffff_0000_ffff;
    (u | (u >> 16)) & 0xffff_ffff
}

/// The leading hex digits of the 16 bytes `lo`, `hi` (little-endian words:
/// the first byte is `lo`'s lowest): their value and how many there are
/// (0 to 16), eight bytes at a time instead of one.
#[inline(always)]
fn hex16(lo: u64, hi: u64) -> (u64, usize) {
    let (d0, v0) = hex_lanes(lo);
    let (d1, v1) = hex_lanes(hi);
    let n = if d0 != HIGHS {
        (!d0 & HIGHS).trailing_zeros() as usize / 8
    } else if d1 != HIGHS {
        8 + (!d1 & HIGHS).trailing_zeros() as usize / 8
    } else {
        16
    };
    if n == 0 {
        return (0, 0);
    }
    let all = (pack_nibbles(v0) << 32) | pack_nibbles(v1);
    (all >> (4 * (16 - n)), n)
}

/// The address of one whole text line (without its newline), line `line`
/// of `name`, through [`parse_address_line`].
fn slow_line(bytes: &[u8], name: &str, line: u64) -> Result<Option<u64>, TraceError> {
    let malformed = |message| TraceError::Malformed {
        file: name.to_string(),
        line,
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| malformed(format!("not UTF-8 text: {e}")))?;
    parse_address_line(text).map_err(malformed)
}

/// Calls `f` on every address of the address trace `input` (named `name`
/// in errors), in order, reading it in chunks of 1 MiB (no allocation per
/// address). The format is detected from the first bytes: an addr64 file
/// (see [`crate::ADDR64_MAGIC`]) if they are its magic, else text (one
/// address per line, as [`parse_address_line`] reads it). Returns which.
///
/// # Errors
/// A text line that is not an address ([`TraceError::Malformed`], naming
/// the line), an addr64 file with a bad header or a length that disagrees
/// with its count ([`TraceError::Binary`], naming the byte offset), or a
/// read error. `f` may have been called on the addresses before the error.
pub fn for_each_address<R: Read>(
    input: R,
    name: &str,
    mut f: impl FnMut(u64),
) -> Result<AddressFormat, TraceError> {
    for_each_address_chunked(input, name, CHUNK_BYTES, &mut |batch: Batch<'_>| {
        batch.for_each(&mut f);
    })
}

/// Addresses handed to a batch callback at a time (at most).
const BATCH: usize = 4096;

/// Consecutive addresses of a trace, as parsed (text) or as read (addr64,
/// decoded by the consumer, so they are not copied first).
#[derive(Clone, Copy, Debug)]
enum Batch<'a> {
    /// Parsed addresses.
    Words(&'a [u64]),
    /// Little-endian u64s (a multiple of 8 bytes).
    LeBytes(&'a [u8]),
}

/// The address of 8 little-endian bytes.
#[inline(always)]
fn le(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

impl Batch<'_> {
    /// Calls `f` on each address, in order.
    fn for_each(self, f: &mut impl FnMut(u64)) {
        match self {
            Batch::Words(w) => w.iter().for_each(|&a| f(a)),
            Batch::LeBytes(b) => b.chunks_exact(8).for_each(|c| f(le(c))),
        }
    }
}

/// [`for_each_address`] reading `chunk` bytes at a time (at least the
/// addr64 header's length; small in tests, to cross every boundary) and
/// calling `f` on batches of up to [`BATCH`] consecutive addresses.
fn for_each_address_chunked<R: Read>(
    mut input: R,
    name: &str,
    chunk: usize,
    f: &mut impl FnMut(Batch<'_>),
) -> Result<AddressFormat, TraceError> {
    let mut buf = vec![0u8; chunk.max(crate::ADDR64_HEADER_BYTES)];
    let len = fill(&mut input, &mut buf, 0, name)?;
    if buf[..len].starts_with(&crate::ADDR64_MAGIC) {
        binary(input, name, buf, len, f)?;
        return Ok(AddressFormat::Addr64);
    }
    let mut batch = Vec::with_capacity(BATCH);
    let done = text(input, name, buf, len, &mut |a| {
        batch.push(a);
        if batch.len() == BATCH {
            f(Batch::Words(&batch));
            batch.clear();
        }
    });
    // The addresses before an error too, as documented.
    f(Batch::Words(&batch));
    done?;
    Ok(AddressFormat::Text)
}

/// The two encodings of an address trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressFormat {
    /// One address per line (hexadecimal with `0x`, or decimal).
    Text,
    /// The binary addr64 format ([`crate::ADDR64_MAGIC`]).
    Addr64,
}

/// The text half of [`for_each_address`]: `buf[..len]` holds the first
/// bytes of `input`.
fn text<R: Read>(
    mut input: R,
    name: &str,
    mut buf: Vec<u8>,
    mut len: usize,
    f: &mut impl FnMut(u64),
) -> Result<(), TraceError> {
    // Lines before `buf[0]`.
    let mut line = 0u64;
    loop {
        let data = &buf[..len];
        let mut p = 0;
        while p < len {
            if let Some((a, n)) = fast_line(&data[p..]) {
                line += 1;
                f(a);
                p += n;
                continue;
            }
            let Some(k) = data[p..].iter().position(|&b| b == b'\n') else {
                break;
            };
            line += 1;
            if let Some(a) = slow_line(&data[p..p + k], name, line)? {
                f(a);
            }
            p += k + 1;
        }
        // `buf[p..len]` is an incomplete line: keep it and read on.
        buf.copy_within(p..len, 0);
        len -= p;
        if len == buf.len() {
            // One line fills the buffer: grow it.
            buf.resize(2 * len, 0);
        }
        let before = len;
        len = fill(&mut input, &mut buf, len, name)?;
        if len == before {
            // The end: a last line without newline.
            if len > 0 {
                if let Some(a) = slow_line(&buf[..len], name, line + 1)? {
                    f(a);
                }
            }
            return Ok(());
        }
    }
}

/// The addr64 half of [`for_each_address`]: `buf[..len]` holds the first
/// bytes of `input`, starting with the magic.
fn binary<R: Read>(
    mut input: R,
    name: &str,
    mut buf: Vec<u8>,
    mut len: usize,
    f: &mut impl FnMut(Batch<'_>),
) -> Result<(), TraceError> {
    let count = crate::addr64::parse_header(&buf[..len], name)?;
    let bad = |offset: u64, message: String| TraceError::Binary {
        file: name.to_string(),
        offset,
        message,
    };
    let header = crate::ADDR64_HEADER_BYTES as u64;
    // File offset of `buf[0]`; bytes of `buf` already replayed.
    let (mut base, mut p) = (0u64, crate::ADDR64_HEADER_BYTES);
    let mut seen = 0u64;
    loop {
        let whole = (len - p) / 8;
        let take = whole.min(usize::try_from(count - seen).unwrap_or(usize::MAX));
        for group in buf[p..p + 8 * take].chunks(8 * BATCH) {
            f(Batch::LeBytes(group));
        }
        seen += take as u64;
        p += 8 * take;
        if p < len && seen == count {
            return Err(bad(
                base + p as u64,
                format!("data after the last of the {count} addresses the header announces"),
            ));
        }
        buf.copy_within(p..len, 0);
        base += p as u64;
        len -= p;
        p = 0;
        let before = len;
        len = fill(&mut input, &mut buf, len, name)?;
        if len == before {
            let end = base + len as u64;
            if seen < count || len > 0 {
                return Err(bad(
                    end,
                    format!(
                        "the file ends after {seen} of the {count} addresses the header announces{} (cut short?)",
                        if len > 0 { " and part of the next" } else { "" }
                    ),
                ));
            }
            debug_assert_eq!(end, header + 8 * count);
            return Ok(());
        }
    }
}

/// Replays every address of `input` (named `name` in errors; text or addr64,
/// read by [`for_each_address`]) through a TLB hierarchy of `config` with
/// pages of `size` (one address space, identity mapping, no flushes);
/// returns the L1 and L2 counts (L2 lookups are the L1 misses; all zero
/// without an L2).
///
/// Same-page fast path: an address in the same page as the one before is
/// counted as an L1 hit without a lookup. This is exact, not an
/// approximation: after any lookup of a page (L1 hit: made MRU; L2 hit: filled
/// into L1 as MRU; miss: filled into both levels, MRU in L1) its entry is the
/// most recently used of its L1 set, nothing else touches the TLB between
/// two addresses (one address space, no flushes), so the next lookup of it
/// hits L1, and making an MRU entry MRU again leaves the recency order as
/// it was. `tests::fast_path_equals_lookup_per_address` checks it against a
/// lookup per address.
///
/// # Errors
/// As [`for_each_address`], or a geometry the TLB model refuses.
pub fn replay_addresses(
    input: impl Read,
    name: &str,
    config: TlbConfig,
    size: PageSize,
) -> Result<(LevelCounts, LevelCounts), TraceError> {
    let mut replay = Replay::new(config, size)?;
    for_each_address_chunked(input, name, CHUNK_BYTES, &mut |batch: Batch<'_>| {
        replay.access_batch(batch);
    })?;
    Ok((replay.l1, replay.l2))
}

/// The state of an address replay.
struct Replay {
    tlb: TlbHierarchy,
    size: PageSize,
    /// `log2` of the page size in bytes.
    shift: u32,
    /// Page number (in pages of `size`) of the previous address; `u64::MAX`
    /// (no page number: pages have at most 52 bits) before the first.
    last: u64,
    /// Scratch of [`access_group`](Self::access_group): the addresses of a
    /// group that change page.
    kept: Box<[u64; BATCH]>,
    l1: LevelCounts,
    l2: LevelCounts,
}

impl Replay {
    const ASID: Asid = Asid(1);

    fn new(config: TlbConfig, size: PageSize) -> Result<Self, TraceError> {
        Ok(Replay {
            tlb: TlbHierarchy::new(config).map_err(|error| TraceError::Tlb { error })?,
            size,
            shift: 12 + size.shift_4k(),
            last: u64::MAX,
            kept: Box::new([0; BATCH]),
            l1: LevelCounts::default(),
            l2: LevelCounts::default(),
        })
    }

    /// Replays `batch`, in two passes per [`BATCH`] addresses: the first
    /// (branch-free) keeps the addresses whose page differs from the one
    /// before and counts the others as L1 hits (the same-page fast path of
    /// [`replay_addresses`]); the second looks the kept ones up in order.
    /// Same-page addresses do not change the TLB, so doing them first
    /// changes nothing.
    #[inline]
    fn access_batch(&mut self, batch: Batch<'_>) {
        match batch {
            Batch::Words(w) => {
                for group in w.chunks(BATCH) {
                    self.access_group(group.iter().copied());
                }
            }
            Batch::LeBytes(b) => {
                for group in b.chunks(8 * BATCH) {
                    self.access_group(group.chunks_exact(8).map(le));
                }
            }
        }
    }

    /// [`access_batch`](Self::access_batch) of at most [`BATCH`] addresses.
    #[inline(always)]
    fn access_group(&mut self, group: impl ExactSizeIterator<Item = u64>) {
        let len = group.len();
        debug_assert!(len <= BATCH);
        let kept = &mut self.kept[..];
        let mut n = 0;
        let mut last = self.last;
        for a in group {
            let page = a >> self.shift;
            // Written always, kept (n advances) only on a page change.
            kept[n & (BATCH - 1)] = a;
            n += usize::from(page != last);
            last = page;
        }
        self.last = last;
        self.l1.hits += (len - n) as u64;
        for i in 0..n {
            let a = self.kept[i];
            self.lookup(a);
        }
    }

    /// One lookup through the hierarchy (fill on a miss), counted.
    #[inline]
    fn lookup(&mut self, addr: u64) {
        let va = VirtAddr(addr);
        let size = self.size;
        let level = self.tlb.lookup_or_fill(Self::ASID, va, || {
            // Identity mapping: the frame does not matter for counting.
            let page = va.page().align_down(size);
            Translation {
                asid: Self::ASID,
                page,
                frame: PhysFrame(page.0),
                size,
            }
        });
        match level {
            HitLevel::L1 => self.l1.hits += 1,
            HitLevel::L2 => {
                self.l1.misses += 1;
                self.l2.hits += 1;
            }
            HitLevel::Walk => {
                self.l1.misses += 1;
                self.l2.misses += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mmu::{TlbGeometry, TlbLookup};

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

    /// The replay as it was before the chunked reader and the same-page
    /// fast path: a `String` per line, a lookup per address.
    fn reference(
        trace: &[u8],
        config: TlbConfig,
        size: PageSize,
    ) -> Result<(LevelCounts, LevelCounts), u64> {
        use std::io::BufRead;
        const ASID: Asid = Asid(1);
        let mut tlb = TlbHierarchy::new(config).unwrap();
        let (mut l1, mut l2) = (LevelCounts::default(), LevelCounts::default());
        for (i, line) in (1u64..).zip(trace.lines()) {
            let Some(addr) = parse_address_line(&line.unwrap()).map_err(|_| i)? else {
                continue;
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

    /// A reader handing out at most `n` bytes per `read`.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Every address of `bytes`, read `chunk` bytes at a time from a reader
    /// giving `trickle` bytes per read.
    fn addresses(bytes: &[u8], chunk: usize, trickle: usize) -> Result<Vec<u64>, TraceError> {
        let mut v = Vec::new();
        for_each_address_chunked(Trickle(bytes, trickle), "t", chunk, &mut |b: Batch<'_>| {
            b.for_each(&mut |a| v.push(a));
        })?;
        Ok(v)
    }

    /// The addr64 encoding of `addrs`.
    fn addr64(addrs: &[u64]) -> Vec<u8> {
        let text: String = addrs.iter().map(|a| format!("{a:#x}\n")).collect();
        let mut out = std::io::Cursor::new(Vec::new());
        let n = crate::convert_to_addr64(text.as_bytes(), "in", &mut out, "out").unwrap();
        assert_eq!(n, addrs.len() as u64);
        out.into_inner()
    }

    fn binary_error(bytes: &[u8]) -> String {
        addresses(bytes, 64, 5).unwrap_err().to_string()
    }

    #[test]
    fn addr64_layout_is_the_documented_one() {
        let b = addr64(&[0x1000, u64::MAX]);
        assert_eq!(&b[..8], b"TLBSADDR");
        assert_eq!(&b[8..12], &1u32.to_le_bytes());
        assert_eq!(&b[12..16], &[0; 4]);
        assert_eq!(&b[16..24], &2u64.to_le_bytes());
        assert_eq!(&b[24..32], &0x1000u64.to_le_bytes());
        assert_eq!(&b[32..40], &[0xff; 8]);
        assert_eq!(b.len(), 40);
    }

    #[test]
    fn bad_addr64_files_name_the_byte_offset() {
        let good = addr64(&[1, 2, 3]);
        let e = binary_error(&good[..good.len() - 3]);
        assert_eq!(
            e,
            "t: byte 45: the file ends after 2 of the 3 addresses the header announces and part of the next (cut short?)"
        );
        let e = binary_error(&good[..good.len() - 8]);
        assert!(
            e.starts_with("t: byte 40: the file ends after 2 of the 3"),
            "{e}"
        );
        let mut long = good.clone();
        long.extend_from_slice(&[7; 9]);
        let e = binary_error(&long);
        assert!(
            e.starts_with("t: byte 48: data after the last of the 3"),
            "{e}"
        );
        let mut v2 = good.clone();
        v2[8] = 2;
        assert!(binary_error(&v2).starts_with("t: byte 8: addr64 version 2"));
        let mut flags = good.clone();
        flags[13] = 1;
        assert!(binary_error(&flags).starts_with("t: byte 12: addr64 flags 0x100"));
        let e = binary_error(&good[..20]);
        assert!(
            e.starts_with("t: byte 20: the addr64 header is cut short"),
            "{e}"
        );
        // The replay reports the same error with the file's name.
        let config = TlbConfig {
            l1: TlbGeometry {
                entries: 4,
                ways: 1,
            },
            l2: None,
        };
        let e = replay_addresses(&good[..30], "f.bin", config, PageSize::Size4K).unwrap_err();
        assert!(e.to_string().starts_with("f.bin: byte 30: "), "{e}");
    }

    #[test]
    fn text_errors_past_chunk_boundaries_name_their_line() {
        let mut t = "0x1000\n".repeat(50);
        t.push_str("  # c\n12\n0x\n");
        let e = addresses(t.as_bytes(), 16, 3).unwrap_err().to_string();
        assert!(e.starts_with("t:53: not an address"), "{e}");
        let e = addresses(b"0x1\n\xff\xfe\n", 16, 3)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t:2: not UTF-8 text"), "{e}");
        // A line longer than the buffer is read whole.
        let mut long = format!("{}0x10\n", " ".repeat(100));
        long.push('7');
        assert_eq!(addresses(long.as_bytes(), 24, 7).unwrap(), vec![16, 7]);
    }

    /// One text line of an address trace: the shapes the fast path reads
    /// and every other shape `parse_address_line` accepts or refuses.
    fn line() -> impl Strategy<Value = String> {
        let addr = prop_oneof![
            any::<u64>(),
            0u64..4096 * 64,
            (u64::MAX - 4096)..=u64::MAX,
            Just(0u64),
        ];
        prop_oneof![
            4 => addr.clone().prop_map(|a| format!("{a:#x}")),
            2 => addr.clone().prop_map(|a| format!("{a}")),
            1 => addr.clone().prop_map(|a| format!("0X{a:020X}")),
            1 => addr.clone().prop_map(|a| format!(" \t{a:#x} # c")),
            1 => addr.prop_map(|a| format!("+{a}\r")),
            1 => Just(String::new()),
            1 => Just("# only a comment".to_string()),
            1 => "[0-9a-fxX+ #\r]{0,24}",
            3 => "0[xX][0-9a-fA-F]{0,18}[\\x00-\\x7f\u{80}-\u{ff}g-zG-Z:@`/]{0,2}[0-9]{0,3}",
        ]
    }

    fn geometry() -> impl Strategy<Value = TlbConfig> {
        let level = prop_oneof![
            Just((4, 1)),
            Just((8, 2)),
            Just((12, 3)),
            Just((16, 16)),
            Just((64, 4)),
            Just((96, 4)),
            Just((40, 20)),
        ]
        .prop_map(|(entries, ways)| TlbGeometry { entries, ways });
        (level.clone(), proptest::option::of(level)).prop_map(|(l1, l2)| TlbConfig { l1, l2 })
    }

    /// Addresses with page reuse: a few pages, runs in one page, high ones.
    fn trace_addresses() -> impl Strategy<Value = Vec<u64>> {
        let one = prop_oneof![
            4 => (0u64..24, 0u64..4096).prop_map(|(p, o)| p * 4096 + o),
            2 => (0u64..8, 0u64..(2 << 20)).prop_map(|(p, o)| p * (2 << 20) + o),
            1 => any::<u64>(),
            1 => (u64::MAX - (1 << 22))..=u64::MAX,
        ];
        proptest::collection::vec((one, 1usize..6), 0..120).prop_map(|runs| {
            runs.into_iter()
                .flat_map(|(a, n)| (0..n as u64).map(move |i| a.wrapping_add(8 * i)))
                .collect()
        })
    }

    #[test]
    fn batches_and_chunks_cross_without_changing_counts() {
        // More than three batches, runs across batch boundaries, pages
        // revisited after evictions; 4 KiB and 2 MiB pages.
        let addrs: Vec<u64> = (0..3 * BATCH as u64 + 5)
            .map(|i| (i / 7 % 20) * 4096 + (i % 7) * 8 + ((i / 5000) << 21))
            .collect();
        let text: String = addrs.iter().map(|a| format!("{a}\n")).collect();
        let bin = addr64(&addrs);
        for size in [PageSize::Size4K, PageSize::Size2M] {
            let config = TlbConfig {
                l1: TlbGeometry {
                    entries: 16,
                    ways: 4,
                },
                l2: Some(TlbGeometry {
                    entries: 24,
                    ways: 3,
                }),
            };
            let want = reference(text.as_bytes(), config, size).unwrap();
            assert!(want.0.hits > 0 && want.0.misses > 0);
            assert!(size == PageSize::Size2M || want.1.hits > 0, "{want:?}");
            assert_eq!(
                replay_addresses(text.as_bytes(), "t", config, size).unwrap(),
                want
            );
            assert_eq!(replay_addresses(&bin[..], "t", config, size).unwrap(), want);
            let mut small = Replay::new(config, size).unwrap();
            for_each_address_chunked(Trickle(&bin, 1000), "t", 100, &mut |b: Batch<'_>| {
                small.access_batch(b);
            })
            .unwrap();
            assert_eq!((small.l1, small.l2), want);
        }
    }

    use proptest::prelude::*;

    proptest! {
        /// The chunked reader with its fast line parser reads exactly what a
        /// line-by-line `parse_address_line` reads, and refuses the same
        /// line, whatever the chunk and read sizes.
        #[test]
        fn text_reader_equals_line_by_line(
            lines in proptest::collection::vec(line(), 0..60),
            newline_at_end in any::<bool>(),
            chunk in 1usize..80,
            trickle in 1usize..40,
        ) {
            let mut text = lines.join("\n");
            if newline_at_end && !lines.is_empty() {
                text.push('\n');
            }
            let mut want = Vec::new();
            let mut bad_line = None;
            for (i, l) in (1u64..).zip(std::io::BufRead::lines(text.as_bytes())) {
                match parse_address_line(&l.unwrap()) {
                    Ok(Some(a)) => want.push(a),
                    Ok(None) => {}
                    Err(_) => {
                        bad_line = Some(i);
                        break;
                    }
                }
            }
            let got = addresses(text.as_bytes(), chunk, trickle);
            match bad_line {
                None => prop_assert_eq!(got.unwrap(), want),
                Some(i) => {
                    let e = got.unwrap_err().to_string();
                    prop_assert!(e.starts_with(&format!("t:{i}: ")), "{}", e);
                }
            }
        }

        /// Text -> addr64 -> the same addresses, high ones included, read
        /// at any chunk and read size.
        #[test]
        fn addr64_round_trips(
            addrs in trace_addresses(),
            chunk in 1usize..100,
            trickle in 1usize..30,
        ) {
            let bin = addr64(&addrs);
            prop_assert_eq!(bin.len(), 24 + 8 * addrs.len());
            prop_assert_eq!(addresses(&bin, chunk, trickle).unwrap(), addrs.clone());
            // Converting the binary again gives the same bytes.
            let mut again = std::io::Cursor::new(Vec::new());
            crate::convert_to_addr64(&bin[..], "bin", &mut again, "out").unwrap();
            prop_assert_eq!(again.into_inner(), bin);
        }

        /// The replay (chunked reader, same-page fast path) counts exactly
        /// what a lookup per address counts, from text and from addr64.
        #[test]
        fn fast_path_equals_lookup_per_address(
            addrs in trace_addresses(),
            config in geometry(),
            huge in any::<bool>(),
        ) {
            let size = if huge { PageSize::Size2M } else { PageSize::Size4K };
            let text: String = addrs.iter().map(|a| format!("{a:#x}\n")).collect();
            let want = reference(text.as_bytes(), config, size).unwrap();
            prop_assert_eq!(replay_addresses(text.as_bytes(), "t", config, size).unwrap(), want);
            let bin = addr64(&addrs);
            prop_assert_eq!(replay_addresses(&bin[..], "t", config, size).unwrap(), want);
        }
    }
}
