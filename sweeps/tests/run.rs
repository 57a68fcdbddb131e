//! Running sweeps through the library: results that do not depend on the
//! number of threads, shards that merge into the files of one run, resumed
//! runs that skip finished points.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{assert_same_files, resolve, run, SWEEP};

#[test]
fn jobs_do_not_change_results() {
    let tmp = tempfile::tempdir().unwrap();
    let s = resolve(SWEEP);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let oa = run(&s, &a, 1, "1/1");
    run(&s, &b, 2, "1/1");
    assert!(oa.assembled);
    assert_eq!((oa.counts.total, oa.counts.pending), (12, 12));
    assert_same_files(&a, &b);
    let csv = std::fs::read_to_string(a.join("sweep.csv")).unwrap();
    assert!(
        csv.starts_with("machine.cpus,policy,seed,io_completed,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 13);
}

#[test]
fn shards_merge_into_the_files_of_an_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    let s = resolve(SWEEP);
    let all = tmp.path().join("all");
    run(&s, &all, 2, "1/1");
    let shards: Vec<_> = (1..=3).map(|i| tmp.path().join(format!("s{i}"))).collect();
    for (i, d) in shards.iter().enumerate() {
        let o = run(&s, d, 1, &format!("{}/3", i + 1));
        assert!(
            !o.assembled && !d.join("sweep.csv").exists(),
            "a shard writes only points"
        );
        assert_eq!(o.counts.total, 4);
    }
    let merged = tmp.path().join("merged");
    let m = sweeps::merge(&shards, &merged).unwrap();
    assert_eq!(m.copied, 12);
    assert_same_files(&all, &merged);
    // Into one of the shards' own directories, too.
    sweeps::merge(&shards, &shards[0]).unwrap();
    assert_same_files(&all, &shards[0]);

    // Missing shards are named; other sweeps' shards refuse to merge.
    let e = sweeps::merge(&shards[1..2], &tmp.path().join("partial")).unwrap_err();
    assert!(
        e.to_string()
            .contains("8 of 12 simulations have no point file"),
        "{e}"
    );
    let other = tmp.path().join("other");
    run(
        &resolve(&SWEEP.replace("[2, 4, 8]", "[2, 4]")),
        &other,
        1,
        "1/2",
    );
    let e = sweeps::merge(&[shards[1].clone(), other], &tmp.path().join("x")).unwrap_err();
    assert!(matches!(e, sweeps::SweepError::PlanMismatch { .. }), "{e}");
}

#[test]
fn a_rerun_skips_finished_points_and_redoes_lost_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let s = resolve(SWEEP);
    let dir = tmp.path().join("a");
    run(&s, &dir, 2, "1/1");
    let before = common::files(&dir);
    let store = sweeps::PointStore::new(&dir);
    std::fs::remove_file(store.path(&s.plan.jobs[0].hash)).unwrap();
    // A point file of another version, or a torn one, is redone too.
    std::fs::write(
        store.path(&s.plan.jobs[5].hash),
        "{\"tlbsim_version\": \"0.0.0\"",
    )
    .unwrap();
    let calls = AtomicUsize::new(0);
    let counting = |sc: &scenarios::Scenario| {
        calls.fetch_add(1, Ordering::Relaxed);
        common::simulate(sc)
    };
    let o = sweeps::run(
        &s,
        &dir,
        &sweeps::RunOptions {
            jobs: 2,
            ..Default::default()
        },
        counting,
        &(),
    )
    .unwrap();
    assert_eq!((o.counts.skipped, o.counts.pending), (10, 2));
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    assert_eq!(common::files(&dir), before);
    let o = run(&s, &dir, 1, "1/1");
    assert_eq!((o.counts.skipped, o.counts.pending), (12, 0));
}

#[derive(Debug, thiserror::Error)]
#[error("boom")]
struct Boom;

#[test]
fn a_failed_simulation_names_its_job_and_writes_no_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let s = resolve(SWEEP);
    let fail_at_8_cpus = |sc: &scenarios::Scenario| {
        if sc.config.machine.cpus == 8 {
            Err(Boom)
        } else {
            Ok(common::simulate(sc).unwrap())
        }
    };
    let opts = sweeps::RunOptions {
        jobs: 1,
        ..Default::default()
    };
    let e = sweeps::run(&s, tmp.path(), &opts, fail_at_8_cpus, &())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("simulating grid point 2 (8), policy "), "{e}");
    assert!(e.ends_with(": boom"), "{e}");
    assert!(!tmp.path().join("sweep.csv").exists());
}
