//! The asynchronous backend and finite slot pools (issue 11), on plain
//! configs: queue depth 32, 64 KiB requests, a device of 40 us.

use hypervisor::{BuildContext, RawValue, Registry};
use machine::{run, RunResult, SimConfig, Touch};
use workloads::SizeSpec;

/// Two guests, each 32 requests of 64 KiB outstanding (16 pages each, 512
/// pages in flight per backend CPU at most), half reads, a 100,000-cycle
/// device, DMA (no data touched).
fn deep(ios: u64) -> SimConfig {
    let mut c = SimConfig::default();
    c.stop.ios = ios;
    c.stop.warmup_ios = ios / 10;
    c.guests = vec![c.guests[0].clone(), c.guests[0].clone()];
    for g in &mut c.guests {
        g.queue_depth = 32;
        g.size_bytes = SizeSpec::Fixed(65_536);
        g.read_fraction = 0.5;
    }
    c.host.device_cycles = 100_000;
    c.host.touch = Touch::Dma;
    c.io.asynchronous = true;
    c
}

fn go(cfg: &SimConfig, name: &str, params: &[(&str, RawValue)]) -> RunResult {
    let r = Registry::builtin();
    let params: Vec<(String, RawValue)> = params
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    let spec = r.resolve(name, &params).expect("known policy");
    let ctx = BuildContext {
        max_request_pages: cfg.max_request_pages(),
    };
    run(cfg, r.build(&spec, &ctx).expect("builds"))
        .expect("simulation runs")
        .0
}

fn slots(n: i64) -> (&'static str, RawValue) {
    ("slots_per_cpu", RawValue::Int(n))
}

fn exhaustion(e: &str) -> (&'static str, RawValue) {
    ("exhaustion", RawValue::Str(e.into()))
}

#[test]
fn asynchronous_percpu_throughput_follows_its_slots_when_fewer_than_pages_in_flight() {
    let cfg = deep(3_000);
    let iops: Vec<f64> = [16, 64, 512]
        .iter()
        .map(|&s| {
            let r = go(&cfg, "percpu", &[slots(s)]);
            assert_eq!(r.stale_uses(), 0);
            if s < 512 {
                assert!(r.io_path.slot_waits > 0, "{s} slots: maps wait");
            } else {
                assert_eq!(r.io_path.slot_waits, 0, "512 slots hold 32 x 16 pages");
            }
            r.iops()
        })
        .collect();
    // 16 slots hold one request per CPU, 64 hold four: throughput follows
    // the requests the slots let in flight (a device-bound run).
    assert!(iops[1] > 3.0 * iops[0], "{iops:?}");
    assert!(iops[2] > 1.3 * iops[1], "{iops:?}");

    // Synchronous, one request per CPU is in flight whatever the slots.
    let mut sync = cfg.clone();
    sync.io.asynchronous = false;
    let a = go(&sync, "percpu", &[slots(16)]);
    let b = go(&sync, "percpu", &[slots(512)]);
    assert_eq!(a.iops(), b.iops(), "slots do not matter synchronously");
    assert_eq!(a.io_path.slot_waits, 0);
    assert!(
        iops[2] > 4.0 * a.iops(),
        "asynchronous pipelines the device"
    );
}

#[test]
fn each_exhaustion_behaviour_shows_in_the_counters() {
    let cfg = deep(3_000);
    let wait = go(&cfg, "percpu", &[slots(64), exhaustion("wait")]);
    let shared = go(&cfg, "percpu", &[slots(64), exhaustion("shared")]);
    let refuse = go(&cfg, "percpu", &[slots(64), exhaustion("refuse")]);
    for r in [&wait, &shared, &refuse] {
        assert_eq!(r.stale_uses(), 0);
        assert_eq!(r.io_completed, 3_000);
    }
    assert!(wait.io_path.slot_waits > 0);
    assert_eq!((wait.io_path.fallbacks, wait.io_path.refused), (0, 0));
    assert_eq!(wait.shootdowns, 0, "per-CPU slots need no shootdown");

    assert!(shared.io_path.fallbacks > 0);
    assert_eq!(shared.io_path.refused, 0);
    assert!(
        shared.shootdowns >= shared.io_path.fallbacks * 9 / 10,
        "a fallback is unmapped with a shootdown: {} for {}",
        shared.shootdowns,
        shared.io_path.fallbacks
    );
    assert!(shared.ipis_sent() > 0);
    assert!(shared.iops() > wait.iops(), "more I/Os in flight");

    assert!(refuse.io_path.refused > 0);
    assert_eq!(
        (refuse.io_path.slot_waits, refuse.io_path.fallbacks),
        (0, 0)
    );
}

#[test]
fn a_pool_that_reuses_slots_early_shows_stale_uses_and_the_correct_one_none() {
    // Reads, copied when the device is done: an early-reused slot then
    // reaches another request's frame.
    let mut cfg = deep(2_000);
    cfg.host.touch = Touch::Line;
    for g in &mut cfg.guests {
        g.read_fraction = 1.0;
    }
    let correct = go(&cfg, "percpu", &[slots(64)]);
    let early = go(&cfg, "percpu-early-reuse", &[slots(64)]);
    assert_eq!(correct.stale_uses(), 0);
    assert!(early.stale_uses() > 0, "{}", early.stale_uses());
    // With slots for every page in flight nothing is reused early.
    let roomy = go(&cfg, "percpu-early-reuse", &[slots(4_096)]);
    assert_eq!(roomy.stale_uses(), 0);
}

#[test]
fn the_device_time_grows_with_the_request_by_its_per_kib_term() {
    // Synchronous (one request in the device per CPU), so the window's
    // edges do not blur the mean; the term is the same on both paths.
    let mut cfg = deep(1_000);
    cfg.io.asynchronous = false;
    cfg.io.device_cycles_per_kib = 1_000;
    let big = go(&cfg, "global", &[]);
    for g in &mut cfg.guests {
        g.size_bytes = SizeSpec::Fixed(4_096);
    }
    let small = go(&cfg, "global", &[]);
    let per_io = |r: &RunResult| r.per_io(r.breakdown.device);
    // 100,000 + 64 x 1,000 and + 4 x 1,000 cycles.
    let near = |v: f64, want: f64| (v - want).abs() < 1.0;
    assert!(near(per_io(&big), 164_000.0), "{}", per_io(&big));
    assert!(near(per_io(&small), 104_000.0), "{}", per_io(&small));
}

#[test]
fn asynchronous_runs_are_deterministic_and_count_every_io_once() {
    let mut cfg = deep(1_500);
    cfg.host.touch = Touch::Line;
    cfg.host.migration_probability = 0.1;
    cfg.io.ring_slots = 8;
    for name in ["global", "percpu", "batched", "kmap"] {
        let a = go(&cfg, name, &[]);
        let b = go(&cfg, name, &[]);
        assert_eq!(a, b, "{name}");
        assert_eq!(a.io_completed, 1_500, "{name}");
        assert_eq!(a.stale_uses(), 0, "{name}");
        assert!(a.peak_in_flight <= 64, "{name}: 64 requests outstanding");
    }
}

#[test]
fn with_a_backend_working_set_a_full_flush_has_its_price_at_the_ceiling() {
    // Synchronous, the sizes around Linux's ceiling of 33 pages:
    // percpu's map flushes 33 pages by INVLPG, 34 by one full flush.
    let iops = |pages: u64, working_set: u32| {
        let mut cfg = SimConfig::default();
        cfg.stop.ios = 3_000;
        cfg.stop.warmup_ios = 300;
        cfg.guests = vec![cfg.guests[0].clone(), cfg.guests[0].clone()];
        for g in &mut cfg.guests {
            g.size_bytes = SizeSpec::Fixed(pages * 4_096);
        }
        cfg.io.backend_working_set_pages = working_set;
        let r = go(&cfg, "percpu", &[slots(64)]);
        assert_eq!(r.stale_uses(), 0);
        r.iops()
    };
    // Without one the full flush is free to refill: the cliff.
    assert!(iops(34, 0) > 1.05 * iops(33, 0));
    // With 512 resident pages, the refill after the full flush costs more
    // than the 33 INVLPGs it saves.
    assert!(iops(34, 512) <= iops(33, 512));
    assert!(iops(33, 512) < iops(33, 0), "the working set costs lookups");
}

#[test]
fn lock_kinds_serialize_or_cost_as_documented() {
    use machine::LockKind;
    // Four backends, 16-page requests, every map and unmap under the lock.
    let cfg_for = |io_cpus: u32, kind: LockKind| {
        let mut cfg = SimConfig::default();
        cfg.stop.ios = 2_000;
        cfg.stop.warmup_ios = 200;
        cfg.background.enabled = false;
        cfg.host.io_cpus = io_cpus;
        cfg.host.map_lock = true;
        cfg.io.map_lock_kind = kind;
        cfg.guests[0].queues = io_cpus;
        cfg.guests[0].queue_depth = 8 * io_cpus;
        cfg.guests[0].size_bytes = SizeSpec::Fixed(65_536);
        cfg
    };
    let run_kind = |io: u32, kind| go(&cfg_for(io, kind), "global", &[]);
    // The unmap part: its hypercall and lock (the map part also holds
    // the IPI handlers that interrupted it).
    let unmap = |r: &RunResult| r.per_io(r.breakdown.unmap);
    let ex = run_kind(4, LockKind::Exclusive);
    let rw = run_kind(4, LockKind::ReaderWriter);
    let pc = run_kind(4, LockKind::PerCpuReaderWriter);
    assert!(rw.iops() > ex.iops(), "readers do not exclude each other");
    // A reader pays for the CPUs contending for the lock word; a per-CPU
    // reader does not, so its unmap costs the same at 1 and 4 CPUs.
    let rw1 = run_kind(1, LockKind::ReaderWriter);
    assert!(unmap(&rw) > unmap(&rw1) + 100.0);
    let pc1 = run_kind(1, LockKind::PerCpuReaderWriter);
    assert!((unmap(&pc) - unmap(&pc1)).abs() < 1.0);
    assert!(pc.iops() >= rw.iops());
    for r in [&ex, &rw, &pc] {
        assert_eq!(r.stale_uses(), 0);
    }
}

#[test]
fn a_drained_ring_maps_its_requests_in_one_hypercall() {
    // Two guests keep 8 requests on each of 2 rings.
    let mut cfg = SimConfig::default();
    cfg.stop.ios = 3_000;
    cfg.stop.warmup_ios = 300;
    cfg.guests[0].queue_depth = 8;
    cfg.guests = vec![cfg.guests[0].clone(), cfg.guests[0].clone()];
    let one = go(&cfg, "percpu", &[]);
    cfg.io.drain_requests = 32;
    let drained = go(&cfg, "percpu", &[]);
    let per_io = |r: &RunResult| r.per_io(r.hypercalls);
    assert!((per_io(&one) - 2.0).abs() < 0.01, "a map and an unmap each");
    // At most 7 wait behind the one taken: about 1 + 1/8 per I/O.
    assert!(per_io(&drained) < 1.2, "{}", per_io(&drained));
    assert!(per_io(&drained) > 1.0);
    assert!(drained.iops() > one.iops());
    assert_eq!(drained.stale_uses(), 0);
    // With one request per ring there is nothing to drain.
    cfg.guests.truncate(1);
    cfg.guests[0].queue_depth = 1;
    let single = go(&cfg, "percpu", &[]);
    assert!((per_io(&single) - 2.0).abs() < 0.01);
}

#[test]
fn drained_unmaps_share_one_hypercall_and_one_shootdown() {
    // 64 requests in flight per backend CPU, DMA: finished requests queue
    // behind each other at the thread, so a drain gathers several.
    let mut cfg = deep(3_000);
    cfg.io.drain_requests = 8;
    let alone = go(&cfg, "global", &[]);
    cfg.io.drain_unmaps = true;
    let gathered = go(&cfg, "global", &[]);
    let hypercalls = |r: &RunResult| r.per_io(r.hypercalls);
    let shootdowns = |r: &RunResult| r.per_io(r.shootdowns);
    // Alone: one shootdown per unmap, and an unmap hypercall per I/O on
    // top of the drained maps.
    assert!(
        (shootdowns(&alone) - 1.0).abs() < 0.01,
        "{}",
        shootdowns(&alone)
    );
    assert!(hypercalls(&alone) > 1.0);
    assert!(
        shootdowns(&gathered) < 0.9 * shootdowns(&alone),
        "{} vs {}",
        shootdowns(&gathered),
        shootdowns(&alone)
    );
    assert!(
        hypercalls(&gathered) < hypercalls(&alone) - 0.1,
        "{} vs {}",
        hypercalls(&gathered),
        hypercalls(&alone)
    );
    // Every shootdown is one hypercall's: never more than one per gathered
    // unmap, never fewer than one per drain_requests I/Os.
    assert!(shootdowns(&gathered) >= 1.0 / 8.0);
    assert_eq!(gathered.io_completed, alone.io_completed);
    assert_eq!(gathered.stale_uses(), 0);
    assert_eq!(alone.stale_uses(), 0);
    // percpu's unmaps need no shootdown: its thread keeps up with the
    // device, so finished requests seldom wait for it to gather them.
    let pc = go(&cfg, "percpu", &[slots(1024)]);
    assert_eq!(pc.shootdowns, 0);
    assert_eq!(pc.stale_uses(), 0);
    cfg.io.drain_unmaps = false;
    let pc_alone = go(&cfg, "percpu", &[slots(1024)]);
    assert!(hypercalls(&pc) <= hypercalls(&pc_alone));
}

/// `deep` with four rings per guest, so that each backend CPU serves four
/// rings (two per thread with two threads per CPU).
fn threaded(ios: u64, threads: u32) -> SimConfig {
    let mut cfg = deep(ios);
    for g in &mut cfg.guests {
        g.queues = 4;
    }
    cfg.io.threads_per_cpu = threads;
    cfg
}

#[test]
fn several_backend_threads_per_cpu_switch_and_pay_for_it() {
    let one = go(&threaded(3_000, 1), "global", &[]);
    assert_eq!(one.io_path.thread_switches, 0);
    let mut cfg = threaded(3_000, 2);
    let two = go(&cfg, "global", &[]);
    assert!(two.io_path.thread_switches > 100, "{:?}", two.io_path);
    cfg.io.switch_cycles = 0;
    let free = go(&cfg, "global", &[]);
    cfg.io.switch_cycles = 50_000;
    let dear = go(&cfg, "global", &[]);
    // The backend CPUs are the bottleneck: switch costs take throughput.
    assert!(
        dear.iops() < 0.9 * free.iops(),
        "{} vs {}",
        dear.iops(),
        free.iops()
    );
    assert!(two.iops() < free.iops());
    assert_ne!(two.iops(), one.iops());
    for r in [&one, &two, &free, &dear] {
        assert_eq!(r.stale_uses(), 0);
        assert_eq!(r.io_completed, 3_000);
    }
}

#[test]
fn percpu_slots_survive_a_switch_only_through_save_and_restore() {
    // 16 slots hold one 64 KiB request: one thread has one I/O in flight;
    // a second thread, whose slots are saved and restored at each switch,
    // has its own. Reads are copied when the device is done, through the
    // restored slots.
    let mut cfg = threaded(2_000, 1);
    cfg.host.touch = Touch::Line;
    let one = go(&cfg, "percpu", &[slots(16)]);
    cfg.io.threads_per_cpu = 2;
    let two = go(&cfg, "percpu", &[slots(16)]);
    assert_eq!(one.stale_uses(), 0);
    assert_eq!(two.stale_uses(), 0, "the correct save and restore");
    assert!(two.io_path.thread_switches > 0);
    assert!(
        two.iops() > 1.3 * one.iops(),
        "{} vs {}",
        two.iops(),
        one.iops()
    );
    // Without the flush at switch-out, a restored slot hits the other
    // thread's translation of the same page.
    cfg.io.switch_flush = false;
    let broken = go(&cfg, "percpu", &[slots(16)]);
    assert!(broken.stale_uses() > 0, "{}", broken.stale_uses());
    // global's mappings are not per-CPU slots: nothing is saved, nothing
    // goes stale.
    assert_eq!(go(&cfg, "global", &[]).stale_uses(), 0);
    // Three threads, each with several I/Os in its 24 slots and unmapped
    // slots its CPU still caches (percpu flushes at map, not at unmap):
    // the restore's map-time flush keeps them from the restored thread.
    cfg.io.switch_flush = true;
    cfg.io.threads_per_cpu = 3;
    cfg.guests[0].queues = 5;
    cfg.guests[1].queues = 3;
    cfg.guests[1].size_bytes = SizeSpec::Fixed(32_768);
    cfg.host.device_cycles = 60_000;
    let three = go(&cfg, "percpu", &[slots(24)]);
    assert_eq!(three.stale_uses(), 0);
    assert!(three.io_path.thread_switches > 0);
    cfg.io.switch_flush = false;
    assert!(go(&cfg, "percpu", &[slots(24)]).stale_uses() > 0);
}

#[test]
fn a_bounded_device_serves_its_queues_first_come_first_served() {
    // deep(): a 100,000-cycle device at 2.5 GHz, 64 requests in flight.
    let mut cfg = deep(2_000);
    let unbounded = go(&cfg, "percpu", &[slots(1024)]);
    let mut iops = Vec::new();
    for q in [1, 4] {
        cfg.io.device_queues = q;
        let r = go(&cfg, "percpu", &[slots(1024)]);
        // At most q requests per 100,000 cycles.
        let cap = f64::from(q) * 2.5e9 / 100_000.0;
        assert!(r.iops() <= cap * 1.01, "{q} queues: {} > {cap}", r.iops());
        assert!(
            r.iops() > cap * 0.9,
            "{q} queues: {} well below {cap}",
            r.iops()
        );
        assert!(r.breakdown.device > unbounded.breakdown.device);
        assert_eq!(r.stale_uses(), 0);
        iops.push(r.iops());
    }
    assert!(unbounded.iops() > iops[1]);
    // The synchronous path waits for a queue too.
    let mut sync = deep(1_000);
    sync.io.asynchronous = false;
    let free = go(&sync, "global", &[]);
    sync.io.device_queues = 1;
    let one = go(&sync, "global", &[]);
    assert!(one.iops() < free.iops());
    assert!(one.iops() <= 2.5e9 / 100_000.0 * 1.01);
}
