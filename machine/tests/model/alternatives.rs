//! The defining property of each alternative policy (a module of
//! `model.rs`, whose helpers it uses).

use super::{base, go_with};
use hypervisor::{DomainArea, RawValue, UnmapPlan};
use machine::RunResult;
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

/// Every map and unmap of guest frames, in order (virtual page, cycle).
#[derive(Default)]
struct MapLog {
    maps: Vec<(u64, u32, u64)>,
    unmaps: Vec<(u64, u32, u64)>,
}

impl machine::Observer for MapLog {
    fn mapped(&mut self, t: u64, first_page: u64, pages: u32) {
        self.maps.push((first_page, pages, t));
    }
    fn unmapped(&mut self, t: u64, first_page: u64, pages: u32) {
        self.unmaps.push((first_page, pages, t));
    }
}

fn observed(cfg: &SimConfig, name: &str, params: &[(&str, RawValue)]) -> (RunResult, MapLog) {
    let sim = machine::Simulation::with_parts(
        cfg,
        super::policy(cfg, name, params),
        Vec::new(),
        MapLog::default(),
    )
    .expect("builds");
    let (r, _, log) = sim.run_observed(0).expect("runs");
    (r, log)
}

/// A guest buffer pool small enough for one ring's persistent grants.
fn small_pools(ios: u64) -> SimConfig {
    let mut cfg = base(ios);
    for g in &mut cfg.guests {
        g.buffer_pages = 64;
    }
    cfg
}

#[test]
fn persistent_in_steady_state_maps_and_flushes_nothing_and_pays_copy_per_byte() {
    let mut cfg = small_pools(4_000);
    // Both guests' 64 pages land on each ring in the warm-up (400 I/Os).
    let r = go_with(&cfg, "persistent", &[]);
    assert_eq!(r.io_completed, 4_000);
    assert_eq!(r.hypercalls, 0, "no map or unmap hypercall in steady state");
    assert_eq!(r.guest_pages_mapped, 0);
    assert_eq!(r.shootdowns, 0);
    let f = r.flushes();
    assert_eq!(
        f.local_page + f.local_full + f.remote + f.deferred,
        0,
        "no flush"
    );
    assert_eq!(r.ipis_sent(), 0);
    assert_eq!(r.stale_uses(), 0);
    // The copy is the price: the data part grows by exactly the copy
    // cycles, per byte (8 KiB requests: 2 x 2 KiB-per-cycle-unit steps).
    for g in &mut cfg.guests {
        g.size_bytes = workloads::SizeSpec::Fixed(8192);
    }
    let data = |kib: i64| {
        let r = go_with(
            &cfg,
            "persistent",
            &[("copy_cycles_per_kib", RawValue::Int(kib))],
        );
        (r.breakdown.data, r.io_bytes)
    };
    let (free, bytes) = data(0);
    let (paid, _) = data(256);
    let (dear, _) = data(512);
    assert_eq!(paid - free, bytes / 1024 * 256);
    assert_eq!(dear - free, 2 * (paid - free));
}

#[test]
fn persistent_purges_the_least_recently_used_grants_with_a_shootdown_when_full() {
    // 64 frames per guest through 16 grants per ring: every request misses
    // and purges (a cyclic pattern larger than an LRU pool), safely.
    let cfg = migrating(2_000);
    let r = go_with(&cfg, "persistent", &[("grants", RawValue::Int(16))]);
    assert!(r.shootdowns > 0 && r.guest_pages_mapped > 0);
    assert_eq!(r.stale_uses(), 0);
}

#[test]
fn copy_never_maps_a_guest_frame_in_the_host_domain() {
    let cfg = migrating(4_000);
    let (r, log) = observed(&cfg, "copy", &[]);
    assert!(r.migrations > 0);
    assert!(log.maps.is_empty() && log.unmaps.is_empty());
    assert_eq!(r.guest_pages_mapped, 0);
    assert_eq!((r.shootdowns, r.ipis_sent(), r.flushes().remote), (0, 0, 0));
    // One copy hypercall per request, nothing else.
    assert_eq!(r.hypercalls, r.io_pieces);
    assert_eq!(r.stale_uses(), 0);
    assert_eq!(r.release_exposure.count, 0);
    // The control maps every guest page it serves.
    let (g, glog) = observed(&cfg, "global", &[]);
    assert_eq!(g.guest_pages_mapped, g.io_bytes.div_ceil(4096));
    assert!(!glog.maps.is_empty());
}

/// Whether some tick boundary (a multiple of `tick`) lies in
/// `(after, until]`.
fn tick_between(after: u64, until: u64, tick: u64) -> bool {
    until / tick > after / tick
}

/// Each reuse of a virtual page: (its unmap, the next map), cycles.
fn reuses(log: &MapLog) -> Vec<(u64, u64)> {
    let mut last_unmap = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    let mut events: Vec<(u64, bool, u64, u32)> = log
        .maps
        .iter()
        .map(|&(p, n, t)| (t, true, p, n))
        .chain(log.unmaps.iter().map(|&(p, n, t)| (t, false, p, n)))
        .collect();
    // Same cycle: an unmap before a map (the order the model can take).
    events.sort_by_key(|&(t, map, p, _)| (t, map, p));
    for (t, map, p, n) in events {
        for page in p..p + u64::from(n) {
            if map {
                if let Some(u) = last_unmap.remove(&page) {
                    out.push((u, t));
                }
            } else {
                last_unmap.insert(page, t);
            }
        }
    }
    out
}

#[test]
fn epoch_never_reuses_an_address_before_every_cpu_passed_the_epoch() {
    let cfg = migrating(4_000);
    let tick = 20_000_u64;
    let params = [("tick_cycles", RawValue::Int(20_000))];
    let (r, log) = observed(&cfg, "epoch", &params);
    let reused = reuses(&log);
    assert!(reused.len() > 1_000, "{} reuses", reused.len());
    for &(unmap, map) in &reused {
        assert!(
            tick_between(unmap, map, tick),
            "unmapped at {unmap}, mapped again at {map}, no tick between"
        );
    }
    assert!(r.migrations > 0);
    assert_eq!(r.stale_uses(), 0);
    assert_eq!(r.ipis_sent(), 0, "no IPI: remote CPUs flush at their tick");
    // The price: frames released while a migrated CPU still caches them.
    assert!(r.release_exposure.count > 0);
    assert!(r.release_exposure.max <= tick + 10_000);
    // Reusing early breaks the rule and goes stale.
    let (u, ulog) = observed(&cfg, "epoch-unsafe", &params);
    assert!(reuses(&ulog)
        .iter()
        .any(|&(unmap, map)| !tick_between(unmap, map, tick)));
    assert!(u.stale_uses() > 0);
}

#[test]
fn broadcast_targeted_signals_only_holders_and_runs_no_handler() {
    let cfg = migrating(4_000);
    let others = u64::from(cfg.machine.cpus - 1);
    let r = go_with(&cfg, "broadcast-targeted", &[]);
    assert!(r.migrations > 0);
    assert_eq!((r.ipis_sent(), r.stolen_cycles()), (0, 0));
    assert_eq!(r.stale_uses(), 0);
    // Only a CPU the request migrated to holds its pages.
    assert!(r.flushes().remote > 0 && r.flushes().remote <= r.migrations);
    let all = go_with(
        &cfg,
        "broadcast-targeted",
        &[("targets", RawValue::Str("all".into()))],
    );
    assert_eq!(all.flushes().remote, all.io_completed * others);
    assert_eq!(all.stale_uses(), 0);
    assert!(all.breakdown.flush_wait > r.breakdown.flush_wait);
}
