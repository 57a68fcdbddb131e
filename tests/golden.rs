//! Golden outputs: every simulated statistic of a few fixed configurations,
//! as summary.json, must stay byte-identical across refactors and
//! performance work. A change that is meant to alter results regenerates them
//! with `TLBSIM_BLESS=1 cargo test --release --test golden` and says why in
//! its commit.

use machine::{PolicyKind, SimConfig, StopConfig};
use std::path::PathBuf;
use workloads::{GuestConfig, SizeSpec};

fn configs() -> Vec<(&'static str, SimConfig)> {
    let base = SimConfig {
        stop: StopConfig {
            ios: 3_000,
            warmup_ios: 300,
            max_cycles: 0,
        },
        guests: vec![
            GuestConfig {
                queue_depth: 8,
                ..GuestConfig::default()
            };
            2
        ],
        ..SimConfig::default()
    };
    let mut migration = base.clone();
    migration.host.migration_probability = 0.2;
    let mut range = base.clone();
    range.host.shootdown_flush = machine::ShootdownFlush::Range;
    range.host.touch = machine::Touch::Page;
    range.guests[0].size_bytes = SizeSpec::Uniform {
        min: 4096,
        max: 45_056,
        align: 4096,
    };
    let mut vm = base.clone();
    vm.costs = cpu_model::CostTable::host_domain_in_vm();
    vm.host.flush_lock = false;
    vm.host.io_cpus = 4;
    vm.guests.push(GuestConfig {
        pattern: workloads::Pattern::Open,
        rate_iops: 300_000.0,
        ..GuestConfig::default()
    });
    vec![
        ("base", base),
        ("migration", migration),
        ("range", range),
        ("vm", vm),
    ]
}

/// Whether every key and value of `want` is in `got` (recursively; arrays
/// must have the same length).
fn subset(want: &serde_json::Value, got: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| subset(v, gv))),
        (Value::Array(w), Value::Array(g)) => {
            w.len() == g.len() && w.iter().zip(g).all(|(a, b)| subset(a, b))
        }
        _ => want == got,
    }
}

#[test]
fn summaries_match_golden_files() {
    let bless = std::env::var_os("TLBSIM_BLESS").is_some();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut failures = Vec::new();
    for (name, cfg) in configs() {
        let runs: Vec<_> = PolicyKind::ALL
            .iter()
            .map(|&p| machine::run(&cfg, p).expect("runs").0)
            .collect();
        let report = reports::Report {
            version: "golden",
            scenario_name: name,
            scenario_hash: "-",
            seed: cfg.seed,
            runs: &runs,
        };
        let got = reports::summary_json(&report);
        let path = dir.join(format!("{name}.summary.json"));
        if bless {
            std::fs::write(&path, &got).expect("write golden file");
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (bless with TLBSIM_BLESS=1)", path.display()));
        // Compare as JSON values: key order is presentation, not statistics.
        // Every statistic in the golden file must be identical; statistics
        // added since it was blessed are not compared until it is re-blessed.
        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("valid JSON");
        if !subset(&parse(&want), &parse(&got)) {
            failures.push(name);
        }
    }
    assert!(
        failures.is_empty(),
        "simulated statistics changed for {failures:?}"
    );
}
