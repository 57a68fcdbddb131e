//! Two checkouts of tlbsim in different folders write the same `plan.json`
//! for a sweep of the bundled `fio-replay` scenario (whose trace lives in
//! the repository), and their shards merge. The two checkouts are two
//! folders holding a copy of the repository's trace, made the repository
//! with `scenarios::set_repository_dir` (process-wide, hence this file's
//! one test).

mod common;

use std::path::{Path, PathBuf};

const FIO_SWEEP: &str = r#"
base = "fio-replay"
policies = ["global", "percpu"]

[set]
stop.ios = 300

[axes]
"machine.cpus" = [2, 4]
"#;

/// A folder standing for a checkout: `ROOT/traces/fio-randrw.iolog`.
fn checkout(root: &Path) -> PathBuf {
    let trace = scenarios::trace_file("repo:traces/fio-randrw.iolog");
    std::fs::create_dir_all(root.join("traces")).unwrap();
    std::fs::copy(&trace, root.join("traces/fio-randrw.iolog")).unwrap();
    root.to_path_buf()
}

fn plan_in(repo: &Path) -> sweeps::ResolvedSweep {
    scenarios::set_repository_dir(Some(repo.to_path_buf()));
    common::resolve(FIO_SWEEP)
}

#[test]
fn two_checkouts_plan_the_same_and_their_shards_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let a = checkout(&tmp.path().join("checkout-a"));
    let b = checkout(&tmp.path().join("elsewhere/checkout-b"));

    let sa = plan_in(&a);
    let sb = plan_in(&b);
    let (ja, jb) = (sa.plan.to_json(), sb.plan.to_json());
    assert_eq!(ja, jb, "plan.json differs between two checkouts");
    assert!(sa
        .plan
        .base_toml
        .contains("trace = \"repo:traces/fio-randrw.iolog\""));
    for dir in [&a, &b, &PathBuf::from(env!("CARGO_MANIFEST_DIR"))] {
        let d = dir.parent().unwrap().display().to_string();
        assert!(!ja.contains(&d), "plan.json names {d}");
    }

    // The repository is where the trace is read from: without it there,
    // the sweep does not load.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    scenarios::set_repository_dir(Some(empty));
    let spec = sweeps::SweepSpec::parse("t", "t.toml", FIO_SWEEP, None).unwrap();
    let e = sweeps::ResolvedSweep::new(&spec, &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("guests.0.trace: no trace file"), "{e}");

    // Shard 1/2 in one checkout, 2/2 in the other, merged: the files of an
    // unsharded run.
    let out = tmp.path().join("out");
    let (s1, s2, merged, whole) = (
        out.join("s1"),
        out.join("s2"),
        out.join("m"),
        out.join("all"),
    );
    let sa = plan_in(&a);
    common::run(&sa, &s1, 1, "1/2");
    common::run(&sa, &whole, 2, "1/1");
    let sb = plan_in(&b);
    common::run(&sb, &s2, 1, "2/2");
    sweeps::merge(&[s1, s2], &merged).unwrap();
    common::assert_same_files(&whole, &merged);
    let csv = std::fs::read_to_string(merged.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5);
    scenarios::set_repository_dir(None);
}
