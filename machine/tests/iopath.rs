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
