//! `tlbsim tlb`'s two input encodings end to end: a text trace converted to
//! addr64 by `tlbsim trace convert --to addr64` replays to byte-identical
//! output, and a bad or cut-short file is an error naming it and the line or
//! byte offset, leaving no output behind.

mod common;
use common::{text, tlbsim};

/// A text trace of `n` addresses in every accepted spelling: runs within a
/// few hot pages, far pages, high addresses up to `u64::MAX`, decimal lines,
/// comments and blank lines (a fixed xorshift: the test needs variety, not
/// a simulation stream).
fn trace(n: usize) -> String {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = String::from("# a generated trace\n");
    let mut i = 0;
    while i < n {
        let r = next();
        let base = match r % 10 {
            0..=5 => 0x7f00_0000_0000 + (r >> 8) % 24 * 4096,
            6 => (r >> 8) % (1 << 30),
            7 => u64::MAX - (r >> 8) % (8 << 20),
            8 => r,
            _ => (r >> 8) % (64 << 20),
        };
        for k in 0..(1 + (r >> 40) % 6) {
            let a = base.wrapping_add(8 * k);
            match (r >> 50) % 8 {
                0 => out.push_str(&format!("{a}\n")),
                1 => out.push_str(&format!("  {a:#X} # note\n\n")),
                _ => out.push_str(&format!("{a:#x}\n")),
            }
            i += 1;
        }
    }
    out
}

#[test]
fn addr64_conversion_replays_byte_identically() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("t.trace");
    let bin = dir.path().join("t.addr64");
    std::fs::write(&txt, trace(20_000)).unwrap();
    let (txt, bin) = (txt.to_str().unwrap(), bin.to_str().unwrap());
    let c = tlbsim(&["trace", "convert", "--to", "addr64", txt, "-o", bin]);
    assert!(c.status.success(), "{}", text(&c.stderr));
    assert!(
        text(&c.stderr).contains("converted 20"),
        "{}",
        text(&c.stderr)
    );
    let bytes = std::fs::read(bin).unwrap();
    assert_eq!(&bytes[..8], b"TLBSADDR");
    for (l1, l2, page) in [
        ("64:4", Some("1536:12"), "4096"),
        ("16:1", None, "4096"),
        ("96:4", Some("768:6"), "4096"),
        ("32:4", Some("1536:12"), "2m"),
    ] {
        let mut args = vec!["tlb", "--l1", l1, "--page-size", page];
        if let Some(l2) = l2 {
            args.extend(["--l2", l2]);
        }
        let run = |file: &str| {
            let mut a = args.clone();
            a.push(file);
            let o = tlbsim(&a);
            assert!(o.status.success(), "{}", text(&o.stderr));
            o.stdout
        };
        let (from_text, from_bin) = (run(txt), run(bin));
        assert_eq!(from_text, from_bin, "{l1} {l2:?} {page}");
        // The trace exercises both outcomes at L1.
        let v: serde_json::Value = serde_json::from_slice(&from_text).unwrap();
        assert!(v["l1"]["hits"].as_u64().unwrap() > 0);
        assert!(v["l1"]["misses"].as_u64().unwrap() > 0);
        let total = v["l1"]["hits"].as_u64().unwrap() + v["l1"]["misses"].as_u64().unwrap();
        assert_eq!(total, (bytes.len() as u64 - 24) / 8);
    }
}

#[test]
fn bad_inputs_name_the_file_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("bad.trace");
    let out = dir.path().join("never.addr64");
    std::fs::write(&txt, "0x1000\n0x2000\nzz\n").unwrap();
    let (txt, out) = (txt.to_str().unwrap(), out.to_str().unwrap());
    let c = tlbsim(&["trace", "convert", "--to", "addr64", txt, "-o", out]);
    assert!(!c.status.success());
    assert!(
        text(&c.stderr).contains("bad.trace:3: not an address"),
        "{}",
        text(&c.stderr)
    );
    assert!(!std::path::Path::new(out).exists(), "no partial output");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");

    let good = dir.path().join("good.trace");
    let bin = dir.path().join("cut.addr64");
    std::fs::write(&good, "0x1000\n0x2000\n0x3000\n").unwrap();
    let (good, bin) = (good.to_str().unwrap(), bin.to_str().unwrap());
    let c = tlbsim(&["trace", "convert", "--to", "addr64", good, "-o", bin]);
    assert!(c.status.success(), "{}", text(&c.stderr));
    let mut bytes = std::fs::read(bin).unwrap();
    bytes.truncate(bytes.len() - 4);
    std::fs::write(bin, &bytes).unwrap();
    let o = tlbsim(&["tlb", "--l1", "64:4", bin]);
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(
        e.contains("cut.addr64: byte 44: the file ends after 2 of the 3 addresses"),
        "{e}"
    );
    let c = tlbsim(&[
        "trace", "convert", "--to", "addr64", "--from", "fio", good, "-o", bin,
    ]);
    assert!(!c.status.success());
    assert!(text(&c.stderr).contains("--from and --device do not apply"));
}
