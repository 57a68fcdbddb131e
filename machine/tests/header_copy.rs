//! The backend's header copy (`io.header_copy_bytes`, xen-netback's
//! `XEN_NETBACK_TX_COPY_LEN`), on plain configs: what is mapped, what is
//! flushed, what it costs.

use hypervisor::{BuildContext, Registry};
use machine::{run, LockKind, RunResult, SimConfig, SimError};
use workloads::SizeSpec;

/// The default machine (8 CPUs, 2 registered, a background), one guest of
/// queue depth 8 and fixed-size requests, 5% of data phases migrating (so
/// other CPUs would hold a mapped request's translations).
fn packets(size: u64, ios: u64) -> SimConfig {
    let mut c = SimConfig::default();
    c.stop.ios = ios;
    c.stop.warmup_ios = ios / 10;
    c.guests[0].queue_depth = 8;
    c.guests[0].size_bytes = SizeSpec::Fixed(size);
    c.host.migration_probability = 0.05;
    c
}

fn go(cfg: &SimConfig, name: &str) -> Result<RunResult, SimError> {
    let registry = Registry::builtin();
    let ctx = BuildContext {
        max_request_pages: cfg.max_request_pages(),
    };
    let built = registry.build(&registry.resolve(name, &[]).expect("known"), &ctx);
    Ok(run(cfg, built.expect("builds"))?.0)
}

/// Every safe built-in policy but `persistent` (which reads the header
/// through its pool of mapped grants, tested below).
fn safe_policies() -> Vec<String> {
    Registry::builtin()
        .iter()
        .filter(|p| !p.unsafe_variant && p.name != "persistent")
        .map(|p| p.name.to_string())
        .collect()
}

#[test]
fn a_request_within_the_copy_is_never_mapped_flushed_or_translated_under_any_safe_policy() {
    let mut cfg = packets(64, 2_000);
    cfg.io.header_copy_bytes = 128;
    for name in safe_policies() {
        let r = go(&cfg, &name).expect("runs");
        assert_eq!(r.io_completed, 2_000, "{name}");
        assert_eq!(r.guest_pages_mapped, 0, "{name}: nothing mapped");
        assert_eq!(r.shootdowns, 0, "{name}: nothing to shoot down");
        assert_eq!(r.ipis_sent(), 0, "{name}");
        assert_eq!(r.stale_uses(), 0, "{name}");
        let flushes = r.flushes();
        assert_eq!(
            (flushes.local_page, flushes.remote),
            (0, 0),
            "{name}: no page flushed: {flushes:?}"
        );
        if name != "copy" {
            // One copy per request; `copy` already copies them whole.
            assert_eq!(r.io_path.header_copies, 2_000, "{name}");
        }
    }
    // Without the copy the same packets are mapped, and global flushes.
    cfg.io.header_copy_bytes = 0;
    let mapped = go(&cfg, "global").expect("runs");
    assert_eq!(mapped.guest_pages_mapped, 2_000);
    assert!(mapped.shootdowns > 0 && mapped.ipis_sent() > 0);
    assert_eq!(mapped.io_path.header_copies, 0);
}

#[test]
fn a_larger_request_maps_exactly_the_pages_beyond_the_copy() {
    // (size, header bytes, pages mapped per request)
    for (size, header, pages) in [
        (129, 128, 1),           // the first slot's rest, as frag 0
        (3 * 4096, 128, 3),      // the first page still holds mapped bytes
        (3 * 4096, 4096, 2),     // a whole first page copied
        (3 * 4096 + 1, 8192, 2), // two pages copied, two mapped
    ] {
        let mut cfg = packets(size, 1_000);
        cfg.io.header_copy_bytes = header;
        for name in ["global", "percpu", "kmap"] {
            let r = go(&cfg, name).expect("runs");
            assert_eq!(
                r.guest_pages_mapped,
                1_000 * pages,
                "{name}: {size} bytes, {header} copied"
            );
            assert_eq!(r.io_path.header_copies, 1_000, "{name}");
            assert_eq!(r.stale_uses(), 0, "{name}");
        }
    }
}

#[test]
fn the_copy_costs_its_hypercall_operation_and_bytes_in_the_map_segment() {
    let mut cfg = packets(64, 2_000);
    cfg.host.migration_probability = 0.0;
    cfg.guests[0].queue_depth = 1;
    cfg.background.enabled = false;
    cfg.io.header_copy_bytes = 128;
    let base = go(&cfg, "global").expect("runs");
    // One hypercall per request without a drain.
    assert_eq!(base.hypercalls, base.io_completed);
    let map_per_io = |r: &RunResult| r.breakdown.map as f64 / r.io_completed as f64;
    cfg.io.header_copy_op_cycles += 10_000;
    let op = go(&cfg, "global").expect("runs");
    let d = map_per_io(&op) - map_per_io(&base);
    assert!((d - 10_000.0).abs() < 1.0, "the operation: {d}");
    cfg.io.header_copy_cycles_per_kib += 16_000;
    let bytes = go(&cfg, "global").expect("runs");
    let d = map_per_io(&bytes) - map_per_io(&op);
    // 64 bytes at 16,000 more cycles per KiB: 1,000 cycles.
    assert!((d - 1_000.0).abs() < 1.0, "the bytes: {d}");
    assert!(bytes.latency.mean > op.latency.mean && op.latency.mean > base.latency.mean);
    // Two pages copied: two operations (one per source page).
    let mut two = cfg.clone();
    two.guests[0].size_bytes = SizeSpec::Fixed(8192);
    two.io.header_copy_bytes = 8192;
    let a = go(&two, "global").expect("runs");
    two.io.header_copy_op_cycles += 1_000;
    let b = go(&two, "global").expect("runs");
    let d = map_per_io(&b) - map_per_io(&a);
    assert!((d - 2_000.0).abs() < 1.0, "two operations: {d}");
    assert_eq!(b.guest_pages_mapped, 0);
    // A drain of 8 requests shares one copy hypercall.
    cfg.guests[0].queue_depth = 8;
    cfg.io.drain_requests = 8;
    let drained = go(&cfg, "global").expect("runs");
    assert!(
        drained.hypercalls * 4 < drained.io_completed,
        "{} hypercalls for {} requests",
        drained.hypercalls,
        drained.io_completed
    );
}

#[test]
fn a_copy_takes_the_grant_table_read_lock_twice() {
    // Reader-writer lock, one backend: 2 acquisitions of map_lock_cycles
    // per copy, nothing contends.
    let mut cfg = packets(64, 1_000);
    cfg.host.migration_probability = 0.0;
    cfg.host.io_cpus = 1;
    cfg.guests[0].queue_depth = 1;
    cfg.background.enabled = false;
    cfg.io.header_copy_bytes = 128;
    cfg.host.map_lock = true;
    cfg.io.map_lock_kind = LockKind::ReaderWriter;
    let with = go(&cfg, "global").expect("runs");
    cfg.costs.map_lock_cycles += 1_000;
    let more = go(&cfg, "global").expect("runs");
    let d = (more.breakdown.map as f64 - with.breakdown.map as f64) / with.io_completed as f64;
    assert!((d - 2_000.0).abs() < 1.0, "{d}");
}

#[test]
fn policies_that_do_not_map_per_request_are_unchanged_by_a_header_copy() {
    // `copy` copies the whole request already; persistent grants read the
    // header through their pool.
    let mut cfg = packets(64, 1_000);
    for name in ["copy", "persistent"] {
        cfg.io.header_copy_bytes = 0;
        let off = go(&cfg, name).expect("runs");
        cfg.io.header_copy_bytes = 128;
        let on = go(&cfg, name).expect("runs");
        assert_eq!(on, off, "{name}");
        assert_eq!(on.io_path.header_copies, 0, "{name}");
    }
}
