//! Every bundled scenario loads, validates and matches its brief.

use std::collections::BTreeSet;

use machine::Touch;
use workloads::{Pattern, SizeSpec};

#[test]
fn every_bundled_scenario_loads_without_problems() {
    let mut names = BTreeSet::new();
    for b in scenarios::bundled() {
        assert!(names.insert(b.name), "duplicate bundled name {}", b.name);
        let s = scenarios::load(b.name, &[]).unwrap_or_else(|e| panic!("{}: {e}", b.name));
        assert_eq!(s.name, b.name);
        assert!(
            s.config.problems().is_empty(),
            "{}: {:?}",
            b.name,
            s.config.problems()
        );
        assert!(!s.policies.is_empty());
        assert!(s.config.stop.ios <= 20_000, "{} runs too long", b.name);
        assert_eq!(
            s.summary(),
            b.description,
            "{}: BundledScenario.description must be the first line",
            b.name
        );
        assert!(
            s.description.lines().count() >= 2,
            "{}: the description should say what and why",
            b.name
        );
        assert_eq!(s.hash.len(), 64);
        // The resolved TOML loads back to the same scenario.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("{}.toml", b.name));
        std::fs::write(&p, scenarios::to_toml(&s)).unwrap();
        let again = scenarios::load(p.to_str().unwrap(), &[]).unwrap();
        assert_eq!(again.config, s.config);
        assert_eq!(again.policies, s.policies);
        assert_eq!(again.hash, s.hash, "{}", b.name);
    }
    assert!(names.contains("default"));
    assert!(names.contains("fixed-baseline"));
    // Every file under bundled/ is registered, and nothing else.
    let files: BTreeSet<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/bundled"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|f| f.strip_suffix(".toml").map(str::to_string))
            .collect();
    let registered: BTreeSet<String> = names.iter().map(|n| (*n).to_string()).collect();
    assert_eq!(registered, files);
}

#[test]
fn bundled_scenarios_match_their_brief() {
    // The validation scenarios turn on the host knobs their real systems have:
    // Linux lazy TLB and mmap_lock; Xen's grant-table lock but no lazy TLB.
    let l = scenarios::load("linux-vm2", &[]).unwrap();
    let lg = l.policy("global").expect("linux-vm2 runs global");
    assert!(lg.params.bool("lazy_tlb") && !lg.params.bool("flush_lock"));
    assert_eq!(lg.params.choice("flush"), "range");
    assert!(l.config.host.map_lock && l.config.host.map_lock_through_flush);
    // rwsem writers spin (10.5 us on a reader-owned lock) before they sleep.
    assert_eq!(
        l.config.host.map_lock_waiter,
        machine::LockWaiter::SpinThenSleep
    );
    assert_eq!(l.config.costs.map_lock_spin_cycles, 27_300);
    let x = scenarios::load("xen-netback", &[]).unwrap();
    let xg = x.policy("global").expect("xen-netback runs global");
    assert!(x.config.host.map_lock && !xg.params.bool("lazy_tlb"));
    assert_eq!(xg.params.choice("flush"), "full");
    // Netback's copy path: a 64-byte packet is grant-copied whole
    // (XEN_NETBACK_TX_COPY_LEN), 64 per NAPI poll in one hypercall.
    assert_eq!(x.config.io.header_copy_bytes, 128);
    assert_eq!(x.config.io.drain_requests, 64);
    assert_eq!(x.config.guests[0].size_bytes, SizeSpec::Fixed(64));

    let d = scenarios::load("default", &[]).unwrap();
    assert_eq!(d.config.machine.cpus, 8);
    assert_eq!(d.config.host.io_cpus, 2);
    assert_eq!(d.config.host.migration_probability, 0.0);
    assert_eq!(
        (d.config.stop.ios, d.config.stop.warmup_ios),
        (20_000, 2_000)
    );
    assert_eq!(d.policy_names(), ["global", "percpu"]);
    assert_eq!(d.config.guests.len(), 2);
    for g in &d.config.guests {
        assert_eq!(g.pattern, Pattern::Closed);
        assert_eq!(g.queue_depth, 8);
        assert_eq!(g.size_bytes, SizeSpec::Fixed(4096));
        assert_eq!(g.read_fraction, 0.5);
    }

    let b = scenarios::load("blkif", &[]).unwrap();
    assert_eq!(
        (
            b.config.machine.cpus,
            b.config.host.io_cpus,
            b.config.guests.len()
        ),
        (16, 4, 4)
    );
    for g in &b.config.guests {
        assert_eq!(g.queue_depth, 32);
        assert_eq!(
            g.size_bytes,
            SizeSpec::Uniform {
                min: 4096,
                max: 11 * 4096,
                align: 4096
            }
        );
        assert_eq!(g.read_fraction, 0.7);
    }

    let n = scenarios::load("netif", &[]).unwrap();
    assert_eq!(
        (
            n.config.machine.cpus,
            n.config.host.io_cpus,
            n.config.guests.len()
        ),
        (8, 4, 4)
    );
    assert_eq!(n.config.host.touch, Touch::Line);
    for g in &n.config.guests {
        assert_eq!(g.pattern, Pattern::Open);
        assert_eq!(g.rate_iops, 250_000.0);
        assert_eq!(
            g.size_bytes,
            SizeSpec::Choice {
                values: vec![64, 576, 1500],
                weights: vec![0.5, 0.2, 0.3]
            }
        );
    }

    let l = scenarios::load("large", &[]).unwrap();
    assert_eq!(
        (
            l.config.machine.cpus,
            l.config.host.io_cpus,
            l.config.guests.len()
        ),
        (64, 8, 8)
    );
    assert!(l
        .config
        .guests
        .iter()
        .all(|g| g.queue_depth == 16 && g.size_bytes == SizeSpec::Fixed(4096)));
    assert_eq!(l.config.stop.ios, 20_000);

    // migration and vm-host start from the previous default.
    let d = scenarios::load("fixed-baseline", &[]).unwrap();
    let m = scenarios::load("migration", &[]).unwrap();
    assert_eq!(m.config.host.migration_probability, 0.2);
    assert_eq!(m.policy_names(), ["global", "percpu", "percpu-unsafe"]);
    assert_eq!(
        m.config.guests, d.config.guests,
        "inherits the default guests"
    );

    let v = scenarios::load("vm-host", &[]).unwrap();
    assert_eq!(v.config.costs, cpu_model::CostTable::host_domain_in_vm());
    assert_eq!(v.config.machine, d.config.machine);
    assert_ne!(v.hash, d.hash);
}

#[test]
fn resolve_name_prefers_bundled_unless_a_path() {
    assert!(
        matches!(scenarios::resolve_name("default"), Ok(scenarios::ScenarioSource::Bundled(b)) if b.name == "default")
    );
    assert!(matches!(
        scenarios::resolve_name("default.toml"),
        Ok(scenarios::ScenarioSource::File(_))
    ));
    assert!(matches!(
        scenarios::resolve_name("./default"),
        Ok(scenarios::ScenarioSource::File(_))
    ));
    let e = scenarios::resolve_name("nope").unwrap_err();
    let text = e.to_string();
    for b in scenarios::bundled() {
        assert!(text.contains(b.name), "{text}");
    }
    assert!(matches!(
        e,
        scenarios::ScenarioError::UnknownScenario { .. }
    ));
}
