//! Quick look at one run per policy.
#![allow(missing_docs)]
use machine::*;
fn main() {
    let mut cfg = SimConfig::default();
    cfg.guests = vec![
        workloads::GuestConfig {
            queue_depth: 8,
            ..Default::default()
        };
        2
    ];
    if let Some(p) = std::env::args().nth(1) {
        cfg.host.migration_probability = p.parse().unwrap();
    }
    for p in PolicyKind::ALL {
        let t = std::time::Instant::now();
        let (r, e) = run(&cfg, p).unwrap();
        let el = t.elapsed().as_secs_f64();
        let f = r.flushes();
        println!("{:14} iops={:.0} p50={} p99={} ipis/io={:.2} lp={} lf={} rem={} stale={} stolen={} mig={} tlb_miss={} bgacc={} ev={} ev/s={:.1}M wall={:.3}s bd={:?}",
            p.name(), r.iops(), r.latency.p50, r.latency.p99, r.per_io(r.ipis_sent()), f.local_page, f.local_full, f.remote, r.stale_uses(), r.stolen_cycles(), r.migrations, r.tlb().misses, e.background_accesses, e.events, e.events as f64/el/1e6, el, r.breakdown);
    }
}
