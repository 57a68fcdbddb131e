//! The CLI end to end, as a user runs it: the contract's commands, files and
//! error messages.

use std::path::Path;
mod common;
use common::{text, tlbsim};

const SMALL: [&str; 4] = ["--set", "stop.ios=1500", "--set", "stop.warmup_ios=150"];

#[test]
fn scenarios_lists_name_then_description() {
    let out = tlbsim(&["scenarios"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    let names: Vec<&str> = s
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    for want in ["default", "blkif", "netif", "large", "migration"] {
        assert!(names.contains(&want), "{want} missing from:\n{s}");
    }
    assert!(
        s.lines().all(|l| l.split_whitespace().count() > 1),
        "every line has a description:\n{s}"
    );
}

#[test]
fn run_writes_identical_summaries_and_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for d in [&a, &b] {
        let mut args = vec!["run", "default", "--out", d.to_str().unwrap()];
        args.extend(SMALL);
        let out = tlbsim(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("IPIs per I/O"));
    }
    let sa = std::fs::read(a.join("summary.json")).unwrap();
    assert_eq!(
        sa,
        std::fs::read(b.join("summary.json")).unwrap(),
        "byte-identical summary.json"
    );
    assert_eq!(
        std::fs::read(a.join("summary.csv")).unwrap(),
        std::fs::read(b.join("summary.csv")).unwrap()
    );
    let v: serde_json::Value = serde_json::from_slice(&sa).unwrap();
    for k in ["tlbsim_version", "scenario", "seed", "runs"] {
        assert!(v.get(k).is_some(), "{k}");
    }
    let run = &v["runs"][0];
    for path in [
        "/policy",
        "/io/completed",
        "/io/bytes",
        "/sim_cycles",
        "/throughput/iops",
        "/latency_cycles/p50",
        "/latency_cycles/p999",
        "/ipis/sent",
        "/ipis/received",
        "/flushes/local_page",
        "/flushes/local_full",
        "/flushes/remote",
        "/tlb/lookups",
        "/tlb/hits",
        "/tlb/misses",
        "/tlb/walks",
        "/hypercalls",
        "/stale_uses",
        "/stolen_cycles",
        "/per_cpu/0/cpu",
        "/per_cpu/0/busy_cycles",
        "/per_cpu/0/stolen_cycles",
        "/per_cpu/0/ipis_received",
        "/per_cpu/0/tlb_misses",
    ] {
        assert!(run.pointer(path).is_some(), "summary.json lacks {path}");
    }
    assert_eq!(run["io"]["completed"], 1500);
    let engine: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("engine.json")).unwrap()).unwrap();
    for k in [
        "events",
        "wall_seconds",
        "events_per_second",
        "peak_rss_bytes",
    ] {
        assert!(engine.get(k).is_some(), "engine.json lacks {k}");
    }
    assert!(
        !text(&sa).contains("wall"),
        "nothing host-dependent in summary.json"
    );
}

#[test]
fn json_flag_prints_summary_and_jobs_do_not_change_it() {
    let mut one = vec!["run", "migration", "--json", "--jobs", "1", "--seed", "7"];
    one.extend(SMALL);
    let mut two = one.clone();
    two[4] = "3";
    let a = tlbsim(&one);
    let b = tlbsim(&two);
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["seed"], 7);
    let policies: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["policy"].as_str().unwrap())
        .collect();
    assert_eq!(policies, ["global", "percpu", "percpu-unsafe"]);
}

#[test]
fn policies_all_runs_every_registered_policy() {
    let mut args = vec!["run", "default", "--json", "--policies", "all"];
    args.extend(SMALL);
    let out = tlbsim(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ran: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["policy"].as_str().unwrap())
        .collect();
    let registered: Vec<&str> = hypervisor::Registry::builtin()
        .iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(ran, registered);
}

#[test]
fn every_bundled_scenario_runs_every_policy_safe_ones_never_stale_unsafe_ones_somewhere() {
    let registry = hypervisor::Registry::builtin();
    let mut unsafe_stale = std::collections::BTreeMap::new();
    for scenario in scenarios::bundled() {
        let mut args = vec!["run", scenario.name, "--json", "--policies", "all"];
        args.extend(SMALL);
        let out = tlbsim(&args);
        assert!(
            out.status.success(),
            "{}: {}",
            scenario.name,
            text(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let runs = v["runs"].as_array().unwrap();
        assert_eq!(runs.len(), registry.iter().count(), "{}", scenario.name);
        for run in runs {
            let name = run["policy"].as_str().unwrap();
            let stale = run["stale_uses"].as_u64().unwrap();
            if registry.get(name).unwrap().unsafe_variant {
                *unsafe_stale.entry(name.to_string()).or_insert(0) += stale;
            } else {
                assert_eq!(stale, 0, "{name} on {}", scenario.name);
            }
        }
    }
    // percpu-early-reuse overwrites slots of I/Os still in flight; with
    // blkback's DMA (no CPU access to the data) nothing reads through the
    // reused slot, so it cannot go stale on `blkback-async` as bundled. A
    // backend that copies the data (touch = line) does read through it.
    let mut args = vec![
        "run",
        "blkback-async",
        "--json",
        "--policies",
        "percpu,percpu-early-reuse",
        "--set",
        "host.touch=line",
    ];
    args.extend(SMALL);
    let out = tlbsim(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs[0]["stale_uses"].as_u64(), Some(0), "percpu, copying");
    *unsafe_stale
        .entry("percpu-early-reuse".to_string())
        .or_insert(0) += runs[1]["stale_uses"].as_u64().unwrap();
    // Each broken variant goes stale on some bundled scenario (which
    // depends on the step it leaves out: migration for percpu-unsafe and
    // epoch-unsafe, reuse before the flush for batched-unsafe, reuse of a
    // slot in flight for percpu-early-reuse).
    assert!(unsafe_stale.len() >= 3, "{unsafe_stale:?}");
    for (name, stale) in &unsafe_stale {
        assert!(*stale > 0, "{name} never went stale: {unsafe_stale:?}");
    }
}

#[test]
fn policies_flag_selects_and_validates() {
    let mut args = vec!["run", "default", "--json", "--policies", "percpu"];
    args.extend(SMALL);
    let out = tlbsim(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 1);
    let bad = tlbsim(&["run", "default", "--policies", "nope"]);
    assert!(!bad.status.success());
    let err = text(&bad.stderr);
    assert!(
        err.contains("nope") && err.contains("percpu-unsafe"),
        "{err}"
    );
}

#[test]
fn malformed_scenario_names_file_line_and_key_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "extends = \"default\"\n\n[host]\nio_cpus = 2\nmigration_probability = 1.5\n\n[[guests]]\nqueue_depth = 0\nbogus = 1\n",
    )
    .unwrap();
    let out = tlbsim(&["run", p.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.contains("bad.toml:5") && err.contains("host.migration_probability"),
        "{err}"
    );
    assert!(
        err.contains("bad.toml:9") && err.contains("guests.0.bogus"),
        "{err}"
    );
    assert!(err.contains("guests.0.queue_depth"), "{err}");
}

#[test]
fn missing_scenario_is_a_clear_error() {
    let out = tlbsim(&["run", "no-such-scenario"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no-such-scenario") && err.contains("default"),
        "{err}"
    );
    let out = tlbsim(&["run", "/nonexistent/x.toml"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("/nonexistent/x.toml"));
}

#[test]
fn set_overrides_reach_the_model() {
    let mut args = vec![
        "run",
        "fixed-baseline",
        "--json",
        "--set",
        "machine.cpus=4",
        "--policies",
        "global",
    ];
    args.extend(SMALL);
    let out = tlbsim(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["runs"][0]["ipis"]["per_io"], 3.0,
        "4 CPUs: 3 IPIs per I/O"
    );
}

#[test]
fn out_dir_is_created_and_has_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("nested/out");
    let mut args = vec!["run", "default", "--out", out_dir.to_str().unwrap()];
    args.extend(SMALL);
    assert!(tlbsim(&args).status.success());
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    assert!(Path::new(&out_dir.join("scenario.toml")).exists());
}

#[test]
fn policies_lists_every_registered_policy_with_its_source_and_parameters() {
    let out = tlbsim(&["policies"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    for p in hypervisor::Registry::builtin().iter() {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(p.name) && l.ends_with(p.summary)
                    || l.starts_with(p.name) && l.contains(&format!("{} [", p.summary))),
            "{} missing:\n{stdout}",
            p.name
        );
        assert!(stdout.contains(p.stands_for), "{}: no source", p.name);
        for param in p.params {
            assert!(
                stdout.contains(&format!(
                    "policy.{}.{} = {}",
                    p.name, param.name, param.default
                )),
                "{}.{} missing",
                p.name,
                param.name
            );
        }
    }
    assert!(stdout.contains("[deliberately unsafe]"));
}
