//! Error reporting: everything at once, located; never a panic.

mod common;
use common::{s, write};

use scenarios::ScenarioError;

const BAD: &str = r#"description = "three problems"
seed = 1

[machine]
cpus = 8
frequency_gz = 3.0

[host]
io_cpus = "two"

[[guests]]
queue_depth = 0
"#;

#[test]
fn unknown_key_wrong_type_and_validation_problem_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "my.toml", BAD);
    let e = scenarios::load(s(&p), &[]).unwrap_err();
    let file = p.display().to_string();
    let lines: Vec<String> = e.to_string().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{e}");
    assert!(
        lines[0].starts_with(&format!(
            "{file}:6: machine.frequency_gz: unknown field `frequency_gz`, expected one of"
        )),
        "{e}"
    );
    assert!(
        lines[0].contains("`frequency_ghz`"),
        "says what is allowed: {e}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "{file}:9: host.io_cpus: invalid type: string \"two\", expected u32"
        )),
        "{e}"
    );
    assert_eq!(
        lines[2],
        format!("{file}:12: guests.0.queue_depth: must be at least 1 for a closed-loop guest")
    );
    let problems = e.problems();
    assert_eq!(problems[2].line, Some(12));
    assert_eq!(problems[2].key, "guests.0.queue_depth");
}

#[test]
fn many_problems_across_sections() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "many.toml",
        "bogus = 1\npolicies = [\"global\", \"nope\", \"global\"]\n[costs]\npreset = \"cloud\"\nfoo = 2\n[stop]\nios = -1\n[[guests]]\nsize_bytes = { min = 1 }\nread_fraction = 2.0\n[[guests]]\npattern = \"sideways\"\n",
    );
    let e = scenarios::load(s(&p), &[]).unwrap_err();
    let text = e.to_string();
    let keys: Vec<&str> = e.problems().iter().map(|d| d.key.as_str()).collect();
    for k in [
        "bogus",
        "policies.1",
        "policies.2",
        "costs.preset",
        "costs.foo",
        "stop.ios",
        "guests.0.size_bytes",
        "guests.0.read_fraction",
        "guests.1.pattern",
    ] {
        assert!(keys.contains(&k), "missing {k} in:\n{text}");
    }
    assert!(
        text.contains("many.toml:4: costs.preset: must be \"bare-metal\", \"kvm-guest\", \"kvm-guest-posted\", \"xen-pv-dom0\", \"vm\" or \"xen-pvh-dom0\""),
        "{text}"
    );
    assert!(text.contains("many.toml:1: bogus: unknown field"), "{text}");
    assert!(text.contains("many.toml:12: guests.1.pattern: unknown variant `sideways`, expected one of `open`, `closed`, `trace`"), "{text}");
    // Sorted by line within the file.
    let lines: Vec<usize> = e.problems().iter().filter_map(|d| d.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{text}");
}

#[test]
fn cost_problems_point_at_the_cost_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "c.toml",
        "[costs]\nack_cycles = 5\nhypercall_cycles = 0\n",
    );
    let text = scenarios::load(s(&p), &[]).unwrap_err().to_string();
    assert!(
        text.ends_with("c.toml:3: costs.hypercall_cycles: must be at least 1 cycle"),
        "{text}"
    );
}

/// The halted-target kick: a located error past the cost bound or below
/// zero, and the key reaches the cost table.
#[test]
fn halted_target_kick_is_checked_and_set() {
    let dir = tempfile::tempdir().unwrap();
    for (value, message) in [
        ("10000000001", "at most 10000000000 cycles"),
        ("-1", "invalid value"),
    ] {
        let p = write(
            dir.path(),
            "k.toml",
            &format!("[costs]\npreset = \"kvm-guest\"\nipi_send_halted_target_cycles = {value}\n"),
        );
        let text = scenarios::load(s(&p), &[]).unwrap_err().to_string();
        assert!(
            text.contains("k.toml:3: costs.ipi_send_halted_target_cycles: ")
                && text.contains(message),
            "{text}"
        );
    }
    let p = write(
        dir.path(),
        "ok.toml",
        "[costs]\npreset = \"kvm-guest\"\nipi_send_halted_target_cycles = 7\n",
    );
    let sc = scenarios::load(s(&p), &[]).unwrap();
    assert_eq!(sc.config.costs.ipi_send_halted_target_cycles, 7);
    // The preset's own value when the key is absent; bare metal has none.
    let p = write(dir.path(), "kvm.toml", "[costs]\npreset = \"kvm-guest\"\n");
    let sc = scenarios::load(s(&p), &[]).unwrap();
    assert_eq!(sc.config.costs.ipi_send_halted_target_cycles, 5_825);
    let p = write(dir.path(), "bare.toml", "seed = 1\n");
    let sc = scenarios::load(s(&p), &[]).unwrap();
    assert_eq!(sc.config.costs.ipi_send_halted_target_cycles, 0);
}

#[test]
fn every_cost_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "c.toml",
        "[costs]\ndata_line_cycles = 0\nhypercall_cycles = 0\nipi_delivery_cycles = 0\n",
    );
    let e = scenarios::load(s(&p), &[]).unwrap_err();
    let found: Vec<(Option<usize>, &str, &str)> = e
        .problems()
        .iter()
        .map(|d| (d.line, d.key.as_str(), d.message.as_str()))
        .collect();
    let at_least_1 = "must be at least 1 cycle";
    assert_eq!(
        found,
        [
            (Some(2), "costs.data_line_cycles", at_least_1),
            (Some(3), "costs.hypercall_cycles", at_least_1),
            (Some(4), "costs.ipi_delivery_cycles", at_least_1),
        ],
        "{e}"
    );
}

#[test]
fn syntax_error_reports_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "broken.toml",
        "seed = 1\n\n[machine\ncpus = 4\n",
    );
    let e = scenarios::load(s(&p), &[]).unwrap_err();
    assert!(matches!(&e, ScenarioError::Syntax { line: 3, .. }), "{e}");
    assert!(
        e.to_string().starts_with(&format!("{}:3:", p.display())),
        "{e}"
    );

    let p = write(dir.path(), "dup.toml", "seed = 1\nseed = 2\n");
    assert!(matches!(
        scenarios::load(s(&p), &[]),
        Err(ScenarioError::Syntax { line: 2, .. })
    ));
}

#[test]
fn missing_file_names_the_path() {
    let e = scenarios::load("/nonexistent/dir/scenario.toml", &[]).unwrap_err();
    assert!(matches!(e, ScenarioError::Read { .. }));
    assert!(
        e.to_string().contains("/nonexistent/dir/scenario.toml"),
        "{e}"
    );
}

#[test]
fn unknown_bundled_name_lists_the_available_ones() {
    let e = scenarios::load("nosuchscenario", &[]).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("nosuchscenario"));
    for b in scenarios::bundled() {
        assert!(text.contains(b.name), "{text}");
    }
}

#[test]
fn json_scenarios_load_and_report_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "j.json",
        r#"{
  "extends": "default",
  "policies": ["percpu"],
  "machine": { "cpus": 4 },
  "guests": [
    { "queue_depth": 2, "size_bytes": { "values": [512, 4096] } }
  ]
}"#,
    );
    let sc = scenarios::load(s(&p), &[]).unwrap();
    assert_eq!(sc.name, "j");
    assert_eq!(sc.config.machine.cpus, 4);
    assert_eq!(sc.config.stop.warmup_ios, 2000, "inherited from default");
    assert_eq!(sc.config.guests.len(), 1);
    assert_eq!(
        sc.config.guests[0].size_bytes,
        workloads::SizeSpec::Choice {
            values: vec![512, 4096],
            weights: vec![]
        }
    );

    let bad = write(
        dir.path(),
        "bad.json",
        "{\n  \"machine\": {\n    \"cpus\": 0,\n    \"x\": 1\n  }\n}",
    );
    let text = scenarios::load(s(&bad), &[]).unwrap_err().to_string();
    assert!(
        text.contains("bad.json:4: machine.x: unknown field"),
        "{text}"
    );
    assert!(
        text.contains("bad.json:3: machine.cpus: must be within"),
        "{text}"
    );

    let broken = write(dir.path(), "broken.json", "{\n  \"seed\": ,\n}");
    assert!(matches!(
        scenarios::load(s(&broken), &[]),
        Err(ScenarioError::Syntax { line: 2, .. })
    ));
}

#[test]
fn garbage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = [
        "",
        "guests = 3",
        "guests = [1, \"x\", []]",
        "machine = 5",
        "[machine.tlb]\nl1 = { entries = 0, ways = 0 }\nl2 = true",
        "[machine.tlb]\nl1 = 7",
        "costs = { preset = 1 }",
        "seed = 1979-05-27",
        "stop = { ios = 0 }",
        "policies = []",
        "description = 3",
        "[[guests]]\nsize_bytes = { values = [], weights = [1.0] }\n[[guests]]\nsize_bytes = -1",
        "x.y.z = { a = [ { b = 1 } ] }",
    ];
    for (i, text) in inputs.iter().enumerate() {
        let p = write(dir.path(), &format!("g{i}.toml"), text);
        let r = scenarios::load(
            s(&p),
            &[
                "guests.0.queue_depth=1".to_string(),
                "a.b.c=".to_string(),
                "=".to_string(),
            ],
        );
        if let Err(e) = r {
            assert!(!e.to_string().is_empty());
        }
    }
    let empty = write(dir.path(), "empty.toml", "");
    let sc = scenarios::load(s(&empty), &[]).unwrap();
    assert_eq!(
        sc.config,
        machine::SimConfig::default(),
        "an empty file is all defaults"
    );
}

#[test]
fn policy_parameters_are_checked_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(
        &path,
        "[policy.global]\nflush = \"sideways\"\nlazy = true\n\n[policy.percpu]\nslots_per_cpu = 2\n\n[[guests]]\nsize_bytes = 16384\n",
    )
    .unwrap();
    let e = scenarios::load(path.to_str().unwrap(), &[])
        .unwrap_err()
        .to_string();
    let f = path.display().to_string();
    assert!(
        e.contains(&format!(
            "{f}:2: policy.global.flush: must be one of \"full\", \"range\", got \"sideways\""
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{f}:3: policy.global.lazy: unknown parameter of policy `global`"
        )),
        "{e}"
    );
    assert!(
        e.contains(&format!(
            "{f}:6: policy.percpu.slots_per_cpu: must hold the largest request (4 pages), got 2"
        )),
        "{e}"
    );
}

#[test]
fn moved_host_knobs_name_their_new_key() {
    let e = scenarios::load("default", &["host.lazy_tlb=true".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "--set: host.lazy_tlb: is a policy parameter now: set policy.global.lazy_tlb instead"
        ),
        "{e}"
    );
    let e = scenarios::load("default", &["policy.nope.x=1".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("policy.nope: unknown policy `nope`"), "{e}");
}

#[test]
fn numbers_out_of_their_documented_range_are_located_errors() {
    for (set, want) in [
        (
            "machine.frequency_ghz=1e300",
            "--set: machine.frequency_ghz: must be within 0.1..=10 GHz, got 1e300",
        ),
        (
            "guests.0.queue_depth=100000000",
            "--set: guests.0.queue_depth: must be at most 65536",
        ),
        (
            "guests.0.rate_iops=1e12",
            "--set: guests.0.rate_iops: must be at most",
        ),
        (
            "guests.0.size_bytes=4294967296",
            "--set: guests.0.size_bytes: requests must be at most",
        ),
        (
            "stop.ios=10000000000",
            "--set: stop.ios: must be at most 1000000000",
        ),
        (
            "background.working_set_pages=4000000000",
            "--set: background.working_set_pages",
        ),
        (
            "vcpu.overcommit=0",
            "--set: vcpu.overcommit: must be within 1..=64 vCPUs per physical CPU, got 0",
        ),
        (
            "vcpu.tenant_load=2",
            "--set: vcpu.tenant_load: must be within 0..=1",
        ),
        (
            "vcpu.pv_tlb_flush=\"on\"",
            "--set: vcpu.pv_tlb_flush: needs vcpu.overcommit > 1",
        ),
        (
            "idle.host_wake_us=-1",
            "--set: idle.host_wake_us: must be within 0..=1000000 us",
        ),
    ] {
        let e = scenarios::load("default", &[set.to_string()])
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{set}: {e}");
    }
}

#[test]
fn io_path_problems_are_located_and_a_default_io_section_keeps_the_hash() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "io.toml",
        "[io]\nasynchronous = true\nring_slots = 0\nmap_lock_kind = \"bogus\"\n",
    );
    let text = scenarios::load(s(&p), &[]).unwrap_err().to_string();
    assert!(
        text.contains("io.toml:3: io.ring_slots: must be within 1..=65536, got 0"),
        "{text}"
    );
    assert!(
        text.contains("io.toml:4: io.map_lock_kind: unknown variant `bogus`"),
        "{text}"
    );
    // `[io]` written out at its defaults hashes like no `[io]` at all, and
    // any non-default key changes the hash.
    let plain = write(dir.path(), "plain.toml", "seed = 1\n");
    let explicit = write(
        dir.path(),
        "explicit.toml",
        "seed = 1\n[io]\nasynchronous = false\nring_slots = 32\n",
    );
    let on = write(
        dir.path(),
        "on.toml",
        "seed = 1\n[io]\nasynchronous = true\n",
    );
    let hash = |p: &std::path::Path| scenarios::load(s(p), &[]).unwrap().hash;
    assert_eq!(hash(&plain), hash(&explicit));
    assert_ne!(hash(&plain), hash(&on));
}

#[test]
fn distribution_problems_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "v.toml",
        "[variability.costs]\nipi_handler_cycles = { dist = \"lognormal\", cv = -1.0 }\nack_cycles = { dist = \"gamma\" }\nwalk_level_cycles = \"exponential\"\n[variability.irq_off]\nprobability = 1.5\n",
    );
    let e = scenarios::load(s(&p), &[]).unwrap_err();
    let text = e.to_string();
    let found: Vec<(Option<usize>, &str)> = e
        .problems()
        .iter()
        .map(|d| (d.line, d.key.as_str()))
        .collect();
    for want in [
        (Some(2), "variability.costs.ipi_handler_cycles"),
        (Some(3), "variability.costs.ack_cycles"),
        (Some(4), "variability.costs.walk_level_cycles"),
        (Some(6), "variability.irq_off.probability"),
    ] {
        assert!(found.contains(&want), "missing {want:?} in:\n{text}");
    }
    assert!(text.contains("lognormal cv must be within"), "{text}");
    // A per-access cost cannot vary: the error says which can.
    assert!(text.contains("unknown field `walk_level_cycles`"), "{text}");
}

#[test]
fn distributions_parse_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "v.toml",
        "[host]\nprocess_cycles = 100\nprocess_distribution = { dist = \"uniform\", spread = 0.5 }\n[variability.costs]\nipi_handler_cycles = { dist = \"lognormal\", cv = 0.5 }\nack_cycles = \"exponential\"\n",
    );
    let sc = scenarios::load(s(&p), &[]).unwrap();
    let v = &sc.config.variability.costs;
    assert_eq!(
        v.ipi_handler_cycles,
        machine::Distribution::Lognormal { cv: 0.5 }
    );
    assert_eq!(v.ack_cycles, machine::Distribution::Exponential);
    assert_eq!(v.invlpg_cycles, machine::Distribution::Fixed);
    assert_eq!(
        sc.config.host.process_distribution,
        machine::Distribution::Uniform { spread: 0.5 }
    );
}

#[test]
fn scope_keys_parse_and_bad_values_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "g.toml",
        "[host]\nshootdown_scope = \"mm-cpumask\"\nmigration_level = \"thread\"\nother_domain_flushes_per_sec = 1000.0\nlocal_flush_before_lock = true\n",
    );
    let sc = scenarios::load(s(&good), &[]).unwrap();
    assert_eq!(
        sc.config.host.shootdown_scope,
        machine::ShootdownScope::MmCpumask
    );
    assert_eq!(
        sc.config.host.migration_level,
        machine::MigrationLevel::Thread
    );
    assert!(sc.config.host.local_flush_before_lock);
    let bad = write(
        dir.path(),
        "b.toml",
        "[host]\nshootdown_scope = \"everyone\"\nother_domain_flushes_per_sec = -1.0\n",
    );
    let text = scenarios::load(s(&bad), &[]).unwrap_err().to_string();
    assert!(
        text.contains("b.toml:2: host.shootdown_scope: unknown variant `everyone`"),
        "{text}"
    );
}

#[test]
fn a_negative_other_domain_rate_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "r.toml",
        "[host]\nother_domain_flushes_per_sec = -1.0\n",
    );
    let text = scenarios::load(s(&bad), &[]).unwrap_err().to_string();
    assert!(
        text.contains("r.toml:2: host.other_domain_flushes_per_sec: must be within"),
        "{text}"
    );
}

#[test]
fn map_lock_steal_is_read_keeps_the_hash_when_off_and_a_bad_value_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain.toml", "seed = 1\n");
    let off = write(
        dir.path(),
        "off.toml",
        "seed = 1\n[host]\nmap_lock_steal = false\n",
    );
    let on = write(
        dir.path(),
        "on.toml",
        "seed = 1\n[host]\nmap_lock_steal = true\n",
    );
    let load = |p: &std::path::Path| scenarios::load(s(p), &[]).unwrap();
    assert!(load(&on).config.host.map_lock_steal);
    assert!(!load(&off).config.host.map_lock_steal);
    assert_eq!(load(&plain).hash, load(&off).hash);
    assert_ne!(load(&plain).hash, load(&on).hash);
    let bad = write(dir.path(), "bad.toml", "[host]\nmap_lock_steal = 1\n");
    let text = scenarios::load(s(&bad), &[]).unwrap_err().to_string();
    assert!(text.contains("bad.toml:2: host.map_lock_steal"), "{text}");
}

#[test]
fn backend_threads_per_cpu_problems_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "threads.toml",
        "[io]\nthreads_per_cpu = 2\nswitch_cycles = 20000000000\n",
    );
    let text = scenarios::load(s(&p), &[]).unwrap_err().to_string();
    assert!(
        text.contains("threads.toml:2: io.threads_per_cpu: above 1 needs io.asynchronous = true"),
        "{text}"
    );
    assert!(
        text.contains("threads.toml:3: io.switch_cycles: must be at most"),
        "{text}"
    );
    let p = write(
        dir.path(),
        "migrate.toml",
        "[host]\nmigration_probability = 0.1\n[io]\nasynchronous = true\nthreads_per_cpu = 2\n",
    );
    let text = scenarios::load(s(&p), &[]).unwrap_err().to_string();
    assert!(
        text.contains(
            "migrate.toml:5: io.threads_per_cpu: above 1 needs host.migration_probability = 0"
        ),
        "{text}"
    );
}

#[test]
fn background_model_is_read_changes_the_hash_and_a_bad_value_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let exact = write(
        dir.path(),
        "exact.toml",
        "seed = 1\n[background]\nmodel = \"exact\"\n",
    );
    let curve = write(
        dir.path(),
        "curve.toml",
        "seed = 1\n[background]\nmodel = \"curve\"\n",
    );
    let plain = write(dir.path(), "plain.toml", "seed = 1\n");
    let load = |p: &std::path::Path| scenarios::load(s(p), &[]).unwrap();
    assert_eq!(
        load(&exact).config.background.model,
        machine::BackgroundModel::Exact
    );
    assert_eq!(
        load(&plain).config.background.model,
        machine::BackgroundModel::Curve,
        "the curve model is the default"
    );
    assert_eq!(load(&plain).hash, load(&curve).hash);
    assert_ne!(load(&exact).hash, load(&curve).hash);
    let bad = write(dir.path(), "bad.toml", "[background]\nmodel = \"fast\"\n");
    let text = scenarios::load(s(&bad), &[]).unwrap_err().to_string();
    assert!(
        text.contains(
            "bad.toml:2: background.model: unknown variant `fast`, expected `exact` or `curve`"
        ),
        "{text}"
    );
}
