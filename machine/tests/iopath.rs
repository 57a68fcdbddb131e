//! The I/O path's options: touch modes (and, below, trace splitting,
//! overload, device time), on plain configs.

use hypervisor::{BuildContext, Registry};
use machine::{run, RunResult, SimConfig, Touch};
use workloads::SizeSpec;

fn base(ios: u64) -> SimConfig {
    let mut c = SimConfig::default();
    c.stop.ios = ios;
    c.stop.warmup_ios = ios / 10;
    c.guests[0].queue_depth = 8;
    c.guests[0].size_bytes = SizeSpec::Fixed(16_384);
    c
}

/// Runs `cfg` under built-in policy `name` with its default parameters.
fn go(cfg: &SimConfig, name: &str) -> RunResult {
    let registry = Registry::builtin();
    let ctx = BuildContext {
        max_request_pages: cfg.max_request_pages(),
    };
    let built = registry.build(&registry.resolve(name, &[]).expect("known"), &ctx);
    run(cfg, built.expect("builds")).expect("simulation runs").0
}

/// TLB lookups made on the registered (backend) CPUs.
fn backend_lookups(r: &RunResult) -> u64 {
    r.per_cpu
        .iter()
        .filter(|c| c.registered)
        .map(|c| c.tlb.lookups)
        .sum()
}

#[test]
fn dma_makes_no_data_lookups_and_is_faster_than_a_copy() {
    for name in ["global", "percpu"] {
        let mut cfg = base(2_000);
        let copy = go(&cfg, name);
        cfg.host.touch = Touch::Dma;
        let dma = go(&cfg, name);
        assert!(backend_lookups(&copy) > 0, "{name}: a copy translates");
        assert_eq!(backend_lookups(&dma), 0, "{name}: DMA never translates");
        assert_eq!(dma.breakdown.data, 0, "{name}: no data time");
        assert!(copy.breakdown.data > 0);
        assert!(
            dma.latency.mean < copy.latency.mean,
            "{name}: {} vs {}",
            dma.latency.mean,
            copy.latency.mean
        );
        assert_eq!(dma.io_completed, copy.io_completed);
    }
}

#[test]
fn touch_modes_translate_and_charge_what_they_touch() {
    let mut cfg = base(2_000);
    cfg.background.enabled = false;
    let mut by_mode = Vec::new();
    for touch in [Touch::Line, Touch::PageLookup, Touch::Page, Touch::Header] {
        cfg.host.touch = touch;
        let r = go(&cfg, "percpu");
        by_mode.push((backend_lookups(&r), r.breakdown.data, r.io_completed));
    }
    let [line, page_lookup, page, header] = by_mode[..] else {
        unreachable!()
    };
    // 16 KiB = 4 pages = 256 lines per request.
    assert_eq!(line.0, 256 * line.2, "line: one lookup per line");
    assert_eq!(
        page_lookup.0,
        4 * page_lookup.2,
        "page-lookup: one per page"
    );
    assert_eq!(page.0, 4 * page.2, "page: one per page");
    assert_eq!(header.0, 2 * header.2, "header: 128 bytes = 2 lines");
    assert_eq!(line.1, page_lookup.1, "page-lookup keeps the copy's timing");
    assert!(page.1 < page_lookup.1, "page charges one line per page");
    assert!(header.1 < page.1, "a 2-line peek costs less than 4 pages");
}

#[test]
fn set_up_hypercalls_are_outside_a_window_without_warm_up() {
    let mut cfg = base(500);
    cfg.stop.warmup_ios = 0;
    cfg.guests[0].queue_depth = 1;
    for name in ["global", "percpu"] {
        let r = go(&cfg, name);
        // One request at a time, the run stops at a completion: exactly a map
        // and an unmap per I/O (percpu's registrations and pre-allocations
        // happened before the run).
        assert_eq!(r.hypercalls, 2 * r.io_completed, "{name}");
    }
}

#[test]
fn a_lazy_tlb_deferred_flush_has_its_own_counter_and_latency_part() {
    let mut cfg = base(2_000);
    cfg.guests[0].pattern = workloads::Pattern::Open;
    cfg.guests[0].rate_iops = 50_000.0;
    cfg.guests[0].queues = 2;
    let registry = Registry::builtin();
    let spec = registry
        .resolve(
            "global",
            &[("lazy_tlb".into(), hypervisor::RawValue::Bool(true))],
        )
        .expect("known");
    let ctx = BuildContext {
        max_request_pages: cfg.max_request_pages(),
    };
    let r = run(&cfg, registry.build(&spec, &ctx).expect("builds"))
        .expect("runs")
        .0;
    let f = r.flushes();
    assert!(f.deferred > 0, "idle backends are skipped and flush later");
    assert_eq!(
        r.breakdown.deferred_flush,
        f.deferred * cfg.costs.full_flush_cycles,
        "each deferred flush's cost is in its own part"
    );
    assert_eq!(
        f.local_full, r.shootdowns,
        "local: the initiators' flushes only"
    );
}

#[test]
fn device_time_is_its_own_phase_before_the_unmap() {
    let mut cfg = base(1_000);
    cfg.guests[0].queue_depth = 1;
    cfg.background.enabled = false;
    let without = go(&cfg, "percpu");
    cfg.host.device_cycles = 40_000;
    let fixed = go(&cfg, "percpu");
    assert_eq!(without.breakdown.device, 0);
    assert_eq!(fixed.breakdown.device, 40_000 * fixed.io_completed);
    // One request at a time and fixed costs: each I/O takes the device's
    // time longer (to the latency histogram's 3 significant digits).
    let longer = fixed.latency.mean - without.latency.mean;
    assert!(
        (longer - 40_000.0).abs() < 0.001 * fixed.latency.mean,
        "{longer}"
    );
    cfg.host.device_distribution = machine::Distribution::Exponential;
    let exp = go(&cfg, "percpu");
    #[allow(clippy::cast_precision_loss, reason = "a mean")]
    let mean = exp.breakdown.device as f64 / exp.io_completed as f64;
    assert!(
        (36_000.0..44_000.0).contains(&mean),
        "mean device time {mean}"
    );
    assert!(
        exp.latency.p99 > fixed.latency.p99,
        "exponential spreads latency"
    );
}

/// A recorded stream: a burst of `burst` requests at time 0, then one
/// request every millisecond.
struct BurstThenTrickle {
    burst: u64,
    next: u64,
}

impl workloads::RequestSource for BurstThenTrickle {
    fn next_request(&mut self) -> Option<Result<workloads::TimedRequest, workloads::SourceError>> {
        let i = self.next;
        self.next += 1;
        (i < self.burst + 200).then_some(Ok(workloads::TimedRequest {
            at_ns: if i < self.burst {
                0
            } else {
                (i - self.burst + 1) * 1_000_000
            },
            size_bytes: 4096,
            read: true,
            queue: 0,
            offset: 0,
        }))
    }
}

#[test]
fn peak_in_flight_and_overload_cover_the_window_only() {
    let mut cfg = base(100);
    cfg.stop.warmup_ios = 100;
    cfg.guests[0] = workloads::GuestConfig {
        pattern: workloads::Pattern::Trace,
        trace: "burst".into(),
        max_request_bytes: Some(4096),
        ..workloads::GuestConfig::default()
    };
    let registry = Registry::builtin();
    let ctx = BuildContext {
        max_request_pages: cfg.max_request_pages(),
    };
    let policy = registry
        .build(&registry.resolve("percpu", &[]).expect("known"), &ctx)
        .expect("builds");
    let source: Box<dyn workloads::RequestSource + Send> = Box::new(BurstThenTrickle {
        burst: 100,
        next: 0,
    });
    let (r, _) =
        machine::Simulation::with_parts(&cfg, policy, vec![Some(source)], machine::NoObserver)
            .expect("builds")
            .run(0)
            .expect("runs");
    assert_eq!(r.io_completed, 100);
    // The warm-up served the burst of 100; in the window requests arrive a
    // millisecond apart and are served in microseconds.
    assert_eq!(r.peak_in_flight, 1, "the window's peak, not the burst's");
    assert_eq!(r.overload.backlog_start, 0);
    assert!(!r.overload.overloaded);
}
