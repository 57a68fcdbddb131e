//! The defining property of each alternative policy (a module of
//! `model.rs`, whose helpers it uses).

use super::{base, go_with};
use hypervisor::{DomainArea, RawValue, UnmapPlan};
use machine::{run, SimConfig};

fn migrating(ios: u64) -> SimConfig {
    let mut cfg = base(ios);
    cfg.host.migration_probability = 0.3;
    cfg
}

#[test]
fn batched_sends_one_shootdown_per_full_batch_and_is_safe() {
    let cfg = base(4_000);
    let others = u64::from(cfg.machine.cpus - 1);
    for size in [2_u64, 4] {
        let raw = RawValue::Int(i64::try_from(size).unwrap());
        let r = go_with(&cfg, "batched", &[("batch_size", raw)]);
        assert_eq!(r.io_completed, 4_000);
        // Eight requests are outstanding per backend CPU: its ring never
        // runs dry, so every batch is full (the window may cut one at each
        // end per backend).
        let batches = r.io_completed / size;
        assert!(
            r.shootdowns.abs_diff(batches) <= 4,
            "{} shootdowns for {batches} batches of {size}",
            r.shootdowns
        );
        assert_eq!(r.ipis_sent(), r.shootdowns * others);
        assert_eq!(r.flushes().remote, r.shootdowns * others);
        assert_eq!(r.stale_uses(), 0);
        // A request waits in its batch: its flush wait exceeds one
        // shootdown's.
        assert!(r.breakdown.flush_wait > 0);
    }
    let global = go_with(&cfg, "global", &[]);
    let batched = go_with(&cfg, "batched", &[("batch_size", RawValue::Int(4))]);
    assert!(batched.ipis_sent() * 3 < global.ipis_sent());
}

#[test]
fn batched_is_safe_under_migration_and_its_unsafe_variant_is_not() {
    let cfg = base(4_000);
    let safe = go_with(&migrating(4_000), "batched", &[]);
    assert!(safe.migrations > 0);
    assert_eq!(safe.stale_uses(), 0);
    let r = go_with(&cfg, "batched-unsafe", &[]);
    assert!(
        r.stale_uses() > 0,
        "an area reused before its batch's flush must go stale"
    );
}

#[test]
fn a_partial_batch_is_flushed_after_its_timeout() {
    // Batches of 64 never fill with 8 requests per backend, so without a
    // timeout only running dry flushes them; a timeout of 1 cycle flushes
    // at every request boundary: more, smaller batches.
    let cfg = base(4_000);
    let never = go_with(&cfg, "batched", &[("batch_size", RawValue::Int(64))]);
    let soon = go_with(
        &cfg,
        "batched",
        &[
            ("batch_size", RawValue::Int(64)),
            ("timeout_cycles", RawValue::Int(1)),
        ],
    );
    assert!(soon.shootdowns > never.shootdowns);
    assert_eq!(soon.stale_uses(), 0);
}

#[test]
fn broadcast_sends_no_ipi_runs_no_handler_and_remote_tlbs_lose_the_pages() {
    let cfg = migrating(4_000);
    let others = u64::from(cfg.machine.cpus - 1);
    let r = go_with(&cfg, "broadcast", &[]);
    assert!(r.migrations > 0);
    assert_eq!((r.ipis_sent(), r.ipis_received()), (0, 0));
    assert_eq!(r.stolen_cycles(), 0, "no handler on any target");
    assert_eq!(r.flushes().remote, r.io_completed * others);
    assert_eq!(r.stale_uses(), 0);
    // The same area and migrations without remote invalidation go stale:
    // the broadcast is what removes the migrated CPUs' entries.
    let none = DomainArea {
        name: "control",
        unmap: UnmapPlan::NOTHING,
        extra_chunks_per_cpu: 0,
    };
    let control = run(&cfg, Box::new(none)).expect("runs").0;
    assert!(control.stale_uses() > 0);
}

#[test]
fn hypercall_flush_replaces_per_target_sends_by_one_hypercall() {
    let mut cfg = base(2_000);
    cfg.costs = cpu_model::CostTable::host_domain_in_vm();
    let g = go_with(&cfg, "global", &[]);
    let h = go_with(&cfg, "hypercall-flush", &[]);
    // The targets are interrupted exactly as before...
    assert_eq!(h.ipis_received(), g.ipis_received());
    assert_eq!(h.stolen_cycles(), g.stolen_cycles());
    // ...the initiator makes one more hypercall per unmap and waits less
    // (one VM exit instead of one per target).
    assert_eq!(h.hypercalls - g.hypercalls, h.shootdowns);
    assert!(h.breakdown.flush_wait < g.breakdown.flush_wait);
    assert_eq!(h.stale_uses(), 0);
}

#[test]
fn targeted_sends_no_useless_ipi() {
    let quiet = go_with(&base(2_000), "targeted", &[]);
    assert_eq!(quiet.ipis_sent(), 0, "no other TLB holds unmigrated pages");
    assert_eq!(quiet.stale_uses(), 0);
    let r = go_with(&migrating(4_000), "targeted", &[]);
    assert_eq!(r.stale_uses(), 0);
    // Only a CPU the request migrated to can hold its pages.
    assert!(r.ipis_sent() > 0 && r.ipis_sent() <= r.migrations);
}

#[test]
fn kmap_flushes_every_cpu_once_per_wrap_of_its_pool() {
    let cfg = migrating(4_000);
    let others = u64::from(cfg.machine.cpus - 1);
    let max_pages = cfg.max_request_pages();
    for slots in [64_u64, 256] {
        let raw = RawValue::Int(i64::try_from(slots).unwrap());
        let r = go_with(&cfg, "kmap", &[("slots", raw)]);
        assert_eq!(
            r.stale_uses(),
            0,
            "slots are reused only after a wrap flush"
        );
        // Pages mapped in the window; a lap uses between `slots` less the
        // in-flight requests' pages (skipped) and `slots` of them.
        let pages = r.io_bytes.div_ceil(4096);
        let in_flight = u64::from(cfg.host.io_cpus) * max_pages;
        let (fewest, most) = (pages / slots, pages / (slots - in_flight) + 1);
        assert!(
            (fewest.saturating_sub(1)..=most).contains(&r.shootdowns),
            "{} shootdowns for {pages} pages through {slots} slots",
            r.shootdowns
        );
        assert_eq!(r.ipis_sent(), r.shootdowns * others);
        assert_eq!(r.flushes().local_page, 0, "no flush on individual unmaps");
    }
}
